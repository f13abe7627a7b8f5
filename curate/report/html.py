"""``curate report OUT``: one self-contained HTML page about a run (inline CSS and SVG, no scripts, no network)."""

from __future__ import annotations

import difflib
import os
import time
from html import escape

import polars as pl

from curate.report import data as collect
from curate.report.svg import bars, histogram

REPORT = "report.html"
EXAMPLE_CHARS = 4000
CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#222;margin:0 auto;max-width:1120px;
padding:0 24px 48px}
h1{font-size:22px;margin:24px 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}.meta{color:#666}nav a{margin-right:12px}
table{border-collapse:collapse;margin:8px 0}td,th{border-bottom:1px solid #eee;padding:3px 10px;text-align:right}
td:first-child,th:first-child,td.l,th.l{text-align:left}th{background:#f6f6f6}
figure.chart{display:inline-block;margin:8px 24px 8px 0;vertical-align:top}figcaption{color:#555;font-size:12px}
svg text{font:12px system-ui,sans-serif;fill:#333}svg text.small{font-size:11px;fill:#555}
svg .axis{stroke:#999;stroke-width:1}.grid{display:flex;flex-wrap:wrap}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:12px;margin:8px 0 20px}
.pair pre{white-space:pre-wrap;word-break:break-word;background:#fafafa;border:1px solid #eee;padding:8px;margin:0;
font-size:12px;max-height:420px;overflow:auto}del{background:#fdd;text-decoration:line-through}ins{background:#dfd;
text-decoration:none}.note{color:#666;font-size:12px}.ok{color:#2a7a2a}.bad{color:#b22}
"""


def _table(headers: list[str], rows: list[list[object]], left: int | set[int] = 1) -> str:
    """A table; columns numbered in ``left`` (or the first ``left`` columns) are left-aligned."""
    lefts = set(range(left)) if isinstance(left, int) else left
    head = "".join(f'<th class="{"l" if i in lefts else ""}">{escape(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i in lefts else ""}">{escape(_cell(v))}</td>'
                                    for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def _short(text: str | None, width: int = 160) -> str:
    text = (text or "").replace("\n", " ⏎ ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _summary(data: collect.RunData) -> str:
    docs = data.manifest.documents
    balance = '<span class="ok">holds</span>' if docs.balanced else '<span class="bad">does not hold</span>'
    return (f"<p>{docs.input:,} documents in, {docs.created:,} created, <b>{docs.output:,} out</b>, "
            f"{docs.dropped:,} dropped (in + created = out + dropped {balance}); "
            f"<b>{int(data.tokens.sum()):,} tokens</b> out ({escape(data.token_source)}); "
            f"{len(data.manifest.output.shards)} shard(s); run took {data.manifest.wall_seconds:,.1f}s.</p>")


def _funnel(data: collect.RunData) -> str:
    rows = collect.funnel(data)
    labels = [r["stage"] for r in rows]
    chart = bars("funnel", labels, [[r["documents_out"] for r in rows], [r["tokens_out"] for r in rows]],
                 "Documents and tokens kept after each stage", legend=("documents", "tokens"))
    table = _table(["stage", "kind", "documents in", "created", "documents out", "tokens in", "tokens out", "kept %"],
                   [[r["stage"], r["kind"], r["documents_in"], r["created"], r["documents_out"], r["tokens_in"],
                     r["tokens_out"], round(100 * r["documents_out"] / max(r["documents_in"] + r["created"], 1), 1)]
                    for r in rows], left=2)
    note = ('<p class="note">Tokens are those of each document\'s final text (its output version, or its copy in '
            "_dropped/), " + escape(data.token_source) + ".</p>")
    return chart + table + note


def _drops(data: collect.RunData) -> str:
    reasons = [(f"{r.name}/{reason}", count) for r in data.manifest.stages for reason, count in r.dropped.items()]
    if not reasons:
        return "<p>No document was dropped.</p>"
    reasons.sort(key=lambda item: -item[1])
    chart = bars("drop-reasons", [r for r, _ in reasons], [[c for _, c in reasons]], "Dropped documents by stage/reason")
    examples = []
    dropped = data.dropped
    for (stage, reason), group in dropped.group_by(["stage", "reason"], maintain_order=True):
        for row in group.head(2).iter_rows(named=True):
            examples.append([f"{stage}/{reason}", row["id"], _short(row.get("detail") or ""), _short(row["text"], 100)])
    return chart + "<h3>Examples</h3>" + _table(["stage/reason", "id", "detail", "text"], examples, left=4)


def _scores(data: collect.RunData) -> str:
    columns = collect.score_columns(data.documents)
    charts = [histogram(f"score-{name}", data.documents[name].cast(pl.Float64).to_numpy(), name)
              for name in columns]
    charts.append(histogram("tokens-per-document", data.tokens, "tokens per output document"))
    return '<div class="grid">' + "".join(charts) + "</div>"


def _mix(data: collect.RunData) -> str:
    parts = []
    language = collect.language_column(data.documents)
    for column, title in ((language, "Language mix"), ("source", "Source mix")):
        if column is None or column not in data.documents.columns:
            continue
        counts = (data.documents.with_columns(tokens=pl.Series(data.tokens))
                  .group_by(column).agg(pl.len().alias("documents"), pl.col("tokens").sum())
                  .sort("documents", descending=True))
        top = counts.head(20)
        labels = [str(v) for v in top[column].to_list()]
        parts.append(bars(f"mix-{column}", labels, [top["documents"].to_list(), top["tokens"].to_list()],
                          f"{title} ({column}): documents and tokens" + (", top 20" if counts.height > 20 else ""),
                          legend=("documents", "tokens")))
    if language is None:
        parts.append('<p class="note">No language column in the output (add a language-identification stage).</p>')
    return "".join(parts)


def _dedup(data: collect.RunData) -> str:
    clusters = collect.duplicate_clusters(data.dropped)
    if clusters.height == 0:
        return "<p>No duplicates were dropped.</p>"
    sizes = clusters["size"].value_counts().sort("size")
    chart = bars("dedup-cluster-sizes", [f"{s} copies" for s in sizes["size"].to_list()], [sizes["count"].to_list()],
                 f"Duplicate clusters by size ({clusters.height:,} clusters, {int(clusters['size'].sum()):,} documents)")
    top = [[row["duplicate_of"], row["size"], row["stage"], _short(row["text"], 120)]
           for row in clusters.head(8).iter_rows(named=True)]
    return chart + "<h3>Largest clusters</h3>" + _table(["kept document", "size", "stage", "text"], top, left={0, 2, 3})


def _icp(data: collect.RunData) -> str:
    record = next((r for r in data.manifest.stages if "adjacent_similarity" in r.stats), None)
    parts = []
    if record is not None:
        stats = record.stats
        names = [k for k in ("adjacent_similarity", "random_similarity", "ceiling_similarity") if k in stats]
        labels = [{"adjacent_similarity": "adjacent documents", "random_similarity": "random order",
                   "ceiling_similarity": "nearest neighbour (ceiling)"}[k] for k in names]
        parts.append(bars("icp-similarity", labels, [[float(stats[k]) for k in names]],
                          f"{record.name}: mean cosine similarity of consecutive documents vs a random order"))
    if "context_id" in data.documents.columns:
        frame = data.documents.select("context_id").with_columns(tokens=pl.Series(data.tokens))
        per_context = frame.group_by("context_id").agg(pl.len().alias("documents"), pl.col("tokens").sum())
        parts.append(histogram("icp-context-documents", per_context["documents"].to_numpy(), "documents per context"))
        parts.append(histogram("icp-context-tokens", per_context["tokens"].to_numpy(), "tokens per context"))
    if not parts:
        return "<p>The run has no in-context-pretraining order.</p>"
    return '<div class="grid">' + "".join(parts) + "</div>"


def _pii(data: collect.RunData) -> str:
    """Per kind of personal data: matches (replaced, annotated or counted for drops), documents, exempted."""
    parts = []
    for record in data.manifest.stages:
        stats = record.stats
        if not all(isinstance(stats.get(key), dict) for key in ("matches", "documents", "exempted")):
            continue
        kinds = list(stats["matches"])
        columns = [[stats[key].get(kind, 0) for kind in kinds] for key in ("matches", "documents", "exempted")]
        mode = record.params.get("mode", "replace")
        parts.append(bars(f"pii-{record.index}", kinds, columns,
                          f"{record.index} {record.name} (mode {mode}): matches, documents with a match and "
                          "exempted values (documentation, private, version-like) per kind",
                          legend=("matches", "documents", "exempted")))
    return "".join(parts) or "<p>The run has no personal-data stage.</p>"


def _diff(before: str, after: str) -> tuple[str, str]:
    """Line-level diff: removed lines struck through on the left, added lines highlighted on the right."""
    left, right = [], []
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        old = "\n".join(matcher.a[a0:a1])
        new = "\n".join(matcher.b[b0:b1])
        if op == "equal":
            left.append(escape(old))
            right.append(escape(new))
            continue
        if a1 > a0:
            left.append(f"<del>{escape(old)}</del>")
        if b1 > b0:
            right.append(f"<ins>{escape(new)}</ins>")
    return "\n".join(left), "\n".join(right)


def _rewrites(data: collect.RunData) -> str:
    examples = collect.rewrites(data)
    if not examples:
        return "<p>No rewritten documents in the output.</p>"
    parts = []
    for example in examples:
        before = (example["before"] or "")[:EXAMPLE_CHARS]
        after = (example["after"] or "")[:EXAMPLE_CHARS]
        if example["before"] is None:
            left, right = "(the text before is not kept: set keep_original: true, or keep checkpoints)", escape(after)
        else:
            left, right = _diff(before, after)
        parts.append(f'<h3>{escape(example["id"])}</h3><div class="pair"><div><b>before</b> '
                     f'({len(example["before"] or ""):,} chars)<pre>{left}</pre></div><div><b>after</b> '
                     f'({len(example["after"] or ""):,} chars)<pre>{right}</pre></div></div>')
    return "".join(parts)


def _packed(data: collect.RunData) -> str:
    from curate.feed.pack import PACKED, read_pack_manifest
    from curate.feed.shards import PACK_MANIFEST

    folder = os.path.join(data.output, PACKED)
    if not os.path.isfile(os.path.join(folder, PACK_MANIFEST)):
        return '<p class="note">Not packed yet: <code>curate pack OUT</code> writes token shards.</p>'
    pack = read_pack_manifest(folder)
    lengths = list(pack.sequences_by_length)
    chart = bars("packed-lengths", [f"{n} tokens" for n in lengths],
                 [[pack.sequences_by_length[n] for n in lengths]], "Packed rows by length")
    total = pack.sequences and sum(n * c for n, c in pack.sequences_by_length.items())
    rows = [["tokenizer", pack.tokenizer.get("name")], ["documents", pack.documents],
            ["document tokens", pack.document_tokens], ["metadata prefix tokens", pack.metadata_tokens],
            ["documents with metadata", pack.metadata_documents], ["padding tokens", pack.padding_tokens],
            ["padding share", f"{100 * pack.padding_tokens / max(total, 1):.2f}%"], ["rows", pack.sequences]]
    stale = ""
    if pack.run_created and pack.run_created != data.manifest.created:
        stale = (f'<p class="bad">Packed from the run of {escape(pack.run_created)}, not this one '
                 f"({escape(data.manifest.created)}): run curate pack again.</p>")
    return stale + chart + _table(["packed", ""], rows)


SECTIONS = (
    ("funnel", "Funnel", _funnel),
    ("drops", "Drop reasons", _drops),
    ("scores", "Score columns", _scores),
    ("mix", "Language and source mix", _mix),
    ("dedup", "Duplicate clusters", _dedup),
    ("pii", "Personal data", _pii),
    ("icp", "In-context-pretraining order", _icp),
    ("rewrites", "Rewritten documents", _rewrites),
    ("packed", "Packed tokens", _packed),
)


def render(data: collect.RunData) -> str:
    manifest = data.manifest
    nav = "".join(f'<a href="#{key}">{escape(title)}</a>' for key, title, _ in SECTIONS)
    body = "".join(f'<section id="{key}"><h2>{escape(title)}</h2>{build(data)}</section>'
                   for key, title, build in SECTIONS)
    title = f"curate report: {os.path.basename(os.path.abspath(data.output))}"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head><body>'
            f"<h1>{escape(title)}</h1><p class=\"meta\">{escape(os.path.abspath(data.output))} · config "
            f"{escape(manifest.config_hash)} · run {escape(manifest.created)} · report "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}</p>{_summary(data)}<nav>{nav}</nav>{body}"
            "</body></html>\n")


def write_report(output: str, path: str | None = None, tokenizer: str | None = "default") -> str:
    """Write the report of ``output`` (default ``OUT/report.html``); returns its path."""
    data = collect.load(output, tokenizer)
    path = path or os.path.join(output, REPORT)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(render(data))
    os.replace(tmp, path)
    return path
