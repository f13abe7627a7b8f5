"""Scoring documents with an LM and a rubric, robust to a weak model and to failing calls.

Two ways to read the model's answer, both confined to the digits 0-5:

``logprobs`` (default)
    One forward pass per document: the probabilities of the six digits as the
    answer's first token (:meth:`curate.lm.base.LM.choice_logprobs`), and the
    score is their expected value, a number in [0, 5]. No text is generated,
    so nothing can fail to parse, and a model that hesitates between 2 and 3
    says so instead of being rounded.
``choice``
    Greedy generation constrained to one of ``"0"`` .. ``"5"``: an integer
    score. A backend that cannot enforce a choice (an OpenAI-compatible server
    in the ``generic`` dialect) generates freely and the first digit 0-5 of the
    answer is taken; an answer without one is a failure.

A failed call never stops the run: the batch is retried one document at a
time, and a document whose own call fails gets a null score and the error as
its reason. After ``max_consecutive_failures`` failing documents in a row
(a server that went away, a model that does not fit) the remaining documents
are not sent and get a null score with the reason why.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from curate.annotate.rubric import SCORES, Rubric
from curate.lm import LM, Constraint, SamplingParams

Method = Literal["logprobs", "choice"]
METHODS: tuple[str, ...] = ("logprobs", "choice")
_DIGIT = re.compile(r"(?<![0-9])([0-5])(?![0-9])")


@dataclass
class Annotation:
    """One document's result: ``score`` is None exactly when ``error`` says why."""

    score: float | None
    answer: int | None = None  # the most likely digit (logprobs) or the digit written (choice)
    probabilities: list[float] | None = None  # P(0..5), logprobs only
    raw: str | None = None  # the generated text, choice only
    error: str | None = None


def parse_answer(text: str) -> int | None:
    """The first standalone digit 0-5 in a generated answer; None when there is none."""
    match = _DIGIT.search(text)
    return int(match.group(1)) if match else None


def from_logprobs(logprobs: Sequence[float]) -> Annotation:
    """The expected score under the renormalised probabilities of the six digits."""
    probabilities = [math.exp(x) for x in logprobs]
    total = sum(probabilities)
    if not math.isfinite(total) or total <= 0:
        return Annotation(None, error=f"no probability on any digit 0-5 (log-probabilities {list(logprobs)})")
    probabilities = [p / total for p in probabilities]
    if max(probabilities) - min(probabilities) < 1e-9:
        # what renormalising gives when no digit was among the log-probabilities returned (a server sends only
        # its top ones): no information, not a score of 2.5
        return Annotation(None, error="no digit 0-5 among the model's most likely answers; make the rubric ask "
                                      "for the digit first, or use --method choice")
    score = sum(i * p for i, p in enumerate(probabilities))
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    return Annotation(score, best, probabilities)


def from_generation(text: str) -> Annotation:
    digit = parse_answer(text)
    if digit is None:
        shown = text.strip()[:80]
        return Annotation(None, raw=text, error=f"answer has no digit 0-5: {shown!r}")
    return Annotation(float(digit), digit, raw=text)


def cut(text: str, max_chars: int) -> str:
    """The start of ``text`` the model is shown: at most ``max_chars`` characters, ended at a space if one is near."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    space = head.rfind(" ", max_chars - 200)
    return head[:space] if space > 0 else head


class Annotator:
    """Scores texts with ``lm`` and ``rubric``; see the module docstring."""

    def __init__(self, lm: LM, rubric: Rubric, method: Method = "logprobs", max_chars: int = 3000,
                 batch_size: int = 8, max_consecutive_failures: int = 20, seed: int = 0) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
        self.lm = lm
        self.rubric = rubric
        self.method = method
        self.max_chars = max_chars
        self.batch_size = batch_size
        self.max_consecutive_failures = max_consecutive_failures
        self.seed = seed
        choice = Constraint("choice", list(SCORES))
        self.constraint = choice if lm.supports(choice) else None
        self.failures_in_a_row = 0
        self.stopped: str | None = None

    @property
    def constrained(self) -> bool:
        return self.method == "logprobs" or self.constraint is not None

    def annotate(self, texts: Sequence[str]) -> list[Annotation]:
        """One annotation per text, in order."""
        results: list[Annotation] = []
        for start in range(0, len(texts), self.batch_size):
            results += self._batch(list(texts[start:start + self.batch_size]))
        return results

    def _batch(self, texts: list[str]) -> list[Annotation]:
        if self.stopped:
            return [Annotation(None, error=self.stopped) for _ in texts]
        prompts = [self.rubric.prompt(cut(text, self.max_chars)) for text in texts]
        try:
            results = self._call(prompts)
        except Exception:  # noqa: BLE001 - isolate the failing document(s) below
            return [self._count(self._one(prompt)) for prompt in prompts]
        return [self._count(result) for result in results]

    def _one(self, prompt: object) -> Annotation:
        if self.stopped:
            return Annotation(None, error=self.stopped)
        try:
            return self._call([prompt])[0]
        except Exception as exc:  # noqa: BLE001 - a failed call is this document's null score
            return Annotation(None, error=f"{type(exc).__name__}: {exc}"[:500])

    def _count(self, result: Annotation) -> Annotation:
        if result.score is not None:
            self.failures_in_a_row = 0
            return result
        self.failures_in_a_row += 1
        if self.failures_in_a_row >= self.max_consecutive_failures and not self.stopped:
            self.stopped = (f"not scored: stopped after {self.failures_in_a_row} failed documents in a row "
                            f"(last: {result.error})")
        return result

    def _call(self, prompts: list) -> list[Annotation]:
        if self.method == "logprobs":
            return [from_logprobs(row) for row in self.lm.choice_logprobs(prompts, SCORES)]
        params = SamplingParams(max_tokens=2 if self.constraint else 8, temperature=0.0, seed=self.seed)
        return [from_generation(g.text) for g in self.lm.generate(prompts, params, self.constraint)]
