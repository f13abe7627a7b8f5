"""EntiGraph over a list of documents with a loaded model (no Ray).

Per document: one extraction call (summary + entities, retried a bounded
number of times), then one call per sampled entity pair and then triple, until
the samples or the document's budget share run out. Calls of all documents in
a batch are sent together, one round at a time, so batching backends (vLLM, a
server) see many prompts at once; what a document gets never depends on the
other documents of its batch.

A document ends with a ``status``: ``done`` (rows made), ``empty``,
``no_entities`` (no usable entity after every attempt), ``invalid_json``
(no attempt parsed), ``no_budget`` (its budget share is below
``min_call_tokens``) or ``no_output`` (entities, but every call came back
empty).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from curate.entigraph import prompts
from curate.entigraph.overlap import SourceNgrams, add_counts
from curate.entigraph.params import CallSettings, EntiGraphParams
from curate.entigraph.parsing import ExtractionError, clean_entities, parse_extraction
from curate.entigraph.plan import in_order, row_id, sample_tuples
from curate.lm import LM, Constraint, Generation, Prompt

_SENTENCE_END = re.compile(r"[.!?][\"')\]]?(?=\s|$)")


@dataclass
class SyntheticRow:
    id: str
    kind: str
    entities: tuple[str, ...]
    text: str
    tokens: int


@dataclass
class DocResult:
    """What one document produced, and why not more."""

    status: str = "done"
    entities: list[str] = field(default_factory=list)
    summary: str = ""
    rows: list[SyntheticRow] = field(default_factory=list)
    calls: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    first_try: bool | None = None
    repaired: int = 0
    share: int | None = None
    spent: int = 0
    budget_stopped: bool = False
    source_tokens: int = 0
    generated_tokens: int = 0
    pairs_possible: int = 0
    triples_possible: int = 0
    overlap: dict[str, dict[str, int]] = field(default_factory=dict)

    def remaining(self) -> int | None:
        return None if self.share is None else self.share - self.spent


@dataclass
class _Call:
    doc: int
    kind: str
    entities: tuple[str, ...]
    max_tokens: int


class EntiGraphGenerator:
    """Runs the EntiGraph calls for batches of documents; see the module docstring."""

    def __init__(self, params: EntiGraphParams, lm: LM, model_name: str | None = None) -> None:
        self.p = params
        self.lm = lm
        self.model_name = model_name or params.lm.model
        self.lm_seconds = 0.0
        self.titles: dict[int, str | None] = {}
        schema = prompts.extraction_schema(params.max_entities, params.min_listed)
        constraint = Constraint("json_schema", schema)
        self.constraint = constraint if params.constrained and lm.supports(constraint) else None

    # ------------------------------------------------------------ documents
    def run(self, doc_ids: list[str], texts: list[str | None], shares: list[int | None],
            titles: list[str | None] | None = None) -> list[DocResult]:
        """One :class:`DocResult` per document, in order; ``shares`` are budget shares (``None``: no limit);
        ``titles`` are shown in every prompt when the ``title`` parameter is on."""
        p = self.p
        self.titles = dict(enumerate(titles)) if titles is not None and p.title else {}
        results = [DocResult(share=share) for share in shares]
        live = []
        for i, text in enumerate(texts):
            if not text or not text.strip():
                results[i].status = "empty"
            elif shares[i] is not None and shares[i] < p.min_call_tokens:
                results[i].status = "no_budget"
            else:
                live.append(i)
        if not live:
            return results
        shown = self._cut([texts[i] for i in live], [results[i] for i in live])
        bodies = dict(zip(live, shown))
        live = self._extract(live, bodies, texts, results)
        for i in live:
            self._summary_row(doc_ids[i], results[i])
        self._relations(live, doc_ids, bodies, results)
        for i in live:
            r = results[i]
            if not r.rows:
                r.status = "no_output"
            ngrams = SourceNgrams(texts[i] or "")
            for row in r.rows:
                add_counts(r.overlap, ngrams.counts(row.text))
        return results

    def doc_limit(self) -> int:
        """Model tokens of the document a prompt shows: ``doc_tokens``, or what the context leaves after the
        longest instructions, entities and title and the largest answer (``doc_tokens: null``)."""
        p = self.p
        if p.doc_tokens is not None:
            return p.doc_tokens
        name = " ".join(["entity"] * max(1, p.max_entity_chars // 7))  # about one token per word, as in text
        title = " ".join(["title"] * 33)  # a title of 200 characters
        shapes = [prompts.extraction_prompt("", title, self.faithful),
                  prompts.relation_prompt("", (name, name), title, self.faithful),
                  prompts.relation_prompt("", (name, name, name), title, self.faithful)]
        instructions = max(sum(self.lm.count_tokens([m["content"] for m in shape])) for shape in shapes)
        answer = max(p.extract.max_tokens, p.pair.max_tokens, p.triple.max_tokens)
        limit = (p.context or 0) - instructions - answer - 64  # 64: the chat template's own tokens
        if limit < 128:
            raise ValueError(f"entigraph: a context of {p.context} tokens leaves {limit} for the document after "
                             f"the instructions and a {answer}-token answer: raise context_tokens (lm.max_model_len, "
                             "lm.n_ctx) or lower the max_tokens of extract, pair and triple")
        return limit

    @property
    def faithful(self) -> bool:
        return self.p.profile == "faithful"

    def _cut(self, texts: list[str], results: list[DocResult]) -> list[str]:
        """Each text cut (at a word boundary) to :meth:`doc_limit` model tokens; records the full texts' tokens."""
        limit = self.doc_limit()
        counts = self.lm.count_tokens(texts)
        out = []
        for text, count, result in zip(texts, counts, results):
            result.source_tokens = count
            if count <= limit:
                out.append(text)
                continue
            words = text.split(" ")
            while count > limit:
                words = words[:max(1, int(len(words) * limit / count * 0.95))]
                cut = " ".join(words)
                count = self.lm.count_tokens([cut])[0]
                if len(words) == 1:
                    break
            out.append(cut)
        return out

    # ------------------------------------------------------------ extraction
    def _extract(self, live: list[int], bodies: dict[int, str], texts: list[str | None],
                 results: list[DocResult]) -> list[int]:
        """Extraction with bounded retries; returns the documents that have entities."""
        p = self.p
        pending = list(live)
        parsed_once: set[int] = set()
        for attempt in range(1 + p.retries):
            if not pending:
                break
            temperature = p.extract.temperature if attempt == 0 else p.retry_temperature
            params = p.extract.sampling(p.lm.seed + attempt, temperature=temperature)
            generations = self._generate([prompts.extraction_prompt(bodies[i], self.titles.get(i), self.faithful)
                                          for i in pending], params, self.constraint)
            still = []
            for i, generation in zip(pending, generations):
                r = results[i]
                r.calls["extract"] += 1
                r.generated_tokens += generation.tokens
                try:
                    answer = parse_extraction(generation.text)
                except ExtractionError as exc:
                    r.failed["extract"] += 1
                    r.errors.append(f"extract attempt {attempt + 1}: {exc}")
                    if attempt == 0:
                        r.first_try = False
                    still.append(i)
                    continue
                parsed_once.add(i)
                r.repaired += answer.repaired
                if attempt == 0:
                    r.first_try = not answer.repaired
                entities = clean_entities(answer.entities, max_entities=p.max_entities, max_chars=p.max_entity_chars,
                                          document=texts[i] if p.require_in_text else None)
                if not entities:
                    r.failed["extract"] += 1
                    r.errors.append(f"extract attempt {attempt + 1}: no usable entity in "
                                    f"{answer.entities[:8]!r}")
                    still.append(i)
                    continue
                r.entities = entities
                r.summary = answer.summary
            pending = still
        for i in pending:
            results[i].status = "no_entities" if i in parsed_once else "invalid_json"
        return [i for i in live if results[i].entities]

    def _summary_row(self, doc_id: str, r: DocResult) -> None:
        summary = r.summary
        if not self.p.summary or not summary:
            return
        tokens = self.lm.count_tokens([summary])[0]
        remaining = r.remaining()
        if remaining is not None and tokens > remaining:
            r.budget_stopped = True
            return
        r.spent += tokens
        r.rows.append(SyntheticRow(row_id(doc_id, "summary", (), self.model_name), "summary", tuple(r.entities),
                                   summary, tokens))

    # ------------------------------------------------------------ relations
    def _relations(self, live: list[int], doc_ids: list[str], bodies: dict[int, str],
                   results: list[DocResult]) -> None:
        p = self.p
        queues: dict[int, list[tuple[str, tuple[str, ...]]]] = {}
        for i in live:
            r = results[i]
            n = len(r.entities)
            r.pairs_possible = n * (n - 1) // 2
            r.triples_possible = n * (n - 1) * (n - 2) // 6
            pairs = in_order(n, 2, p.max_pairs) if p.all_pairs else sample_tuples(n, 2, p.max_pairs, p.seed, doc_ids[i])
            triples = sample_tuples(n, 3, p.max_triples, p.seed, doc_ids[i])
            queues[i] = [("pair", tuple(r.entities[k] for k in t)) for t in pairs] + \
                        [("triple", tuple(r.entities[k] for k in t)) for t in triples]
        while True:
            calls = [call for i in live for call in self._plan_round(i, queues[i], results[i])]
            if not calls:
                return
            for call, generation in zip(calls, self._run_calls(calls, bodies)):
                r = results[call.doc]
                r.calls[call.kind] += 1
                r.generated_tokens += generation.tokens
                r.spent += generation.tokens
                text = finish_text(generation)
                if not text:
                    r.failed[call.kind] += 1
                    r.errors.append(f"{call.kind} {list(call.entities)}: empty answer")
                    continue
                r.rows.append(SyntheticRow(row_id(doc_ids[call.doc], call.kind, call.entities, self.model_name),
                                           call.kind, call.entities, text, generation.tokens))

    def _plan_round(self, i: int, queue: list[tuple[str, tuple[str, ...]]], r: DocResult) -> list[_Call]:
        """The next calls of one document: all of them without a budget, else as many as its share still covers.

        Each call reserves its ``max_tokens``; what it does not use is spent by
        the next round, so a share is used up without ever being exceeded.
        """
        remaining = r.remaining()
        calls = []
        while queue:
            kind, entities = queue[0]
            settings: CallSettings = getattr(self.p, kind)
            max_tokens = settings.max_tokens
            if remaining is not None:
                max_tokens = min(max_tokens, remaining)
                if max_tokens < self.p.min_call_tokens:
                    if not calls:  # nothing in flight will free budget: this document is done
                        r.budget_stopped = True
                        queue.clear()
                    break
                remaining -= max_tokens
            queue.pop(0)
            calls.append(_Call(i, kind, entities, max_tokens))
        return calls

    def _run_calls(self, calls: list[_Call], bodies: dict[int, str]) -> list[Generation]:
        """Generate for ``calls``, grouped by sampling settings; results in the calls' order."""
        groups: dict[tuple[str, int], list[int]] = {}
        for k, call in enumerate(calls):
            groups.setdefault((call.kind, call.max_tokens), []).append(k)
        out: list[Any] = [None] * len(calls)
        for (kind, max_tokens), members in groups.items():
            settings: CallSettings = getattr(self.p, kind)
            batch = [prompts.relation_prompt(bodies[calls[k].doc], calls[k].entities, self.titles.get(calls[k].doc),
                                             self.faithful) for k in members]
            for k, generation in zip(members, self._generate(batch, settings.sampling(self.p.lm.seed, max_tokens))):
                out[k] = generation
        return out

    def _generate(self, batch: list[Prompt], params: Any, constraint: Constraint | None = None) -> list[Generation]:
        started = time.perf_counter()
        try:
            return self.lm.generate(batch, params, constraint)
        finally:
            self.lm_seconds += time.perf_counter() - started


def finish_text(generation: Generation) -> str:
    """The answer stripped; one cut off by the token limit ends at its last full sentence (if that keeps half)."""
    text = generation.text.strip()
    if generation.finish_reason == "length":
        ends = [m.end() for m in _SENTENCE_END.finditer(text)]
        if ends and ends[-1] >= len(text) // 2:
            text = text[:ends[-1]]
    return text
