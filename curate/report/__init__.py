"""``curate report OUT``: a self-contained HTML page about a run (funnel, drops, scores, mix, dedup, order, rewrites)."""

from curate.report.html import REPORT, write_report

__all__ = ["REPORT", "write_report"]
