"""``prox``: ProX's released refining models, prompted as ProX does, their programs run as ProX runs them."""

from __future__ import annotations

from typing import Any

from curate.rewriting import prompts
from curate.rewriting.program import Execution
from curate.rewriting.prox_executor import execute_prox
from curate.stages.rewrite.presets.written import WrittenPrograms


class Prox(WrittenPrograms):
    """ProX's prompts, token counts, executor (:mod:`curate.rewriting.prox_executor`) and dropping rule."""

    name = "prox"

    def token_lines(self, lines: list[str]) -> list[str]:
        """The numbered lines ``[007]text`` (plus BOS, in the count), as ProX counts them when packing chunks."""
        return [prompts.prox_numbered(line, j) for j, line in enumerate(lines)]

    def doc_prompt(self, body: str) -> Any:
        return prompts.prox_prompt(body, self.p.prox_system, self.p.prox_chat_template)

    def chunk_prompt(self, shown: list[str], first: int, width: int) -> Any:
        return prompts.prox_prompt(prompts.prox_chunk(shown, first), self.p.prox_system, self.p.prox_chat_template)

    def decide(self, answer: str) -> tuple[bool, list[str]]:
        """ProX's executor: any output mentioning "drop" drops; nothing else is an error."""
        return "drop" in answer, []

    def execute(self, lines: list[str], chunks: list[tuple[int, int]], programs: list[str]) -> Execution:
        return execute_prox(lines, chunks, programs)

    def emptied(self, before: int, after: int, changed: bool, failed: bool) -> bool:
        """ProX's ``execute_meta_operations`` (``utils/chunk_utils.py``): at most ``min_kept_fraction`` of the
        words left drops when the errors are below ``max_errors``; at most ``min_kept_words`` words left drops
        always (even an unchanged document, even after too many errors)."""
        p = self.p
        return (after <= p.min_kept_fraction * before and not failed) or after <= p.min_kept_words
