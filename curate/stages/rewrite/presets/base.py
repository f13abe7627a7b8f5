"""What every preset does: it writes the programs, and says how they run and when a document is emptied.

The rewriter (:class:`curate.stages.rewrite.rewriter.Rewriter`) owns the
loop: it splits documents into lines, packs chunks, asks its preset for the
document decisions (presets with a model) and the chunk programs, runs them
with the preset's executor and settles each document's status.
"""

from __future__ import annotations

from curate.lm import LM
from curate.rewriting.program import Execution, execute
from curate.rewriting.repeats import LineRepeats
from curate.stages.rewrite.params import RewriteParams

#: one document's decision: (program, drop, parse errors, generated tokens)
DocumentDecision = tuple[str, bool, list[str], int]
#: programs written per document index: (one program per chunk, generated tokens)
ChunkPrograms = dict[int, tuple[list[str], int]]


class Preset:
    """Who writes the programs. Subclasses set ``name`` and write the chunk programs; the ones with a
    model decide documents too."""

    name = ""

    def __init__(self, params: RewriteParams, lm: LM | None = None, doc_lm: LM | None = None,
                 repeats: LineRepeats | None = None) -> None:
        self.p = params
        self.lm = lm  # the chunk pass's model (and tokenizer)
        self.doc_lm = doc_lm or lm
        self.repeats = repeats  # blocks: line counts over the corpus; None: counted over each batch

    def token_lines(self, lines: list[str]) -> list[str]:
        """The texts whose token counts (plus one, for the newline) pack a document's lines into chunks."""
        return lines

    def document_pass(self, bodies: list[str]) -> list[DocumentDecision]:
        """Drop or keep each document, shown as ``bodies`` (cut to the document budget)."""
        raise NotImplementedError(f"the {self.name} preset has no document pass")

    def chunk_pass(self, docs: dict[int, list[str]], chunks: dict[int, list[tuple[int, int]]],
                   counts: dict[int, list[int]]) -> ChunkPrograms:
        """One program per chunk (inclusive line ranges) of each document, by document index."""
        raise NotImplementedError

    def execute(self, lines: list[str], chunks: list[tuple[int, int]], programs: list[str]) -> Execution:
        """Run a document's chunk programs (see :mod:`curate.rewriting.program`)."""
        return execute(lines, chunks, programs)

    def emptied(self, before: int, after: int, changed: bool, failed: bool) -> bool:
        """Whether a document with ``before`` words, ``after`` of them left, is dropped as emptied.

        curate's order: too many failed calls (``failed``) keep the original; an unchanged document is never
        dropped; an edit that leaves too few words drops the document.
        """
        p = self.p
        return not failed and changed and (after <= p.min_kept_words or after <= p.min_kept_fraction * before)


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
