"""Inline SVG charts for the HTML report: horizontal bars and histograms, no JavaScript, no external files."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

import numpy as np

WIDTH = 640
HISTOGRAM_WIDTH = 500
PALETTE = ("#3b6ea8", "#d9822b", "#4f9a5b", "#b54a4a", "#7d5ba6", "#8c7a4a")


def number(value: float) -> str:
    """Short human form: 1,234 / 12.3k / 4.5M / 0.123."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    magnitude = abs(value)
    if magnitude >= 1e9:
        return f"{value / 1e9:.3g}G"
    if magnitude >= 1e6:
        return f"{value / 1e6:.3g}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.3g}k"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.3g}"


def figure(name: str, svg: str, caption: str) -> str:
    return (f'<figure class="chart" data-chart="{escape(name)}">{svg}'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def bars(name: str, labels: Sequence[str], series: Sequence[Sequence[float]], caption: str,
         legend: Sequence[str] = ()) -> str:
    """Horizontal bars, one row per label, one bar per series (e.g. documents and tokens side by side)."""
    series = [list(map(float, values)) for values in series]
    rows = len(labels)
    per_row = 6 + 16 * len(series)
    top = 22 if legend else 6
    height = top + rows * per_row + 6
    label_width = max(190, label_extent(labels) + 12)  # wide enough for the longest label: never cut
    plot = WIDTH - 260
    peaks = [max(values, default=0.0) or 1.0 for values in series]
    parts = [_open(height, caption, label_width + plot + 70)]
    for index, name_ in enumerate(legend):
        x = label_width + index * 140
        parts.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{PALETTE[index]}"/>'
                     f'<text x="{x + 14}" y="13" class="small">{escape(name_)}</text>')
    for row, label in enumerate(labels):
        y = top + row * per_row
        parts.append(f'<text x="{label_width - 6}" y="{y + per_row / 2 + 4:.1f}" text-anchor="end">'
                     f"<title>{escape(label)}</title>{escape(label)}</text>")
        for index, (values, peak) in enumerate(zip(series, peaks)):
            value = values[row]
            width = max(plot * value / peak, 0.5 if value else 0)
            bar_y = y + 3 + index * 16
            parts.append(f'<rect x="{label_width}" y="{bar_y}" width="{width:.1f}" height="13" '
                         f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(label)}: {value:,.6g}</title></rect>'
                         f'<text x="{label_width + width + 4:.1f}" y="{bar_y + 11}" class="small">{number(value)}</text>')
    parts.append("</svg>")
    return figure(name, "".join(parts), caption)


# Advance widths at 12px of sans-serif fonts (Helvetica, Arial, Segoe UI, Roboto), rounded up, by character class.
NARROW, WIDE = set("iljtfr.,:;'|!()[] "), set("mwMW@%")


def label_extent(labels: Sequence[str]) -> int:
    """Pixels the longest label takes at 12px, rounded up (a little wide rather than cut)."""
    def width(label: str) -> float:
        return sum(4.0 if c in NARROW else 12.0 if ord(c) >= 0x2E80 else 11.0 if c in WIDE
                   else 8.5 if c.isupper() else 7.0 for c in label)
    return math.ceil(max((width(label) for label in labels), default=0.0))


def histogram(name: str, values: np.ndarray, caption: str, bins: int = 30, log: bool | None = None) -> str:
    """A histogram of ``values`` (NaN ignored); log-spaced bins when positive values span over 3 decades."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return figure(name, _empty(caption), caption + " (no values)")
    low, high = float(values.min()), float(values.max())
    if log is None:
        log = low > 0 and high / low > 1000
    if low == high:
        edges = np.array([low - 0.5, high + 0.5])
    elif log:
        edges = np.geomspace(low, high, bins + 1)
    else:
        edges = np.linspace(low, high, bins + 1)
    counts, edges = np.histogram(values, bins=edges)
    height, left, bottom = 190, 52, 34
    plot_w, plot_h = HISTOGRAM_WIDTH - left - 16, height - bottom - 12
    peak = counts.max() or 1
    parts = [_open(height, caption, HISTOGRAM_WIDTH)]
    bar_w = plot_w / len(counts)
    for index, count in enumerate(counts):
        h = plot_h * count / peak
        x = left + index * bar_w
        parts.append(f'<rect x="{x:.1f}" y="{12 + plot_h - h:.1f}" width="{max(bar_w - 1, 0.5):.1f}" height="{h:.1f}" '
                     f'fill="{PALETTE[0]}"><title>{number(edges[index])}–{number(edges[index + 1])}: '
                     f"{count:,}</title></rect>")
    axis_y = 12 + plot_h
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}" class="axis"/>')
    parts.append(f'<line x1="{left}" y1="12" x2="{left}" y2="{axis_y}" class="axis"/>')
    for fraction in (0.0, 0.5, 1.0):
        index = round(fraction * len(counts))
        x = left + index * bar_w
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 14}" text-anchor="middle" class="small">'
                     f"{number(edges[index])}</text>")
    parts.append(f'<text x="{left - 4}" y="18" text-anchor="end" class="small">{number(peak)}</text>'
                 f'<text x="{left - 4}" y="{axis_y}" text-anchor="end" class="small">0</text>')
    scale = "log scale; " if log else ""
    stats = (f"{scale}n={values.size:,}, mean {number(values.mean())}, median {number(float(np.median(values)))}, "
             f"min {number(low)}, max {number(high)}")
    parts.append(f'<text x="{left + plot_w}" y="{height - 4}" text-anchor="end" class="small">{escape(stats)}</text>')
    parts.append("</svg>")
    return figure(name, "".join(parts), caption)


def _open(height: float, title: str, width: int = WIDTH) -> str:
    return (f'<svg width="{width}" height="{height:.0f}" '
            f'viewBox="0 0 {width} {height:.0f}" role="img"><title>{escape(title)}</title>')


def _empty(title: str) -> str:
    return _open(40, title) + '<text x="10" y="24" class="small">no values</text></svg>'
