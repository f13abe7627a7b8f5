"""The rubric prompt that asks a model for a 0-5 score of one document.

The default rubric is additive, in the spirit of FineWeb-Edu's annotation:
five criteria, one point each, so the total is a digit from 0 to 5. The model
is asked to answer with that digit only; :mod:`curate.annotate.scorer`
constrains or reads the answer, so even a weak model gives a usable score.

A user rubric is a UTF-8 text file. Where it contains ``{document}``, the
document is put there (the rest of the file is kept verbatim, braces
included); otherwise the document and the answer instruction are appended
after it. The prompt is sent as one user message of a chat.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from curate.lm import Prompt

PLACEHOLDER = "{document}"
SCORES = ("0", "1", "2", "3", "4", "5")

DEFAULT_RUBRIC = """\
Below is an extract from a web page or another text. Judge how useful it would be for teaching a student, \
from primary school up to university, and add up points with this rubric:

- 1 point if it gives some information on a topic worth learning about, even if it is mixed with \
advertising, navigation or other clutter.
- 1 more point if it covers material that a lesson could use, though it may be unorganised, incomplete \
or written for another purpose.
- 1 more point if it explains ideas a student needs in a clear, coherent way, like an introductory \
textbook or a good tutorial.
- 1 more point if it is well organised and focused, builds understanding step by step, and has little \
that is off topic.
- 1 more point if it is excellent teaching material: accurate, insightful, with examples or exercises, \
free of filler.

Spam, personal messages, jokes, insults and fragments without substance get 0 points.

Extract:
{document}

How many points does the extract get? Reply with one digit from 0 to 5 and nothing else."""


@dataclass(frozen=True)
class Rubric:
    """A prompt template with one ``{document}`` place; ``name`` says where it came from."""

    template: str
    name: str = "default"

    @classmethod
    def from_text(cls, text: str, name: str) -> Rubric:
        if not text.strip():
            raise ValueError(f"rubric {name} is empty")
        if PLACEHOLDER not in text:
            text = text.rstrip() + "\n\nExtract:\n" + PLACEHOLDER + "\n\nReply with one digit from 0 to 5 and nothing else."
        return cls(text, name)

    @classmethod
    def from_file(cls, path: str) -> Rubric:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read rubric file {path}: {exc}") from None
        return cls.from_text(text, path)

    @property
    def hash(self) -> str:
        """First 16 hex digits of the template's SHA-256: equal hashes, equal prompts."""
        return hashlib.sha256(self.template.encode("utf-8")).hexdigest()[:16]

    def prompt(self, document: str) -> Prompt:
        return [{"role": "user", "content": self.template.replace(PLACEHOLDER, document, 1)}]


DEFAULT = Rubric(DEFAULT_RUBRIC)
