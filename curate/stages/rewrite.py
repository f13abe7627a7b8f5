"""``rewrite``: remove boilerplate through programs, never damaging content.

Two passes per selected document:

1. Document level (presets with a model): ``drop_doc()`` or ``keep_doc()``.
2. Chunk level: the document's lines, numbered globally, are packed into
   chunks by token count; per chunk a program (``remove_lines``,
   ``normalize``, ``keep_chunk``) is parsed with a whitelist and executed (see
   :mod:`curate.rewriting.program`).

Who writes the programs is the ``preset``: ``blocks`` (default, no LM) turns
the decisions of a light line classifier, taken on blocks, into programs
(:mod:`curate.rewriting.block_head`); ``line_lm`` reads per-line decisions from
SmolLM2's log-probabilities; ``instruct`` and ``prox`` let a model write them
(``prox``: ProX's released refining models, prompted as ProX does, their
programs executed as ProX's executor does: :mod:`curate.rewriting.prox_executor`).

Never crash, never lose: prompts are capped in tokens (the model sees a cut
line, the document is untouched); any model failure keeps its documents
unmodified (``fallback``, the error recorded and counted); too many failed
calls keep the original text; a rewrite that leaves at most
``min_kept_fraction`` of the words, or at most ``min_kept_words`` words, drops
the document (``rewrite_emptied``) with its original text, as ``drop_doc()``
does (``rewrite_drop_doc``).

``max_documents`` rewrites a deterministic subset (smallest hashes of
``sample_seed`` and the id); the others pass through unchanged. The stage runs
as a model stage: an actor pool (one model per actor, none for ``blocks``), its
own checkpoint, resumed part by part after a crash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from curate.engine.cluster import assigned_cpus
from curate.lm import LM, Constraint, LMConfig, LMUnavailableError, SamplingParams, load_lm
from curate.rewriting import prompts
from curate.rewriting.block_head import block_removals, default_head
from curate.rewriting.program import Execution, decide_document, execute, word_count
from curate.rewriting.prox_executor import execute_prox
from curate.rewriting.repeats import LineRepeats, document_hashes
from curate.stage import MapStage, ModelStage, Resources, StageParams
from curate.stages.lm_actors import lm_resources
from curate.stages.subset import first_rows, smallest_keys
from curate.stages.subset import selection_key as selection_key
from curate.tables import mark_drops, set_column

STATUS_UNSELECTED = "unselected"
#: prox: share of GPU memory each of the two vLLM engines takes by default (both live in one actor on one GPU;
#: the 0.3B refining models need little beyond their key/value cache)
PROX_GPU_SHARE = 0.4
#: the most both engines may take together: vLLM checks at start-up that its share is free, and the CUDA
#: context of the first engine takes some memory outside its share
MAX_GPU_SHARE = 0.9


class RewriteParams(StageParams):
    lm: LMConfig = Field(default_factory=LMConfig, description="The model and backend (see curate.lm.LMConfig).")
    preset: Literal["blocks", "line_lm", "small", "instruct", "prox"] = Field(
        "blocks", description="blocks (default, no LM): a light classifier over line features removes boilerplate "
                              "blocks, block edges and runs between whole sentences, never cutting a sentence; "
                              "line_lm: SmolLM2 scores each line alone (small is its former name); instruct: a "
                              "general instruct model writes programs; prox: ProX's released refining models, "
                              "prompted as ProX does.")
    doc_lm: LMConfig | None = Field(None, description="Model of the document pass (default: lm); prox: "
                                                      "web-doc-refining-lm, required.")
    block_threshold: float | None = Field(
        None, ge=0, le=1, description="blocks preset: P(boilerplate) from which a run is removed, for every "
                                      "document; default: the values fitted with the shipped classifier, one for "
                                      "web pages converted to text and one for other text "
                                      "(benchmarks/rewrite_eval.py).")
    corpus_repeats: bool = Field(
        True, description="blocks preset: count, in a pass over the whole input before rewriting, in how many "
                          "documents each line occurs (site chrome repeats from page to page); off: count within "
                          "each batch only (cheaper, removes less).")
    prox_chat_template: str = Field(
        prompts.PROX_CHAT_TEMPLATE, description="prox: the prompt around {system} and {user} (Llama-2 chat, as the "
                                                "released models were trained; the tokenizer adds BOS).")
    prox_system: str = Field(prompts.PROX_SYSTEM, description="prox: the system prompt.")
    document_level: bool = Field(True, description="Run the drop_doc()/keep_doc() pass.")
    chunk_level: bool = Field(True, description="Run the line-editing pass.")
    max_documents: int | None = Field(None, ge=0, description="Rewrite at most this many documents (a deterministic "
                                                              "subset); the others pass through unchanged.")
    sample_seed: int = Field(0, description="Seed of the deterministic subset.")
    chunk_tokens: int = Field(1500, gt=0, description="Most model tokens of numbered lines per chunk (ProX: 1500).")
    doc_tokens: int | None = Field(None, gt=0, description="Document-level pass: the document is cut to this many "
                                                           "tokens (default 1024; prox 1900, in a 2048 context).")
    max_line_chars: int = Field(300, gt=0, description="small preset: a line is shown cut to this many characters.")
    line_threshold: float = Field(
        0.67, ge=0, le=1, description="small preset: remove a line when P(boilerplate) reaches this; fitted with "
                                      "benchmarks/rewrite_quality.py --fit (content kept >= 95%).")
    drop_threshold: float = Field(
        0.95, ge=0, le=1, description="small preset: drop the document when P(drop) reaches this.")
    constrained: bool | None = Field(None, description="instruct/prox: constrain decoding with a grammar where "
                                                       "the backend supports one (default: on for instruct, off "
                                                       "for prox, whose models were not trained under one).")
    doc_max_new_tokens: int = Field(16, gt=0, description="instruct/prox: new tokens for the document decision.")
    chunk_max_new_tokens: int = Field(256, gt=0, description="instruct/prox: new tokens per chunk program.")
    temperature: float = Field(0.0, ge=0, description="instruct/prox: sampling temperature (0 = greedy, as ProX).")
    repeat_penalty: float = Field(1.0, gt=0, description="instruct/prox: repetition penalty.")
    max_errors: int = Field(2, ge=1, description="Keep the original text when a document has this many failed calls.")
    min_kept_fraction: float = Field(0.05, ge=0, le=1, description="Drop when at most this share of words remains.")
    min_kept_words: int = Field(10, ge=0, description="Drop when at most this many words remain.")
    min_words: int = Field(50, ge=0, description="Documents with fewer words are not line-edited: a 135M model "
                                                "takes the lines of short texts (quotes, notes) for boilerplate "
                                                "(prox: 0 by default, as ProX chunk-refines every document).")
    keep_original: bool = Field(False, description="Add the original text as column original_text, for audit.")
    num_cpus: float | None = Field(
        None, gt=0, description="CPUs Ray reserves per model actor; default: a whole node's for llamacpp (one "
                                "multi-threaded model per node), 1 for other backends. llamacpp runs as many threads "
                                "as the actor has CPUs unless lm.n_threads says otherwise.")
    num_gpus: float | None = Field(None, ge=0, description="GPUs per model actor; default 1 for vllm, else 0.")
    concurrency: int | None = Field(None, gt=0, description="Model actors; default: as many as the cluster's "
                                                           "CPUs and GPUs hold (e.g. one per GPU).")
    batch_size: int = Field(16, gt=0, description="Documents per batch handed to an actor.")

    @model_validator(mode="before")
    @classmethod
    def _preset_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("preset") == "small":
            data["preset"] = "line_lm"
        if data.get("preset") == "prox":
            data.setdefault("min_words", 0)  # ProX chunk-refines every surviving document
            # the released refining models have a 2,048-token context; with both engines in one actor on one
            # GPU, each takes PROX_GPU_SHARE of its memory (vLLM refuses to start one without its share free)
            both = data.get("doc_lm") is not None and data.get("document_level", True)
            for name in ("lm", "doc_lm"):
                config = data.get(name, {} if name == "lm" else None)
                if config is None:
                    continue
                given = set(config) if isinstance(config, dict) else config.model_fields_set
                update: dict[str, Any] = {} if "max_model_len" in given else {"max_model_len": 2048}
                if both and "gpu_memory_utilization" not in given:
                    update["gpu_memory_utilization"] = PROX_GPU_SHARE
                data[name] = {**config, **update} if isinstance(config, dict) else config.model_copy(update=update)
        return data

    @model_validator(mode="after")
    def _prox_needs_both_models(self) -> RewriteParams:
        if self.preset != "prox" or not self.document_level:
            return self
        if self.doc_lm is None or self.doc_lm.model == self.lm.model:
            raise ValueError(
                "preset prox needs doc_lm, ProX's document model, apart from lm, its chunk model: set e.g. "
                "doc_lm: {backend: vllm, model: /models/web-doc-refining-lm} and lm: {backend: vllm, model: "
                "/models/web-chunk-refining-lm} (the chunk model answers with chunk programs, so it never drops "
                "a document), or document_level: false to skip the document pass")
        if self.lm.backend == self.doc_lm.backend == "vllm" and \
                self.lm.gpu_memory_utilization + self.doc_lm.gpu_memory_utilization > MAX_GPU_SHARE:
            raise ValueError(
                f"preset prox loads both vLLM engines on one GPU: lm.gpu_memory_utilization "
                f"({self.lm.gpu_memory_utilization}) plus doc_lm.gpu_memory_utilization "
                f"({self.doc_lm.gpu_memory_utilization}) must be at most {MAX_GPU_SHARE}; leave both unset "
                f"({PROX_GPU_SHARE} each) or lower them")
        return self

    @property
    def doc_budget(self) -> int:
        return self.doc_tokens or (1900 if self.preset == "prox" else 1024)

    @property
    def grammar(self) -> bool:
        return self.constrained if self.constrained is not None else self.preset != "prox"

    @property
    def needs_lm(self) -> bool:
        return self.preset != "blocks"


OUTPUT_FIELDS = [
    pa.field("rewritten", pa.bool_()),
    pa.field("rewrite_status", pa.string()),
    pa.field("rewrite_doc_program", pa.string()),
    pa.field("rewrite_programs", pa.list_(pa.string())),
    pa.field("rewrite_parse_errors", pa.int32()),
    pa.field("rewrite_exec_errors", pa.int32()),
    pa.field("rewrite_error_log", pa.list_(pa.string())),
    pa.field("rewrite_tokens_in", pa.int64()),
    pa.field("rewrite_tokens_out", pa.int64()),
    pa.field("rewrite_generated_tokens", pa.int64()),
    pa.field("rewrite_backend_error", pa.string()),
    pa.field("rewrite_ignored_calls", pa.int32()),
]


@dataclass
class DocResult:
    status: str
    text: str
    doc_program: str | None = None
    programs: list[str] = field(default_factory=list)
    parse_errors: list[str] = field(default_factory=list)
    exec_errors: list[str] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    generated: int = 0
    backend_error: str | None = None
    words_left: int | None = None
    ignored: int = 0


def backend_fallback(text: str, exc: BaseException) -> DocResult:
    """The result for a document whose model calls failed: the original text, the error recorded."""
    message = f"{type(exc).__name__}: {exc}"[:500]
    return DocResult("fallback", text, backend_error=message, exec_errors=[f"backend: {message}"])


def pack_chunks(token_counts: list[int], budget: int) -> list[tuple[int, int]]:
    """Greedy inclusive line ranges whose token counts sum to at most ``budget`` (a longer line stands alone)."""
    chunks: list[tuple[int, int]] = []
    start, used = 0, 0
    for i, count in enumerate(token_counts):
        if i > start and used + count > budget:
            chunks.append((start, i - 1))
            start, used = i, 0
        used += count
    if token_counts:
        chunks.append((start, len(token_counts) - 1))
    return chunks


class Rewriter:
    """Runs the rewrite over batches with a loaded model; no Ray needed."""

    def __init__(self, params: RewriteParams, lm: LM | None, doc_lm: LM | None = None,
                 repeats: LineRepeats | None = None) -> None:
        if lm is None and params.needs_lm:
            raise ValueError(f"the {params.preset} preset needs a model")
        self.p = params
        self.repeats = repeats  # blocks preset: line counts over the corpus; None: counted over each batch
        self.lm = lm  # the chunk pass's model (and tokenizer)
        self.doc_lm = doc_lm or lm

    # ------------------------------------------------------------ batch
    def process(self, batch: pa.Table, selected: set[str] | None = None) -> pa.Table:
        p = self.p
        texts = batch.column("text").to_pylist()
        ids = batch.column("id").to_pylist()
        chosen = [t is not None and (selected is None or i in selected) for i, t in zip(ids, texts)]
        results: list[DocResult | None] = [None] * len(texts)
        work = [i for i, c in enumerate(chosen) if c]
        if work:
            for i, result in zip(work, self.rewrite([texts[i] for i in work])):
                results[i] = result
        columns: dict[str, list[Any]] = {f.name: [] for f in OUTPUT_FIELDS}
        new_text = []
        for text, result in zip(texts, results):
            if result is None:
                new_text.append(text)
                for name, value in (("rewritten", False), ("rewrite_status", STATUS_UNSELECTED)):
                    columns[name].append(value)
                for name in columns:
                    if name not in ("rewritten", "rewrite_status"):
                        columns[name].append(None)
                continue
            new_text.append(result.text)
            columns["rewritten"].append(True)
            columns["rewrite_status"].append(result.status)
            columns["rewrite_doc_program"].append(result.doc_program)
            columns["rewrite_programs"].append(result.programs)
            columns["rewrite_parse_errors"].append(len(result.parse_errors))
            columns["rewrite_exec_errors"].append(len(result.exec_errors))
            columns["rewrite_error_log"].append(result.parse_errors + result.exec_errors)
            columns["rewrite_tokens_in"].append(result.tokens_in)
            columns["rewrite_tokens_out"].append(result.tokens_out)
            columns["rewrite_generated_tokens"].append(result.generated)
            columns["rewrite_backend_error"].append(result.backend_error)
            columns["rewrite_ignored_calls"].append(result.ignored)
        out = batch
        if p.keep_original:
            out = set_column(out, "original_text", pa.array(texts, pa.string()))
        out = set_column(out, "text", pa.array(new_text, pa.string()))
        for f in OUTPUT_FIELDS:
            out = set_column(out, f.name, pa.array(columns[f.name], f.type))
        statuses = columns["rewrite_status"]
        out = mark_drops(out, np.zeros(out.num_rows, dtype=bool), "")  # adds the (empty) drop columns
        for reason, status in (("rewrite_drop_doc", "dropped"), ("rewrite_emptied", "emptied")):
            mask = np.array([s == status for s in statuses])
            if mask.any():
                detail = [_detail(r) if m else None for r, m in zip(results, mask)]
                out = mark_drops(out, mask, reason, detail=detail)
        return out

    # ------------------------------------------------------------ documents
    def rewrite(self, texts: list[str]) -> list[DocResult]:
        """Rewrite documents; a model failure costs only the documents it touches, which keep their text.

        A batch whose model calls fail is retried one document at a time, so one document the backend
        rejects (too long, a 400, garbage) falls back alone; an unreachable server fails the batch at once.
        """
        try:
            return self._rewrite(texts)
        except Exception as exc:  # any backend failure: the documents are kept, the error recorded
            if len(texts) == 1 or isinstance(exc, LMUnavailableError):
                return [backend_fallback(text, exc) for text in texts]
            return [self.rewrite([text])[0] for text in texts]

    def _rewrite(self, texts: list[str]) -> list[DocResult]:
        p = self.p
        docs = [text.split("\n") for text in texts]
        counts = self._line_tokens(docs)
        results = [DocResult("unchanged", text, tokens_in=sum(c), tokens_out=sum(c)) for text, c in zip(texts, counts)]
        live = [i for i, text in enumerate(texts) if text.strip()]
        for i in set(range(len(texts))) - set(live):
            results[i].status = "empty_input"
        if p.document_level and live and p.needs_lm:
            decisions = self._document_pass([docs[i] for i in live], [counts[i] for i in live])
            for i, (program, drop, errors, generated) in zip(live, decisions):
                r = results[i]
                r.doc_program, r.parse_errors, r.generated = program, errors, r.generated + generated
                if drop:
                    r.status, r.tokens_out = "dropped", 0
            live = [i for i in live if results[i].status != "dropped"]
        live = [i for i in live if word_count(texts[i]) >= p.min_words]
        if p.chunk_level and live:
            chunks = {i: pack_chunks(counts[i], p.chunk_tokens) for i in live}
            programs = self._chunk_pass({i: docs[i] for i in live}, chunks, {i: counts[i] for i in live})
            for i in live:
                r = results[i]
                chunk_programs, generated = programs[i]
                r.programs, r.generated = chunk_programs, r.generated + generated
                if p.preset == "prox":
                    run = execute_prox(docs[i], chunks[i], chunk_programs)
                else:
                    run = execute(docs[i], chunks[i], chunk_programs)
                r.ignored = run.ignored
                r.parse_errors = r.parse_errors + run.parse_errors
                r.exec_errors = run.exec_errors
                self._settle(r, texts[i], docs[i], counts[i], run)
        return results

    def _settle(self, r: DocResult, text: str, lines: list[str], counts: list[int], run: Execution) -> None:
        """The document's status and text after its chunk programs ran.

        curate's order: too many failed calls keep the original; an unchanged document is never dropped; an
        edit that leaves too few words drops the document. ``prox`` follows ProX's ``execute_meta_operations``
        (``utils/chunk_utils.py``): at most ``min_kept_fraction`` of the words left drops when the errors are
        below ``max_errors``; at most ``min_kept_words`` words left drops always (even an unchanged document,
        even after too many errors); otherwise too many errors keep the original.
        """
        p = self.p
        failed = len(r.parse_errors) + len(r.exec_errors) >= p.max_errors
        changed = bool(run.removed) or run.lines != lines
        before, after = word_count(text), word_count(run.text) if changed else word_count(text)
        if p.preset == "prox":
            emptied = (after <= p.min_kept_fraction * before and not failed) or after <= p.min_kept_words
        else:
            if failed:
                r.status = "fallback"
                return
            emptied = changed and (after <= p.min_kept_words or after <= p.min_kept_fraction * before)
        if emptied:  # dropped: the row (and so _dropped/) keeps the original text
            r.status, r.tokens_out, r.words_left = "emptied", 0, after
        elif failed:
            r.status = "fallback"
        elif changed:
            new_text = run.text
            r.status, r.text = "edited", new_text
            r.tokens_out = self._count([new_text])[0] if run.lines != lines else \
                sum(c for j, c in enumerate(counts) if j not in run.removed)

    def _count(self, texts: list[str]) -> list[int]:
        """Tokens in the chunk model's tokenizer; whitespace words for the blocks preset (no model)."""
        if self.lm is None:
            return [len(t.split()) for t in texts]
        return self.lm.count_tokens(texts) if texts else []

    def _line_tokens(self, docs: list[list[str]]) -> list[list[int]]:
        """Tokens per line plus one, for the newline (prox: of the numbered line ``[007]text``, plus BOS, as
        ProX counts them when packing chunks)."""
        if self.p.preset == "prox":
            flat = [prompts.prox_numbered(line, j) for lines in docs for j, line in enumerate(lines)]
        else:
            flat = [line for lines in docs for line in lines]
        counts = self._count(flat)
        out, k = [], 0
        for lines in docs:
            # +1 for the newline that joins lines.
            out.append([c + 1 for c in counts[k:k + len(lines)]])
            k += len(lines)
        return out

    # ------------------------------------------------------------ document pass
    def _doc_text(self, lines: list[str], counts: list[int]) -> str:
        """The document as the document pass shows it: whole lines up to ``doc_tokens``, a longer first line cut."""
        used, keep = 0, 0
        for count in counts:
            if used + count > self.p.doc_budget:
                break
            used += count
            keep += 1
        if keep:
            return "\n".join(lines[:keep])
        return self.cap(lines[0], counts[0], self.p.doc_budget, self.doc_lm) if lines else ""

    def cap(self, text: str, tokens: int, budget: int, lm: LM | None = None) -> str:
        """``text`` cut (for the model's eyes only) to at most ``budget`` tokens of the model's tokenizer."""
        lm = lm or self.lm
        while tokens > budget and text:
            text = text[:max(0, int(len(text) * budget / tokens * 0.9) - 1)]
            tokens = lm.count_tokens([text])[0] if text and lm is not None else len(text.split())
        return text

    def shown_lines(self, lines: list[str], counts: list[int], budget: int) -> list[str]:
        """Lines as a chunk prompt shows them: a line longer than the whole budget is cut to fit."""
        return [self.cap(line, count, budget) if count > budget else line for line, count in zip(lines, counts)]

    def _document_pass(self, docs: list[list[str]], counts: list[list[int]]) -> list[tuple[str, bool, list[str], int]]:
        p = self.p
        bodies = [self._doc_text(lines, c) for lines, c in zip(docs, counts)]
        if p.preset == "line_lm":
            out = []
            for p_drop in self.doc_drop_probabilities(bodies):
                drop = p_drop >= p.drop_threshold
                out.append(("drop_doc()" if drop else "keep_doc()", drop, [], 0))
            return out
        if p.preset == "instruct":
            prompts_ = [[{"role": "system", "content": prompts.INSTRUCT_DOC_SYSTEM}, {"role": "user", "content": b}]
                        for b in bodies]
        else:
            prompts_ = [prompts.prox_prompt(b, p.prox_system, p.prox_chat_template) for b in bodies]
        constraint = Constraint("grammar", prompts.doc_grammar())
        generations = self.doc_lm.generate(prompts_, self._sampling(p.doc_max_new_tokens),
                                           self._constraint(constraint, self.doc_lm))
        out = []
        for generation in generations:
            text = generation.text.strip(" ")
            if p.preset == "prox":  # ProX's executor: any output mentioning "drop" drops; nothing else is an error
                drop, errors = "drop" in text, []
            else:
                decision = decide_document(text)
                drop, errors = decision.drop, [f"document: {e}" for e in decision.errors]
            out.append((text, drop, errors, generation.tokens))
        return out

    # ------------------------------------------------------------ chunk pass
    def _chunk_pass(self, docs: dict[int, list[str]], chunks: dict[int, list[tuple[int, int]]],
                    counts: dict[int, list[int]]) -> dict[int, tuple[list[str], int]]:
        if self.p.preset == "line_lm":
            return self._line_decisions(docs, chunks)
        if self.p.preset == "blocks":
            return self._block_decisions(docs, chunks)
        requests: list[tuple[int, int, int]] = []
        prompt_list = []
        for i, lines in docs.items():
            width = max(3, len(str(len(lines) - 1)))
            for first, last in chunks[i]:
                shown = self.shown_lines(lines[first:last + 1], counts[i][first:last + 1], self.p.chunk_tokens)
                if self.p.preset == "prox":
                    prompt: Any = prompts.prox_prompt(prompts.prox_chunk(shown, first), self.p.prox_system,
                                                      self.p.prox_chat_template)
                elif self.p.preset == "instruct":
                    prompt = [
                        {"role": "system", "content": prompts.INSTRUCT_SYSTEM},
                        {"role": "user", "content": prompts.INSTRUCT_EXAMPLE_INPUT},
                        {"role": "assistant", "content": prompts.INSTRUCT_EXAMPLE_OUTPUT},
                        {"role": "user", "content": f"[doc]\n{prompts.number_lines(shown, first, width)}\n[/doc]"},
                    ]
                prompt_list.append(prompt)
                requests.append((i, first, last))
        grammar = Constraint("grammar", prompts.chunk_grammar(0, 0).replace('num ::= "0"', "num ::= [0-9]{1,6}"))
        generations = self.lm.generate(prompt_list, self._sampling(self.p.chunk_max_new_tokens),
                                       self._constraint(grammar))
        out: dict[int, tuple[list[str], int]] = {i: ([], 0) for i in docs}
        for (i, _first, _last), generation in zip(requests, generations):
            programs, generated = out[i]
            out[i] = ([*programs, generation.text.strip(" ")], generated + generation.tokens)
        return out

    def line_probabilities(self, docs: dict[int, list[str]]) -> dict[int, dict[int, float]]:
        """small preset: P(boilerplate) of every non-empty line, by document and line index."""
        p = self.p
        where: list[tuple[int, int]] = []
        prompt_list = []
        for i, lines in docs.items():
            title = next((" ".join(line.split()) for line in lines if line.strip()), "")[:80]
            numbered = [j for j, line in enumerate(lines) if line.strip()]
            for rank, j in enumerate(numbered, start=1):
                shown = " ".join(lines[j].split())[:p.max_line_chars]
                prompt_list.append(prompts.LINE_PREFIX + prompts.LINE_TEMPLATE.format(
                    title=title, number=rank, total=len(numbered), line=shown))
                where.append((i, j))
        scores = self.lm.choice_logprobs(prompt_list, prompts.LINE_CHOICES) if prompt_list else []
        out: dict[int, dict[int, float]] = {i: {} for i in docs}
        for (i, j), score in zip(where, scores):
            out[i][j] = math.exp(score[0])
        return out

    def doc_drop_probabilities(self, bodies: list[str]) -> list[float]:
        """small preset: P(drop) of each document text."""
        prompts_ = [prompts.DOC_PREFIX + prompts.DOC_TEMPLATE.format(text=" ".join(b.split())) for b in bodies]
        return [math.exp(score[0]) for score in self.lm.choice_logprobs(prompts_, prompts.DOC_CHOICES)]

    def _line_decisions(self, docs: dict[int, list[str]], chunks: dict[int, list[tuple[int, int]]]
                        ) -> dict[int, tuple[list[str], int]]:
        probabilities = self.line_probabilities(docs)
        out = {}
        for i, lines in docs.items():
            remove = {j for j, prob in probabilities[i].items() if prob >= self.p.line_threshold}
            out[i] = ([removal_program(lines, remove, first, last) for first, last in chunks[i]], 0)
        return out

    # ------------------------------------------------------------ helpers
    def _sampling(self, max_tokens: int) -> SamplingParams:
        return SamplingParams(max_tokens=max_tokens, temperature=self.p.temperature,
                              repeat_penalty=self.p.repeat_penalty, seed=self.p.lm.seed)

    def _constraint(self, constraint: Constraint, lm: LM | None = None) -> Constraint | None:
        lm = lm or self.lm
        return constraint if self.p.grammar and lm is not None and lm.supports(constraint) else None

    def _block_decisions(self, docs: dict[int, list[str]], chunks: dict[int, list[tuple[int, int]]]
                         ) -> dict[int, tuple[list[str], int]]:
        """blocks preset: the classifier's removals (see curate.rewriting.block_head), written as programs."""
        head = default_head()
        repeats = self.repeats
        if repeats is None:
            repeats = LineRepeats.from_texts("\n".join(lines) for lines in docs.values())
        out = {}
        for i, lines in docs.items():
            threshold = self.p.block_threshold if self.p.block_threshold is not None else head.threshold_for(lines)
            remove = block_removals(lines, head.probabilities(lines, repeats.line_counts(lines)), threshold)
            out[i] = ([removal_program(lines, remove, first, last) for first, last in chunks[i]], 0)
        return out


