"""``html_extract``: the main content of a web page as plain text, by trafilatura; menus, footers and share bars go.

Reads the HTML in ``text`` (as the WARC reader gives it) and the page's URL
from ``meta`` (key ``url_field``; trafilatura uses it to resolve and filter
links), and writes the main text to ``output_column`` and the page title
(``<title>``, ``og:title`` or the main heading, as trafilatura's metadata
finds it) to ``title``. With ``output_column: text`` the HTML is replaced
(``keep_html: true`` keeps it in the column ``html``); with another output
column ``text`` keeps the HTML for a later stage.

Drops, each with a reason and a detail: ``no_content`` (nothing that
trafilatura takes for main text: an empty, broken or binary page, a page of
navigation only), ``html_too_large`` (over ``max_html_bytes``: extraction
time grows with the page, and crawlers cut pages at 1 MiB) and
``extract_error`` (trafilatura raised on this page; the run goes on). Dropped
rows keep their HTML in ``text``.
"""

from __future__ import annotations

import importlib.util
import logging

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from curate.errors import ConfigError
from curate.stage import MapStage, StageParams, Stats
from curate.stages.text_units import texts
from curate.tables import drop_mask, mark_drops, set_column

TITLE = "title"
HTML = "html"
RESERVED = ("id", "source", "meta", TITLE, HTML)


class HtmlExtractParams(StageParams):
    favor_precision: bool = Field(False, description="Keep less text that may be chrome (trafilatura's "
                                                     "favor_precision).")
    favor_recall: bool = Field(False, description="Keep more text that may be content (trafilatura's favor_recall).")
    include_tables: bool = Field(True, description="Keep the text of tables in the main content.")
    include_comments: bool = Field(False, description="Keep the comment section under an article.")
    output_column: str = Field("text", description="Column for the main text; 'text' replaces the HTML.")
    keep_html: bool = Field(False, description="With output_column 'text': keep the HTML in the column 'html'.")
    max_html_bytes: int = Field(2 * 2**20, gt=0, description="Drop larger pages (html_too_large) unread.")
    url_field: str = Field("url", description="Key of the page URL in meta (absent: extraction without a URL).")

    @model_validator(mode="after")
    def _consistent(self) -> HtmlExtractParams:
        if self.favor_precision and self.favor_recall:
            raise ValueError("favor_precision and favor_recall exclude each other; set at most one")
        if self.output_column.startswith("_") or self.output_column in RESERVED:
            raise ValueError(f"output_column {self.output_column!r} is taken; use 'text' or a new column name")
        if self.keep_html and self.output_column != "text":
            raise ValueError("keep_html applies to output_column 'text'; with another output column the HTML "
                             "stays in 'text'")
        return self


class HtmlExtract(MapStage[HtmlExtractParams]):
    """Main text of HTML pages (trafilatura); columns ``<output_column>``, ``title`` (and ``html``).

    Stats: ``checked`` (documents not dropped before), ``extracted``,
    ``html_bytes`` and ``text_chars`` (of the extracted documents) and, in the
    summary, ``text_per_html_byte``.
    """

    name = "html_extract"
    Params = HtmlExtractParams
    batch_size = 256

    def __init__(self, params: HtmlExtractParams | None = None, **kwargs: object) -> None:
        super().__init__(params, **kwargs)
        if importlib.util.find_spec("trafilatura") is None:
            raise ConfigError("html_extract needs trafilatura: pip install 'curate[web]'")

    def setup(self) -> None:
        logging.getLogger("trafilatura").setLevel(logging.ERROR)  # one warning line per odd page otherwise

    def process_batch(self, batch: pa.Table) -> tuple[pa.Table, Stats]:
        from trafilatura import extract
        from trafilatura.metadata import extract_title
        from trafilatura.utils import load_html

        p = self.params
        live = ~drop_mask(batch)
        original = batch.column("text").combine_chunks()
        html = texts(batch)
        sizes = np.asarray(pc.binary_length(html.cast(pa.binary())).to_numpy(zero_copy_only=False), dtype=np.int64)
        urls = self._urls(batch)
        n = batch.num_rows
        out: list[str | None] = [None] * n
        titles: list[str | None] = [None] * n
        reasons = np.full(n, None, dtype=object)
        details = np.full(n, None, dtype=object)
        for i, page in enumerate(html.to_pylist()):
            if not live[i]:
                continue
            if sizes[i] > p.max_html_bytes:
                reasons[i], details[i] = "html_too_large", f"html_bytes={sizes[i]} > {p.max_html_bytes}"
                continue
            try:
                tree = load_html(page) if page.strip() else None
                if tree is not None:
                    titles[i] = extract_title(tree)  # before extraction, which prunes the tree
                    out[i] = extract(tree, url=urls[i], favor_precision=p.favor_precision,
                                     favor_recall=p.favor_recall, include_tables=p.include_tables,
                                     include_comments=p.include_comments)
            except Exception as exc:  # noqa: BLE001 - one page of the open web must not stop a run
                reasons[i], details[i] = "extract_error", f"{type(exc).__name__}: {str(exc)[:200]}"
                continue
            if not (out[i] or "").strip():
                out[i] = None
                reasons[i], details[i] = "no_content", "no main text found"
        extracted = live & (reasons == None)  # noqa: E711
        batch = self._write(batch, original, out, titles, extracted)
        batch = mark_drops(batch, reasons != None, reasons, details)  # noqa: E711
        chars = sum(len(out[i]) for i in np.flatnonzero(extracted))
        return batch, {"checked": int(live.sum()), "extracted": int(extracted.sum()),
                       "html_bytes": int(sizes[extracted].sum()), "text_chars": int(chars)}

    def _urls(self, batch: pa.Table) -> list[str | None]:
        key = self.params.url_field
        urls: list[str | None] = []
        for meta in batch.column("meta").to_pylist() if "meta" in batch.column_names else [None] * batch.num_rows:
            try:
                value = orjson.loads(meta).get(key) if meta else None
            except (orjson.JSONDecodeError, AttributeError):
                value = None
            urls.append(value if isinstance(value, str) else None)
        return urls

    def _write(self, batch: pa.Table, html: pa.Array, out: list[str | None], titles: list[str | None],
               extracted: np.ndarray) -> pa.Table:
        """Main text where extracted (the HTML stays on other rows of ``text``), titles, and the HTML if kept."""
        p = self.params
        main = pa.array(out, pa.string())
        if p.output_column == "text":
            batch = set_column(batch, "text", pc.if_else(pa.array(extracted), main, html))
            if p.keep_html:
                batch = set_column(batch, HTML, html)
        else:
            batch = set_column(batch, p.output_column, main)
        return set_column(batch, TITLE, pa.array(titles, pa.string()))

    @classmethod
    def summarize(cls, stats: Stats) -> Stats:
        html_bytes = stats.get("html_bytes", 0)
        return {**stats, "text_per_html_byte": round(stats.get("text_chars", 0) / html_bytes, 4) if html_bytes else 0.0}
