"""``line_lm`` (formerly ``small``): per-line and per-document decisions from SmolLM2's log-probabilities."""

from __future__ import annotations

import math

from curate.rewriting import prompts
from curate.stages.rewrite.presets.base import ChunkPrograms, DocumentDecision, Preset, removal_program


class LineLM(Preset):
    """Scores each line alone (P(boilerplate)) and each document (P(drop)); thresholds decide."""

    name = "line_lm"

    def document_pass(self, bodies: list[str]) -> list[DocumentDecision]:
        out: list[DocumentDecision] = []
        for p_drop in self.doc_drop_probabilities(bodies):
            drop = p_drop >= self.p.drop_threshold
            out.append(("drop_doc()" if drop else "keep_doc()", drop, [], 0))
        return out

    def chunk_pass(self, docs: dict[int, list[str]], chunks: dict[int, list[tuple[int, int]]],
                   counts: dict[int, list[int]]) -> ChunkPrograms:
        probabilities = self.line_probabilities(docs)
        out = {}
        for i, lines in docs.items():
            remove = {j for j, prob in probabilities[i].items() if prob >= self.p.line_threshold}
            out[i] = ([removal_program(lines, remove, first, last) for first, last in chunks[i]], 0)
        return out

    def line_probabilities(self, docs: dict[int, list[str]]) -> dict[int, dict[int, float]]:
        """P(boilerplate) of every non-empty line, by document and line index."""
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
        """P(drop) of each document text."""
        prompts_ = [prompts.DOC_PREFIX + prompts.DOC_TEMPLATE.format(text=" ".join(b.split())) for b in bodies]
        return [math.exp(score[0]) for score in self.lm.choice_logprobs(prompts_, prompts.DOC_CHOICES)]
