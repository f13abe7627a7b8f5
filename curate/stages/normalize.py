"""``normalize``: Unicode normalisation and whitespace / control-character clean-up."""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curate.stage import MapStage, StageParams
from curate.tables import mark_drops

# C0 and C1 control characters except tab and newline, plus zero-width and BOM
# characters that only ever reach pretraining text by accident.
CONTROL_CHARS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\x{200b}\x{200e}\x{200f}\x{feff}]"


class NormalizeParams(StageParams):
    form: Literal["NFC", "NFKC", "NFD", "NFKD", "none"] = Field("NFC", description="Unicode normal form, or none.")
    strip_control: bool = Field(True, description="Remove control characters (tab and newline kept), zero-width characters and BOMs.")
    newlines: bool = Field(True, description="Turn \\r\\n and lone \\r into \\n.")
    collapse_spaces: bool = Field(True, description="Collapse runs of spaces/tabs to one space and strip them at line ends.")
    max_blank_lines: int | None = Field(1, ge=0, description="Keep at most this many consecutive blank lines (None: keep all).")
    strip: bool = Field(True, description="Strip whitespace at both ends of the document.")


class Normalize(MapStage[NormalizeParams]):
    """Clean text so later stages (hashing, filters, models) see canonical text.

    A document that is empty after clean-up is dropped with reason
    ``empty_after_normalize``.
    """

    name = "normalize"
    Params = NormalizeParams

    def process_batch(self, batch: pa.Table) -> pa.Table:
        p = self.params
        text = batch.column("text")
        if p.form != "none":
            text = pc.utf8_normalize(text, form=p.form)
        if p.newlines:
            text = pc.replace_substring_regex(text, pattern=r"\r\n?", replacement="\n")
        if p.strip_control:
            text = pc.replace_substring_regex(text, pattern=CONTROL_CHARS, replacement="")
        if p.collapse_spaces:
            text = pc.replace_substring_regex(text, pattern=r"[ \t\x{a0}\x{3000}]+", replacement=" ")
            text = pc.replace_substring_regex(text, pattern=r" ?\n ?", replacement="\n")
        if p.max_blank_lines is not None:
            limit = p.max_blank_lines + 1
            text = pc.replace_substring_regex(text, pattern=f"\\n{{{limit + 1},}}", replacement="\n" * limit)
        if p.strip:
            text = pc.utf8_trim_whitespace(text)
        batch = batch.set_column(batch.schema.get_field_index("text"), "text", text)
        empty = pc.equal(pc.utf8_length(pc.fill_null(text, "")), 0)
        return mark_drops(batch, empty, "empty_after_normalize")
