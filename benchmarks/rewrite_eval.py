"""Cross-source evaluation of boilerplate removal: fit on some sources, report on others.

Builds the evaluation set of :mod:`benchmarks._rewrite_evalset` (real text from
many sources, boilerplate injected around and between paragraphs, plus the
labelled ``boilerplate_pairs`` pages) and reads the real web pages of
:mod:`benchmarks._web_pages` (html2text output scored by snippets of content and
chrome, split by site into fit, held-out and confirm parts), fits the ``blocks``
preset's classifier and every baseline's threshold on the ``fit`` sources and the
fit web pages, and reports on the ``eval`` and ``confirm`` sources and on the
held-out and confirm web pages (per language), in one run:

* ``keep_all``: removes nothing;
* ``repeated_lines``: removes lines that occur on many pages of the evaluated
  set (site chrome repeats from page to page);
* ``short_lines``: removes short lines without a sentence end and lines with
  many link separators or site-chrome words (jusText-like rules);
* ``blocks`` (the default preset): the fitted classifier, decisions on blocks;
* ``blocks_lines``: the same classifier deciding line by line (shows what the
  block rules are worth);
* ``blocks_batch``: the classifier with line repetition counted within each
  batch of the stage instead of over the whole input (``corpus_repeats: false``);
* ``blocks@T``: the classifier at a higher threshold T (``block_threshold``);
* ``line_lm`` (with ``--lm-docs N``): the earlier per-line SmolLM2 classifier
  on the first N evaluation documents, for quality and lines/s;
* ``trafilatura`` (web pages only): trafilatura's extraction from the page's
  HTML, the upper reference (it sees the markup that the text lost).

Per method: token-weighted content kept and boilerplate removed with 95%
bootstrap intervals (over documents), the share of documents with a broken
paragraph (a kept paragraph missing an inner line), per source and over all;
and lines/s on one core.

    python benchmarks/rewrite_eval.py                 # report
    python benchmarks/rewrite_eval.py --save          # also write curate/rewriting/block_head.json
    python benchmarks/rewrite_eval.py --lm-docs 6     # add the per-line LM (slow: a model call per line)
    python benchmarks/rewrite_eval.py --no-web        # documentation splits only (no web_pages corpus needed)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xxhash

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks import _web_pages as web_pages
from benchmarks._compare import add_smoke_flag, compare
from benchmarks._corpora import DEFAULT_CORPORA, require_corpora
from benchmarks._rewrite_evalset import CONFIRM_SOURCES, EVAL_SOURCES, FIT_SOURCES, EvalDoc, build
from benchmarks._web_pages import WebPage, page_counts
from curate.rewriting.block_head import WEIGHTS, BlockHead, block_removals, is_web_page
from curate.rewriting.features import NAMES, WEB_NAMES, document_features, line_shape
from curate.rewriting.repeats import LineRepeats
from curate.rewriting.trees import Trees
from curate.stages.rewrite import Rewrite

Doc = EvalDoc | WebPage
#: a method's answer per document: the lines it removes, or (a peer working on the HTML) its output text
Method = Callable[[list[Doc]], list[set[int] | str]]
REPORTED_TARGET = 0.98  # the content share to keep on every held-out source
#: the content share a threshold must keep on every left-out fit source (see loso_threshold): the reported
#: target plus half a point for the noise of an estimate made from a few sources
LOSO_TARGET = REPORTED_TARGET + 0.005
#: other thresholds of the shipped classifier reported beside the default, for choosing ``block_threshold``
OPERATING_POINTS = (0.3, 0.6)


# ------------------------------------------------------------------ metrics


def doc_counts(doc: Doc, removed: set[int] | str) -> tuple[int, int, int, int, bool]:
    """Content tokens, content kept, boilerplate tokens, boilerplate removed, whether a paragraph broke.

    A web page is scored by its snippets (:func:`benchmarks._web_pages.page_counts`) on the text left (or the
    method's own output text); a document of the evaluation set by its line labels."""
    if isinstance(doc, WebPage):
        output = removed if isinstance(removed, str) else "\n".join(
            line for i, line in enumerate(doc.lines) if i not in removed)
        return page_counts(doc, output)
    content = kept = boiler = gone = 0
    for i, label in enumerate(doc.labels):
        if label is None:
            continue
        n = len(doc.lines[i].split())
        if label:
            content += n
            kept += n * (i not in removed)
        else:
            boiler += n
            gone += n * (i in removed)
    by_paragraph: dict[int, list[bool]] = {}
    for i, pid in enumerate(doc.paragraphs):
        if pid is not None:
            by_paragraph.setdefault(pid, []).append(i in removed)
    broken = False
    for flags in by_paragraph.values():
        kept_at = [k for k, r in enumerate(flags) if not r]
        if kept_at and any(flags[k] for k in range(kept_at[0], kept_at[-1] + 1)):
            broken = True
    return content, kept, boiler, gone, broken


def count_rows(docs: list[Doc], removals: list[set[int] | str]) -> np.ndarray:
    """One :func:`doc_counts` row per document."""
    return np.array([doc_counts(d, r) for d, r in zip(docs, removals)], dtype=np.float64)


def shares(rows: np.ndarray) -> tuple[float, float]:
    """Token-weighted content kept and boilerplate removed over rows of :func:`count_rows`."""
    return rows[:, 1].sum() / max(1, rows[:, 0].sum()), rows[:, 3].sum() / max(1, rows[:, 2].sum())


def report(docs: list[Doc], removals: list[set[int] | str], rng: np.random.Generator, resamples: int = 300) -> dict:
    rows = count_rows(docs, removals)
    kept, removed = shares(rows)
    boots = np.array([shares(rows[rng.integers(0, len(rows), len(rows))]) for _ in range(resamples)])
    low, high = np.percentile(boots, [2.5, 97.5], axis=0).tolist()
    return {"documents": len(docs), "content_tokens": int(rows[:, 0].sum()), "boilerplate_tokens": int(rows[:, 2].sum()),
            "content_kept": round(kept, 4), "content_kept_ci": [round(low[0], 4), round(high[0], 4)],
            "boilerplate_removed": round(removed, 4), "boilerplate_removed_ci": [round(low[1], 4), round(high[1], 4)],
            "broken_documents": round(rows[:, 4].mean(), 4)}


# ------------------------------------------------------------------ methods


def normal(line: str) -> str:
    return " ".join(line.lower().split())


def repeated_lines(min_pages: int) -> Method:
    def run(docs: list[EvalDoc]) -> list[set[int]]:
        pages = Counter(key for d in docs for key in {normal(line) for line in d.lines if line.strip()})
        return [{i for i, line in enumerate(d.lines) if line.strip() and pages[normal(line)] >= min_pages}
                for d in docs]
    return run


_SENTENCE_END = re.compile(r"[.!?:;\"')]$")


def short_line_rule(max_words: int) -> Callable[[str], bool]:
    def boilerplate(line: str) -> bool:
        shape = line_shape(line)
        words = len(line.split())
        return ((words <= max_words and not _SENTENCE_END.search(line.strip()))
                or shape["separator_share"] >= 0.3 or (shape["chrome_share"] >= 0.3 and words <= 12))
    return boilerplate


def short_lines(max_words: int) -> Method:
    rule = short_line_rule(max_words)
    return lambda docs: [{i for i, line in enumerate(d.lines) if line.strip() and rule(line)} for d in docs]


def corpus_counts(docs: list[EvalDoc], batch: int | None = None) -> list[list[int]]:
    """Per document and line: in how many documents of ``docs`` the line occurs (the stage's ``prepare`` counts
    over its whole input the same way); with ``batch``, within consecutive batches of that many documents only
    (``corpus_repeats: false``)."""
    out: list[list[int]] = []
    size = batch or max(1, len(docs))
    for start in range(0, len(docs), size):
        part = docs[start:start + size]
        repeats = LineRepeats.from_texts("\n".join(d.lines) for d in part)
        out.extend(repeats.line_counts(d.lines) for d in part)
    return out


def head_method(head: BlockHead, threshold: float | None, on_blocks: bool, cache: dict | None = None,
                batch: int | None = None, headings: bool = True) -> Method:
    """The classifier, on blocks or line by line, with line counts over the evaluated documents (or batches of
    ``batch``); ``cache`` (document id -> probabilities) saves rescoring when only the threshold changes.
    ``threshold`` None: the head's own, per kind of page (:meth:`BlockHead.threshold_for`), as the stage does;
    ``headings``: keep section headings with their section (:func:`block_removals`)."""
    def run(docs: list[EvalDoc]) -> list[set[int]]:
        out = []
        counts = None if cache is not None and all(id(d) in cache for d in docs) else corpus_counts(docs, batch)
        for k, d in enumerate(docs):
            probabilities = cache.get(id(d)) if cache is not None else None
            if probabilities is None:
                probabilities = head.probabilities(d.lines, counts[k])
                if cache is not None:
                    cache[id(d)] = probabilities
            cut = head.threshold_for(d.lines) if threshold is None else threshold
            if on_blocks:
                out.append(block_removals(d.lines, probabilities, cut, headings))
            else:
                out.append({i for i, p in probabilities.items() if p >= cut})
        return out
    return run


def line_lm(limit_lines: int) -> Method:
    """The earlier default: SmolLM2 scores every line alone (one model call per line)."""
    from curate.lm import LMConfig, load_lm
    from curate.stages.rewrite import RewriteParams
    from curate.stages.rewrite.presets import LineLM

    scorer = LineLM(RewriteParams(preset="line_lm"), load_lm(LMConfig(n_ctx=2048), threads=1))

    def run(docs: list[EvalDoc]) -> list[set[int]]:
        probabilities = scorer.line_probabilities({k: d.lines[:limit_lines] for k, d in enumerate(docs)})
        return [{i for i, p in probabilities[k].items() if p >= scorer.p.line_threshold} for k in range(len(docs))]
    return run


# ------------------------------------------------------------------ fitting


def fit_head(docs: list[Doc]) -> BlockHead:
    """The shipped head: a logistic regression over the documentation sources' lines (other text), and boosted
    trees over the converted web pages' lines (:func:`is_web_page`, with the page features) that judge such
    pages."""
    plain = [d for d in docs if not isinstance(d, WebPage)]
    web = [d for d in docs if isinstance(d, WebPage) and is_web_page(d.lines)]
    heads = ([fit_logistic(*labelled_lines(plain, False))] if plain else []) + (
        [fit_trees(*labelled_lines(web, True))] if web else [])
    return dataclasses.replace(heads[0], web_head=heads[1]) if len(heads) == 2 else heads[0]


def labelled_lines(docs: list[Doc], web: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels (1: boilerplate) and token weights of every labelled line of ``docs`` (a web page's lines
    that hold no snippet are unlabelled and left out); line counts over ``docs``; ``web``: the web features."""
    xs, ys, ws = [], [], []
    for d, counts in zip(docs, corpus_counts(docs)):
        index, rows = document_features(d.lines, counts, web=web)
        for i, row in zip(index, rows):
            if d.labels[i] is None:
                continue
            xs.append(row)
            ys.append(0 if d.labels[i] else 1)
            ws.append(1 + len(d.lines[i].split()))  # token-weighted, as the measure
    return np.asarray(xs), np.asarray(ys), np.asarray(ws, dtype=np.float64)


def fit_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> BlockHead:
    """The head for other text: a logistic regression over standardised features."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    model = LogisticRegression(C=1.0, max_iter=2000).fit((x - mean) / scale, y, sample_weight=w)
    return BlockHead(tuple(NAMES), mean, scale, model.coef_[0], float(model.intercept_[0]), 0.5)


#: the web head's trees: shallow, slow learning and large leaves, since a page has only a few labelled lines
TREE_PARAMS = {"max_depth": 3, "learning_rate": 0.05, "max_iter": 300, "min_samples_leaf": 50,
               "l2_regularization": 1.0, "random_state": 0}


def fit_trees(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> BlockHead:
    """The head for converted web pages: gradient-boosted trees (exported to :class:`Trees`)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(early_stopping=False, **TREE_PARAMS).fit(x, y, sample_weight=w)
    empty = np.zeros(0)
    return BlockHead(tuple(WEB_NAMES), empty, empty, empty, 0.0, 0.5, True, trees=Trees.from_sklearn(model))


def fit_threshold(make: Callable[[float], Method], docs: list[Doc], grid: list[float], target: float) -> float:
    """The grid value that removes the most boilerplate while keeping ``target`` of content on every
    fit group of ``docs`` (the reported target holds per source too); the last (the most cautious, for an
    increasing grid of thresholds) when none does."""
    best, best_removed = grid[-1], -1.0
    sources = np.array([fit_group(d) for d in docs])
    for value in grid:
        rows = count_rows(docs, make(value)(docs))
        kept = min(shares(rows[sources == s])[0] for s in set(sources))
        removed = shares(rows)[1]
        if kept >= target and removed > best_removed:
            best, best_removed = value, removed
    return best


#: the fit web pages are left out in this many groups of sites
WEB_FOLDS = 4
#: the worst source (or web language) is taken over those with at least this many documents; so are the left-out
#: groups that choose a threshold
MIN_GROUP = 10


def fit_group(doc: Doc) -> str:
    """What is left out together when choosing the threshold: a fit source, or a group of fit web sites."""
    if isinstance(doc, WebPage):
        return f"web sites {xxhash.xxh64_intdigest(doc.site.encode(), seed=1) % WEB_FOLDS + 1}/{WEB_FOLDS}"
    return doc.source


def loso_threshold(docs: list[Doc], grid: list[float]) -> dict[str, tuple[float, dict[float, tuple[float, float]]]]:
    """The classifier's thresholds, one per kind of page (plain text, converted web pages: ``markup``), chosen by leaving each fit group
    out in turn (within the fit half only).

    For every fit group (:func:`fit_group`: a source, or a group of web sites), the classifier is fitted on the
    other groups and applied to the left-out one at each threshold of ``grid``. Per kind, the lowest threshold
    (the most removal) at which the pages of that kind of every left-out group (with at least MIN_GROUP of them)
    keep LOSO_TARGET of their content is returned (the highest when none does), with, per threshold, the worst
    left-out content kept and the mean left-out boilerplate removed."""
    groups = sorted({fit_group(d) for d in docs})
    kept: dict[tuple[str, float], list[float]] = {}
    removed: dict[tuple[str, float], list[float]] = {}
    for group in groups:
        head = fit_head([d for d in docs if fit_group(d) != group])
        held = [d for d in docs if fit_group(d) == group]
        scores: dict = {}
        for t in grid:
            rows = count_rows(held, head_method(head, t, True, scores)(held))
            markup = np.array([is_web_page(d.lines) for d in held])
            for kind, picked in (("plain", ~markup), ("markup", markup)):
                if picked.any():
                    held_kept, held_removed = shares(rows[picked])
                    size = "" if picked.sum() >= MIN_GROUP else "small"
                    kept.setdefault((kind + size, t), []).append(held_kept)
                    removed.setdefault((kind + size, t), []).append(held_removed)
    out = {}
    for kind in ("plain", "markup", "plainsmall", "markupsmall"):  # small groups only when no kind has a large one
        if (kind, grid[0]) not in kept or kind.removesuffix("small") in out:
            continue
        curve = {t: (round(min(kept[kind, t]), 4), round(float(np.mean(removed[kind, t])), 4)) for t in grid}
        out[kind.removesuffix("small")] = next((t for t in grid if curve[t][0] >= LOSO_TARGET), grid[-1]), curve
    return {"plain": out.get("plain", out.get("markup")), "markup": out.get("markup", out.get("plain"))}




def evaluate(methods: dict[str, tuple[Method, str]], docs: list[Doc]) -> dict[str, dict]:
    """Every method on ``docs``: overall and per source (per language for web pages), printed and returned."""
    results: dict[str, dict] = {}
    sizes = Counter(d.source for d in docs)
    sources = sorted(sizes)
    large = [s for s in sources if sizes[s] >= MIN_GROUP]
    lines = sum(1 for d in docs for line in d.lines if line.strip())
    for name, (method, setting) in methods.items():
        started = time.perf_counter()
        removals = method(docs)
        seconds = time.perf_counter() - started
        rng = np.random.default_rng(0)
        entry = {"setting": setting, "all": report(docs, removals, rng)}
        for source in sources:
            picked = [k for k, d in enumerate(docs) if d.source == source]
            entry[source] = report([docs[k] for k in picked], [removals[k] for k in picked], rng)
        entry["worst_content_kept"] = min(entry[s]["content_kept"] for s in large or sources)
        entry["worst_boilerplate_removed"] = min(entry[s]["boilerplate_removed"] for s in large or sources)
        entry["lines_per_s_one_core"] = round(lines / seconds, 1)
        results[name] = entry
        a = entry["all"]
        print(f"{name:15s} {setting:18s} content kept {a['content_kept']:.4f} {a['content_kept_ci']}  "
              f"boilerplate removed {a['boilerplate_removed']:.4f} {a['boilerplate_removed_ci']}  "
              f"broken docs {a['broken_documents']:.3f}  worst source kept {entry['worst_content_kept']:.4f} "
              f"removed {entry['worst_boilerplate_removed']:.4f}  {entry['lines_per_s_one_core']:,.0f} lines/s",
              flush=True)
    for source, name in ((s, n) for n in ("blocks", "blocks_previous", "trafilatura") if n in results for s in sources):
        b = results[name][source]
        print(f"  {name} on {source:34s} ({sizes[source]:3d} docs) kept {b['content_kept']:.4f} {b['content_kept_ci']}  removed "
              f"{b['boilerplate_removed']:.4f} {b['boilerplate_removed_ci']}  broken {b['broken_documents']:.3f}")
    return results


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-source", type=int, default=60, help="documents per source")
    parser.add_argument("--save", action="store_true", help=f"write the fitted classifier to {WEIGHTS}")
    parser.add_argument("--lm-docs", type=int, default=0, help="also run the per-line LM on this many eval docs")
    parser.add_argument("--json", help="write the full report here")
    parser.add_argument("--no-confirm", action="store_true", help="report on the eval split only")
    parser.add_argument("--no-web", action="store_true", help="leave the real web pages out (fit and report)")
    add_smoke_flag(parser)
    args = parser.parse_args()
    require_corpora(DEFAULT_CORPORA, [*FIT_SOURCES, *EVAL_SOURCES, *CONFIRM_SOURCES, "boilerplate_pairs",
                                      *([] if args.no_web else ["web_pages"])], args.smoke)
    per_source = 6 if args.smoke else args.per_source
    fit_docs, eval_docs = build("fit", per_source), build("eval", per_source)
    confirm_docs = [] if args.no_confirm else build("confirm", per_source)
    web: dict[str, list] = {"fit": [], "heldout": [], "confirm": []}
    if not args.no_web:
        web, left_out = web_pages.load(limit=60 if args.smoke else None)
        print(f"web pages: {', '.join(f'{k} {len(v)}' for k, v in web.items())} ({len({p.site for p in web['fit']})} "
              f"fit sites); snippets not found in the page's text, left out: {left_out}", flush=True)
    fit_docs = fit_docs + web["fit"]
    print(f"fit: {len(fit_docs)} documents, eval: {len(eval_docs)} documents", flush=True)

    grid = [0.005, 0.01, 0.015] + [round(x, 3) for x in np.arange(0.02, 0.96, 0.02)]
    chosen = loso_threshold(fit_docs, grid)
    (threshold, curve), (markup_threshold, markup_curve) = chosen["plain"], chosen["markup"]
    for kind, (t, c) in chosen.items():
        print(f"{kind} pages: threshold {t}: the {kind} pages of every fit group, left out of the fit, keep {c[t][0]} "
              f"of their content or more and lose {c[t][1]} of their boilerplate on average "
              f"(leave-one-group-out)", flush=True)
    head = fit_head(fit_docs)
    scores: dict = {}
    web_head = dataclasses.replace(head.web_head, threshold=markup_threshold) if head.web_head else None
    head = dataclasses.replace(head, threshold=threshold, web_head=web_head)
    if args.save:
        WEIGHTS.write_text(json.dumps({
            **head.to_dict(), "loso_content_target": LOSO_TARGET,
            "loso_worst_content_kept": curve[threshold][0], "loso_mean_boilerplate_removed": curve[threshold][1],
            "web_loso_worst_content_kept": markup_curve[markup_threshold][0],
            "web_loso_mean_boilerplate_removed": markup_curve[markup_threshold][1],
            "fitted_on": "benchmarks/rewrite_eval.py --save (fit sources with boilerplate pool A, fit web pages; "
                         "web_head: the head for converted web pages)",
        }, indent=1) + "\n")
    # the baselines' settings: the most removal that keeps LOSO_TARGET of content on every fit source
    repeat_pages = fit_threshold(repeated_lines, fit_docs, [2, 3, 4, 5, 8], LOSO_TARGET)
    short_words = fit_threshold(short_lines, fit_docs, [1, 2, 3, 4, 5, 6], LOSO_TARGET)
    line_threshold = fit_threshold(lambda t: head_method(head, t, False, scores), fit_docs, grid, LOSO_TARGET)
    methods: dict[str, tuple[Method, str]] = {
        "keep_all": (lambda docs: [set() for _ in docs], ""),
        "repeated_lines": (repeated_lines(repeat_pages), f"on >= {repeat_pages} pages"),
        "short_lines": (short_lines(short_words), f"<= {short_words} words"),
        "blocks_lines": (head_method(head, line_threshold, False), f"threshold {line_threshold}"),
        "blocks_batch": (head_method(head, None, True, batch=Rewrite.batch_size),
                         f"counts per {Rewrite.batch_size} docs"),
        "blocks": (head_method(head, None, True), f"threshold {threshold} / {markup_threshold}"),
        # the previous version: the head for other text on every page, no heading rule
        "blocks_previous": (head_method(dataclasses.replace(head, web_head=None), None, True, headings=False),
                            f"threshold {threshold}, one head"),
    }
    for other in OPERATING_POINTS:  # the same classifier at higher thresholds (block_threshold): less removed
        methods[f"blocks@{other}"] = (head_method(head, other, True), f"threshold {other}")
    results: dict[str, dict] = {"eval": evaluate(methods, eval_docs)}
    if confirm_docs:
        print(f"confirm split ({len(confirm_docs)} documents: sources, boilerplate and seed unseen when the method "
              "was last changed)", flush=True)
        results["confirm"] = evaluate(methods, confirm_docs)
    cache = Path(__file__).resolve().parents[1] / "out" / "trafilatura_web_pages.json"
    for part in ("heldout", "confirm"):
        if web[part]:
            print(f"web pages, {part} sites ({len(web[part])} pages; per language; trafilatura works on the HTML)",
                  flush=True)
            peer = {"trafilatura": (lambda docs: web_pages.trafilatura_outputs(docs, cache), "on the HTML")}
            results[f"web_{part}"] = evaluate({**methods, **peer}, web[part])
    lm_lines = None
    if args.lm_docs:
        docs = eval_docs[:args.lm_docs]
        limit = 12 if args.smoke else 10_000
        lm_lines = sum(1 for d in docs for line in d.lines[:limit] if line.strip())
        method = line_lm(limit)
        started = time.perf_counter()
        removals = method(docs)
        lm_speed = lm_lines / (time.perf_counter() - started)
        clipped = [EvalDoc(d.source, d.lines[:limit], d.labels[:limit], d.paragraphs[:limit]) for d in docs]
        results["line_lm"] = {"all": report(clipped, removals, np.random.default_rng(0)),
                              "lines_per_s_one_core": round(lm_speed, 2), "lines": lm_lines}
        results["line_lm"]["blocks_on_same_docs"] = report(clipped, methods["blocks"][0](clipped),
                                                           np.random.default_rng(0))
        print(f"line_lm on {len(docs)} docs ({lm_lines} lines): {json.dumps(results['line_lm'])}", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)
    for split in ("eval", "confirm", "web_heldout", "web_confirm"):
        if split not in results:
            continue
        best = results[split]["blocks"]["all"]
        for baseline in ("repeated_lines", "short_lines", "keep_all", "trafilatura"):
            if baseline not in results[split]:
                continue
            ref = results[split][baseline]["all"]
            compare(f"rewrite content kept (token-weighted, {split} split) vs {baseline}", baseline,
                    ref["content_kept"], best["content_kept"], "share")
            compare(f"rewrite boilerplate removed (token-weighted, {split} split) vs {baseline}", baseline,
                    ref["boilerplate_removed"], best["boilerplate_removed"], "share")
    if "line_lm" in results:
        compare("rewrite lines/s on one core, blocks preset vs the per-line LM", "line_lm (SmolLM2-135M)",
                results["line_lm"]["lines_per_s_one_core"], results["eval"]["blocks"]["lines_per_s_one_core"],
                "lines/s")

if __name__ == "__main__":
    main()
