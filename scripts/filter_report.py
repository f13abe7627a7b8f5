"""Share of documents each annotated filter would drop, overall and per source, from a run's output.

    curate run pipelines/quality.yaml --input data/sample --output out/quality
    python scripts/filter_report.py out/quality

Reads the ``<stage>_reason`` columns that ``mode: annotate`` writes (null: the
document passes) and prints a Markdown table: one row per stage, one column
per source, each cell "dropped / documents (percent)". The last row applies
the ``gopher_quality`` rules that ``pipelines/default.yaml`` keeps in drop
mode, recomputed from the measured columns with polars, as a user would.
"""

from __future__ import annotations

import argparse

import polars as pl

DEFAULT_GOPHER = (
    (pl.col("gopher_quality_hash_ratio") > 0.1)
    | (pl.col("gopher_quality_ellipsis_ratio") > 0.1)
    | (pl.col("gopher_quality_bullet_line_ratio") > 0.9)
    | (pl.col("gopher_quality_ellipsis_line_ratio") > 0.3)
    | (pl.col("gopher_quality_alpha_word_ratio") < 0.8)
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", help="output folder of a run with filters in mode: annotate")
    args = parser.parse_args()
    frame = pl.read_parquet(f"{args.output}/*.parquet")
    stages = [name[: -len("_reason")] for name in frame.columns if name.endswith("_reason")]
    checks = {stage: pl.col(f"{stage}_reason").is_not_null() for stage in stages}
    if "gopher_quality_hash_ratio" in frame.columns:
        checks["gopher_quality (default.yaml rules)"] = DEFAULT_GOPHER
    sources = sorted(frame["source"].unique().to_list())
    sizes = dict(frame.group_by("source").len().iter_rows())
    print("| stage | all | " + " | ".join(sources) + " |")
    print("|---" * (len(sources) + 2) + "|")
    for stage, check in checks.items():
        dropped = dict(frame.filter(check).group_by("source").len().iter_rows())
        total = sum(dropped.values())
        cells = [f"{total}/{frame.height} ({100 * total / frame.height:.1f}%)"]
        cells += [f"{dropped.get(s, 0)}/{sizes[s]} ({100 * dropped.get(s, 0) / sizes[s]:.0f}%)" for s in sources]
        print(f"| {stage} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
