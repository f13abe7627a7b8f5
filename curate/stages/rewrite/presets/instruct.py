"""``instruct``: a general instruct model writes the programs, from a chat prompt with one example."""

from __future__ import annotations

from typing import Any

from curate.rewriting import prompts
from curate.rewriting.program import decide_document
from curate.stages.rewrite.presets.written import WrittenPrograms


class Instruct(WrittenPrograms):
    """Chat prompts; answers parsed with curate's whitelist (an unparsable answer is an error)."""

    name = "instruct"

    def doc_prompt(self, body: str) -> Any:
        return [{"role": "system", "content": prompts.INSTRUCT_DOC_SYSTEM}, {"role": "user", "content": body}]

    def chunk_prompt(self, shown: list[str], first: int, width: int) -> Any:
        return [
            {"role": "system", "content": prompts.INSTRUCT_SYSTEM},
            {"role": "user", "content": prompts.INSTRUCT_EXAMPLE_INPUT},
            {"role": "assistant", "content": prompts.INSTRUCT_EXAMPLE_OUTPUT},
            {"role": "user", "content": f"[doc]\n{prompts.number_lines(shown, first, width)}\n[/doc]"},
        ]

    def decide(self, answer: str) -> tuple[bool, list[str]]:
        decision = decide_document(answer)
        return decision.drop, [f"document: {e}" for e in decision.errors]
