"""The LM interface shared by LM stages: batched generation and choice scoring.

A prompt is either plain text (completion) or a list of chat messages
(``[{"role": "user", "content": "..."}]``); the backend applies the model's
chat template. Generation takes :class:`SamplingParams` and an optional
:class:`Constraint` (a GBNF grammar, a regular expression, a JSON schema or a
fixed set of choices) where the backend supports it. :meth:`LM.choice_logprobs`
reads the model's log-probabilities of a few candidate continuations, which
lets a stage take decisions with a threshold instead of free text.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

Message = dict[str, str]
Prompt = Union[str, list[Message]]  # noqa: UP007 (a runtime alias on Python 3.10)

CONSTRAINT_KINDS = ("grammar", "regex", "json_schema", "choice")


class LMError(Exception):
    """The model could not be loaded or a request failed for good."""


class LMUnavailableError(LMError):
    """The model server cannot be reached."""


class UnsupportedConstraintError(LMError):
    """The backend cannot enforce this kind of constraint."""


@dataclass(frozen=True)
class Constraint:
    """Restricts what the model may write.

    ``kind`` is ``grammar`` (GBNF, as llama.cpp and vLLM accept it), ``regex``,
    ``json_schema`` (a dict) or ``choice`` (a list of allowed strings).
    """

    kind: Literal["grammar", "regex", "json_schema", "choice"]
    value: Any

    def __post_init__(self) -> None:
        if self.kind not in CONSTRAINT_KINDS:
            raise ValueError(f"unknown constraint kind {self.kind!r}; valid: {', '.join(CONSTRAINT_KINDS)}")
        if self.kind == "choice" and (not isinstance(self.value, (list, tuple)) or not self.value):
            raise ValueError("a choice constraint needs a non-empty list of strings")


class SamplingParams(BaseModel):
    """How to sample. Temperature 0 is greedy decoding."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens: int = Field(256, gt=0, description="Most new tokens per prompt.")
    temperature: float = Field(0.0, ge=0, description="Sampling temperature; 0 decodes greedily.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass.")
    repeat_penalty: float = Field(1.0, gt=0, description="Penalty on repeated tokens (1 = none).")
    seed: int = Field(0, description="Random seed, for reproducible sampling.")
    stop: tuple[str, ...] = Field((), description="Strings that end generation (not included in the output).")


@dataclass
class Generation:
    """One prompt's result: the text, how many tokens were generated, and why it stopped."""

    text: str
    tokens: int
    finish_reason: str = "stop"


class LM(ABC):
    """A loaded model. Backends implement generation, scoring and token counting."""

    #: Which constraint kinds the backend enforces.
    constraint_kinds: frozenset[str] = frozenset()
    backend: str = ""

    @abstractmethod
    def generate(
        self, prompts: Sequence[Prompt], params: SamplingParams | None = None, constraint: Constraint | None = None
    ) -> list[Generation]:
        """Generate for every prompt, in order."""

    @abstractmethod
    def choice_logprobs(self, prompts: Sequence[Prompt], choices: Sequence[str]) -> list[list[float]]:
        """For every prompt, the log-probability of each choice's first token, renormalised over the choices.

        The choices must start with different tokens (e.g. ``[" yes", " no"]``).
        """

    @abstractmethod
    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens per text in the model's own tokenizer."""

    def supports(self, constraint: Constraint | None) -> bool:
        return constraint is None or constraint.kind in self.constraint_kinds

    def check_constraint(self, constraint: Constraint | None) -> None:
        if not self.supports(constraint):
            assert constraint is not None
            raise UnsupportedConstraintError(
                f"the {self.backend} backend cannot enforce a {constraint.kind} constraint; "
                f"it supports: {', '.join(sorted(self.constraint_kinds)) or 'none'}"
            )

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Free the model (backends that hold one override this)."""


def renormalise(logprobs: Sequence[float]) -> list[float]:
    """Log-softmax over a few log-probabilities (``-inf`` allowed)."""
    finite = [x for x in logprobs if x != -math.inf]
    if not finite:
        return [-math.log(len(logprobs))] * len(logprobs)
    top = max(finite)
    total = top + math.log(sum(math.exp(x - top) for x in finite))
    return [x - total if x != -math.inf else -math.inf for x in logprobs]


def choice_grammar(choices: Sequence[str]) -> str:
    """A GBNF grammar that accepts exactly one of ``choices``."""
    return "root ::= " + " | ".join(gbnf_literal(c) for c in choices) + "\n"


def gbnf_literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def is_chat(prompt: Prompt) -> bool:
    return not isinstance(prompt, str)
