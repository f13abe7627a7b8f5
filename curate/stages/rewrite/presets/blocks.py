"""``blocks`` (the default, no LM): a light classifier's decisions on blocks of lines, written as programs."""

from __future__ import annotations

from curate.rewriting.block_head import block_removals, default_head
from curate.rewriting.repeats import LineRepeats
from curate.stages.rewrite.presets.base import ChunkPrograms, Preset, removal_program


class Blocks(Preset):
    """Removes boilerplate blocks, block edges and runs between whole sentences (see
    :mod:`curate.rewriting.block_head`); no document pass."""

    name = "blocks"

    def chunk_pass(self, docs: dict[int, list[str]], chunks: dict[int, list[tuple[int, int]]],
                   counts: dict[int, list[int]]) -> ChunkPrograms:
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
