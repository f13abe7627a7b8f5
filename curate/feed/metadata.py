"""Metadata conditioning (MeCo): the text prepended to a document during the first share of training.

MeCo (Gao et al., 2025) prepends each document's URL domain (``URL: en.wikipedia.org``)
for most of pretraining and trains the last ~10% on plain text (the cool-down).
``field`` chooses the metadata: ``domain`` (the host of a ``url`` column or of
the ``url`` key in ``meta``, else the document's ``source``), ``source``, or any
output column or ``meta`` key.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import orjson
import pyarrow as pa

DOMAIN = "domain"
URL_KEYS = ("url", "URL", "link")


def domain_of(url: str | None) -> str | None:
    """The host of a URL without a leading ``www.``; None when there is none."""
    if not url:
        return None
    host = urlsplit(url if "//" in url else f"//{url}").hostname
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


def metadata_values(batch: pa.Table, field: str) -> list[tuple[str, str] | None]:
    """Per row, ``(label, value)`` of the metadata to prepend, or None when the row has none.

    The label is ``URL`` for a domain taken from a URL, ``source`` where ``domain`` falls back to the
    source, and the field name otherwise.
    """
    rows = batch.num_rows
    metas = _meta_dicts(batch) if "meta" in batch.column_names else [{}] * rows
    if field == DOMAIN:
        urls = batch["url"].to_pylist() if "url" in batch.column_names else [None] * rows
        sources = batch["source"].to_pylist() if "source" in batch.column_names else [None] * rows
        values: list[tuple[str, str] | None] = []
        for url, meta, source in zip(urls, metas, sources):
            url = url or next((meta[key] for key in URL_KEYS if isinstance(meta.get(key), str)), None)
            domain = domain_of(url)
            values.append(("URL", domain) if domain else ("source", source) if source else None)
        return values
    if field in batch.column_names:
        raw = batch[field].to_pylist()
    else:
        raw = [meta.get(field) for meta in metas]
    return [None if value in (None, "") else (field, str(value)) for value in raw]


def prefixes(batch: pa.Table, field: str, template: str | None = None) -> list[str | None]:
    """The prefix text of each row, or None without metadata.

    Without a ``template`` (text with ``{value}``), the prefix is ``"<label>: <value>\\n\\n"``, e.g.
    ``URL: en.wikipedia.org`` followed by a blank line, as in MeCo.
    """
    texts = []
    for item in metadata_values(batch, field):
        if item is None:
            texts.append(None)
        else:
            label, value = item
            texts.append(template.format(value=value) if template else f"{label}: {value}\n\n")
    return texts


def _meta_dicts(batch: pa.Table) -> list[dict]:
    dicts = []
    for raw in batch["meta"].to_pylist():
        try:
            value = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            value = {}
        dicts.append(value if isinstance(value, dict) else {})
    return dicts
