"""An in-process LM for annotation tests: answers follow words planted in the documents."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from curate.lm.base import LM, Constraint, Generation, LMError, Prompt, SamplingParams, renormalise

_PLANTED = re.compile(r"grade(\d)")


def _content(prompt: Prompt) -> str:
    return prompt if isinstance(prompt, str) else "\n".join(m["content"] for m in prompt)


class FakeLM(LM):
    """``gradeN`` in a document makes N the likely answer; ``boom`` makes a call fail; ``mumble`` makes generation
    answer without a digit. Calls are recorded (number of prompts per call)."""

    backend = "fake"

    def __init__(self, constraint_kinds: frozenset[str] = frozenset({"choice"}), fail_word: str = "boom") -> None:
        self.constraint_kinds = constraint_kinds
        self.fail_word = fail_word
        self.calls: list[int] = []
        self.constraints: list[Constraint | None] = []
        self.closed = False

    def _check(self, prompts: Sequence[Prompt]) -> None:
        self.calls.append(len(prompts))
        for prompt in prompts:
            if self.fail_word in _content(prompt):
                raise LMError("the model choked on this document")

    @staticmethod
    def _grade(prompt: Prompt) -> int:
        found = _PLANTED.findall(_content(prompt))
        return int(found[-1]) if found else 0

    def choice_logprobs(self, prompts: Sequence[Prompt], choices: Sequence[str]) -> list[list[float]]:
        self._check(prompts)
        rows = []
        for prompt in prompts:
            grade = self._grade(prompt)
            rows.append(renormalise([math.log(0.75) if i == grade else math.log(0.05) for i in range(len(choices))]))
        return rows

    def generate(self, prompts: Sequence[Prompt], params: SamplingParams | None = None,
                 constraint: Constraint | None = None) -> list[Generation]:
        self.check_constraint(constraint)
        self._check(prompts)
        self.constraints.append(constraint)
        out = []
        for prompt in prompts:
            if "mumble" in _content(prompt) and constraint is None:
                out.append(Generation("It is a nice text.", 5))
            else:
                text = str(self._grade(prompt))
                out.append(Generation(text if constraint else f"Score: {text}/5", 1))
        return out

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]

    def close(self) -> None:
        self.closed = True