def removal_program(lines: list[str], removed: set[int], first: int, last: int) -> str:
    """``remove_lines`` calls for the removed lines of one chunk; blank lines between removed lines go too."""
    runs: list[list[int]] = []
    for j in range(first, last + 1):
        if j in removed:
            if runs and all(not lines[k].strip() for k in range(runs[-1][1] + 1, j)):
                runs[-1][1] = j
            else:
                runs.append([j, j])
    if not runs:
        return "keep_chunk()"
    return "\n".join(f"remove_lines(line_start={a}, line_end={b})" for a, b in runs)


def _detail(result: DocResult | None) -> str | None:
    if result is None:
        return None
    if result.status == "dropped":
        return f"program: {result.doc_program}"
    return f"{result.words_left} of {word_count(result.text)} words would be left"


# ------------------------------------------------------------------ stage


def _rows_of(batch: pa.Table, ids: list[str]) -> pa.Table:
    return batch.filter(pc.is_in(batch.column("id"), pa.array(ids, pa.string())))


def _smallest_keys(batch: pa.Table, seed: int, k: int) -> pa.Table:
    return smallest_keys(batch.column("id").to_pylist(), seed, k)[1]


class Rewrite(ModelStage, MapStage[RewriteParams]):
    """Edit documents with a small LM through ProX programs (see the module docstring)."""

    name = "rewrite"
    Params = RewriteParams
    batch_size = 16

    def __init__(self, params: RewriteParams | None = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.selected: set[str] | None = None
        self.repeats: LineRepeats | None = None
        self.rewriter: Rewriter | None = None

    @property
    def resources(self) -> Resources:
        p = self.params
        if not p.needs_lm:
            return Resources(num_cpus=p.num_cpus or 1.0, num_gpus=p.num_gpus or 0.0, concurrency=p.concurrency)
        return lm_resources(p.lm, p.num_cpus, p.num_gpus, p.concurrency)

    def prepare(self, dataset: Any) -> None:
        """Choose the deterministic subset (``max_documents``) over the whole input; for the blocks preset,
        count in how many documents of the whole input each line occurs (``corpus_repeats``)."""
        p = self.params
        self.selected = None if p.max_documents is None else set(self.select(dataset))
        if p.preset == "blocks" and p.corpus_repeats and p.chunk_level:
            self.repeats = LineRepeats.from_dataset(dataset, only=self._selected_lines(dataset))

    def _selected_lines(self, dataset: Any) -> set[int] | None:
        """The line hashes of the chosen documents (None without ``max_documents``: every line counts)."""
        if self.selected is None:
            return None
        rows = dataset.select_columns(["id", "text"]).map_batches(
            _rows_of, fn_kwargs={"ids": sorted(self.selected)}, batch_format="pyarrow").take_all()
        return set().union(*(document_hashes((row["text"] or "").split("\n")) for row in rows))

    def select(self, dataset: Any) -> list[str]:
        """Ids of the deterministic subset: the smallest keys of ``sample_seed`` and the id."""
        p = self.params
        if not p.max_documents:
            return []
        candidates = dataset.select_columns(["id"]).map_batches(
            _smallest_keys, fn_kwargs={"seed": p.sample_seed, "k": p.max_documents}, batch_format="pyarrow"
        ).take_all()
        return [row["id"] for row in first_rows(candidates, p.max_documents)]

    def setup(self) -> None:
        p = self.params
        if not p.needs_lm:
            self.rewriter = Rewriter(p, None, repeats=self.repeats)
            return
        threads = p.lm.n_threads or assigned_cpus()
        lm = load_lm(p.lm, threads=threads)
        doc_lm = load_lm(p.doc_lm, threads=threads) if p.doc_lm is not None and p.doc_lm != p.lm else None
        self.rewriter = Rewriter(p, lm, doc_lm)

    def process_batch(self, batch: pa.Table) -> tuple[pa.Table, dict[str, Any]]:
        if self.rewriter is None:
            self.setup()
        assert self.rewriter is not None  # set by setup
        marked = self.rewriter.process(batch, self.selected)
        return marked, batch_stats(marked.select([f.name for f in OUTPUT_FIELDS]).to_pylist())

    @classmethod
    def summarize(cls, stats: dict[str, Any]) -> dict[str, Any]:
        tokens_in, tokens_out = stats.get("tokens_in", 0), stats.get("tokens_out", 0)
        return dict(stats, token_retention=round(tokens_out / tokens_in, 4) if tokens_in else None)


def batch_stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Numbers for the manifest from one batch's output columns; the runner sums them over batches."""
    done = [r for r in rows if r["rewritten"]]
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["rewrite_status"]] = statuses.get(r["rewrite_status"], 0) + 1
    return {
        "documents": len(rows),
        "rewritten": len(done),
        "status": dict(sorted(statuses.items())),
        "programs_parsed": sum(1 for r in done if not r["rewrite_parse_errors"]),
        "programs_executed": sum(1 for r in done if not r["rewrite_parse_errors"] and not r["rewrite_exec_errors"]),
        "dropped": statuses.get("dropped", 0) + statuses.get("emptied", 0),
        "kept_original": statuses.get("fallback", 0),
        "tokens_in": sum(r["rewrite_tokens_in"] or 0 for r in done),
        "tokens_out": sum(r["rewrite_tokens_out"] or 0 for r in done),
        "generated_tokens": sum(r["rewrite_generated_tokens"] or 0 for r in done),
        "backend_errors": sum(1 for r in done if r["rewrite_backend_error"]),
        "ignored_calls": sum(r["rewrite_ignored_calls"] or 0 for r in done),
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest's numbers for a set of output rows (one batch's numbers plus token retention)."""
    return Rewrite.summarize(batch_stats(rows))
