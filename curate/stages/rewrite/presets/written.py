"""Presets whose model writes the programs itself (``instruct``, ``prox``): they differ in their prompts,
in how an answer decides a document, and (prox) in how programs run."""

from __future__ import annotations

from typing import Any

from curate.lm import LM, Constraint, SamplingParams
from curate.rewriting import prompts
from curate.stages.rewrite.budget import shown_lines
from curate.stages.rewrite.presets.base import ChunkPrograms, DocumentDecision, Preset


class WrittenPrograms(Preset):
    """A model answers each document with ``drop_doc()``/``keep_doc()`` and each chunk with a program."""

    def doc_prompt(self, body: str) -> Any:
        """The document pass's prompt (text or chat messages) for one document."""
        raise NotImplementedError

    def chunk_prompt(self, shown: list[str], first: int, width: int) -> Any:
        """The chunk pass's prompt for the lines ``shown``, the first numbered ``first`` (``width`` digits)."""
        raise NotImplementedError

    def decide(self, answer: str) -> tuple[bool, list[str]]:
        """Whether the document model's answer drops the document, and the errors found in it."""
        raise NotImplementedError

    def document_pass(self, bodies: list[str]) -> list[DocumentDecision]:
        constraint = Constraint("grammar", prompts.doc_grammar())
        generations = self.doc_lm.generate([self.doc_prompt(b) for b in bodies],
                                           self._sampling(self.p.doc_max_new_tokens),
                                           self._constraint(constraint, self.doc_lm))
        out: list[DocumentDecision] = []
        for generation in generations:
            text = generation.text.strip(" ")
            drop, errors = self.decide(text)
            out.append((text, drop, errors, generation.tokens))
        return out

    def chunk_pass(self, docs: dict[int, list[str]], chunks: dict[int, list[tuple[int, int]]],
                   counts: dict[int, list[int]]) -> ChunkPrograms:
        requests: list[tuple[int, int, int]] = []
        prompt_list = []
        for i, lines in docs.items():
            width = max(3, len(str(len(lines) - 1)))
            for first, last in chunks[i]:
                shown = shown_lines(lines[first:last + 1], counts[i][first:last + 1], self.p.chunk_tokens, self.lm)
                prompt_list.append(self.chunk_prompt(shown, first, width))
                requests.append((i, first, last))
        grammar = Constraint("grammar", prompts.chunk_grammar(0, 0).replace('num ::= "0"', "num ::= [0-9]{1,6}"))
        generations = self.lm.generate(prompt_list, self._sampling(self.p.chunk_max_new_tokens),
                                       self._constraint(grammar, self.lm))
        out: ChunkPrograms = {i: ([], 0) for i in docs}
        for (i, _first, _last), generation in zip(requests, generations):
            programs, generated = out[i]
            out[i] = ([*programs, generation.text.strip(" ")], generated + generation.tokens)
        return out

    def _sampling(self, max_tokens: int) -> SamplingParams:
        return SamplingParams(max_tokens=max_tokens, temperature=self.p.temperature,
                              repeat_penalty=self.p.repeat_penalty, seed=self.p.lm.seed)

    def _constraint(self, constraint: Constraint, lm: LM | None) -> Constraint | None:
        return constraint if self.p.grammar and lm is not None and lm.supports(constraint) else None
