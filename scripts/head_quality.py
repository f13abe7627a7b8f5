"""The quality head: edited prose and documentation against spam, tweets and page chrome, checked source by source.

Every source's documents are split in two halves by document (seeded): the
fit half and the evaluation half. Leave-one-source-out: for each source, the
head is fitted on the fit half of every *other* source and scores all texts of
the left-out source against the evaluation half of the other label, so neither
the left-out source nor any scored document was seen. The fastText baseline
is fitted on the same texts of each fold; the shipped quality.ftz scores the
same texts (it was trained on most of them: an in-sample number).
"""

from __future__ import annotations

import numpy as np
from head_data import (
    OTHER_LANGUAGES,
    QUALITY_NEGATIVE,
    QUALITY_POSITIVE,
    QUALITY_SCORED_ONLY,
    Text,
    passages,
    quality_texts,
    sms_lines,
)
from head_fit import auc, fit_fasttext, fit_head, group_weights, head_scores, shipped_fasttext

KINDS = ("document", "window", "fragment")
EMPTY_SHARE = 0.05
PROBES = {  # hand-written texts whose scores are printed and stored (not fitted on)
    "sms": "Ok... Thanx... Gd nite 2 ü too...",
    "novel_dialogue": '"I don\'t know," she said at last, turning the letter over in her hands. "He never wrote '
                      'to me before, not once in all those years."',
    "empty": "",
    "one_word": "Hello",
}


def _evaluation_half(texts: list[Text], seed: int) -> np.ndarray:
    """True for texts whose parent document is in its source's evaluation half (every other parent, seeded order)."""
    import random

    parents: dict[str, set[str]] = {}
    for t in texts:
        parents.setdefault(t.source, set()).add(t.parent)
    held = set()
    for source, names in parents.items():
        names = sorted(names)
        random.Random(f"{seed}:{source}:half").shuffle(names)
        held.update((source, p) for p in names[1::2])
    return np.array([(t.source, t.parent) in held for t in texts])


def _aucs(y: np.ndarray, kinds: np.ndarray, scores: dict[str, np.ndarray]) -> dict:
    out = {name: {"all": auc(y, s)} for name, s in scores.items()}
    for kind in KINDS:
        rows = kinds == kind
        for name, s in scores.items():
            out[name][kind] = auc(y[rows], s[rows])
    return out


def quality(cache, seed: int) -> tuple[tuple[np.ndarray, float], dict]:
    texts = quality_texts(seed)
    # a text with nothing to embed carries no evidence: one empty text per source on both sides
    texts += [Text("", s, f"{s}-empty", "fragment", s in QUALITY_POSITIVE) for s in QUALITY_POSITIVE + QUALITY_NEGATIVE]
    strings = [t.text for t in texts]
    x = cache.embed(strings)
    y = np.array([t.positive for t in texts])
    source = np.array([t.source for t in texts])
    # every source weighs the same within its class (the six other-language man-page sets together as one), so
    # that nine documentation sources do not outweigh the three of prose
    group = np.array(["manpages_other" if s in OTHER_LANGUAGES else s for s in source])
    empty = np.array([not t.text for t in texts])

    def weigh(rows: np.ndarray) -> np.ndarray:
        """Group weights of ``rows``; the empty texts of each class get 5% of its weight, so that the head learns
        to give a text without content a middling score rather than whatever its fixed vector happens to get."""
        w = group_weights(group[rows])
        for label in (True, False):
            mine, nothing = y[rows] == label, empty[rows]
            if (mine & nothing).any():
                w[mine & nothing] = EMPTY_SHARE * w[mine & ~nothing].sum() / (mine & nothing).sum()
        return w
    kinds = np.array([t.kind for t in texts])
    held = _evaluation_half(texts, seed) | np.isin(source, QUALITY_SCORED_ONLY)  # never fitted on
    shipped_ftz = shipped_fasttext("quality.ftz", "hq")
    ftz_all = shipped_ftz(strings)

    loso, fold_models = {}, {}
    trained = ~np.isin(source, QUALITY_SCORED_ONLY)
    for name in QUALITY_POSITIVE + QUALITY_NEGATIVE + QUALITY_SCORED_ONLY:
        fit = ~held & (source != name)
        scored = (source == name) | (held & trained & (y != (name in QUALITY_POSITIVE)))
        head = fit_head(x[fit], y[fit], weigh(fit))
        ftz = fit_fasttext([strings[i] for i in np.flatnonzero(fit)], y[fit], seed)
        fold_models[name] = (head, ftz)
        rows = np.flatnonzero(scored)
        scores = {"minilm_head": head_scores(head, x[rows]), "fasttext_same_folds": ftz([strings[i] for i in rows]),
                  "shipped_quality_ftz": ftz_all[rows]}
        loso[name] = {"label": "positive" if name in QUALITY_POSITIVE else
                      "negative" if name in QUALITY_NEGATIVE else "negative, scored only (never fitted on)",
                      "texts": int((source[rows] == name).sum()), "against": int((source[rows] != name).sum()),
                      "roc_auc": _aucs(y[rows], kinds[rows], scores)}
        print(f"quality LOSO {name}: " + ", ".join(f"{k} {v['all']}" for k, v in loso[name]["roc_auc"].items()),
              flush=True)
    order = sorted(loso, key=lambda n: loso[n]["roc_auc"]["minilm_head"]["document"])
    scored_only = {n: loso.pop(n) for n in QUALITY_SCORED_ONLY}
    loso = {n: loso[n] for n in order if n in loso}
    worst = {kind: {model: dict(zip(("roc_auc", "source"), min((v["roc_auc"][model][kind], n)
                                                              for n, v in loso.items())))
                    for model in ("minilm_head", "fasttext_same_folds", "shipped_quality_ftz")}
             for kind in ("document", "window", "fragment", "all")}

    # grouped validation on the training sources: fit half -> evaluation half (no document on both sides)
    head_half = fit_head(x[~held], y[~held], weigh(~held))
    ftz_half = fit_fasttext([strings[i] for i in np.flatnonzero(~held)], y[~held], seed)
    rows = np.flatnonzero(held & trained)
    grouped = _aucs(y[rows], kinds[rows], {"minilm_head": head_scores(head_half, x[rows]),
                                            "fasttext_same_folds": ftz_half([strings[i] for i in rows]),
                                            "shipped_quality_ftz": ftz_all[rows]})
    fragments = rows[kinds[rows] == "fragment"]
    short = head_scores(head_half, x[fragments])
    short_texts = {"fragments_scored": len(fragments), "mean_score_positive_fragments": round(float(short[y[fragments]].mean()), 4),
                   "mean_score_negative_fragments": round(float(short[~y[fragments]].mean()), 4),
                   "share_above_0.9": round(float((short > 0.9).mean()), 4),
                   "share_below_0.1": round(float((short < 0.1).mean()), 4)}

    sms = _sms_check(cache, seed, fold_models, shipped_ftz)
    final = fit_head(x[trained], y[trained], weigh(trained))
    probes = dict(zip(PROBES, head_scores(final, cache.embed(list(PROBES.values()))).round(4).tolist()))
    probes_ftz = dict(zip(PROBES, shipped_ftz(list(PROBES.values())).round(4).tolist()))
    report = {
        "leave_one_source_out": loso,
        "worst_left_out_source": worst,
        "scored_only": scored_only,
        "grouped_validation": {"what": "fit on half of each source's documents, scored on the other half",
                               "texts": len(rows), "roc_auc": grouped},
        "short_texts": short_texts,
        "sms_vs_long_form": sms,
        "probes": {"minilm_head": probes, "shipped_quality_ftz": probes_ftz, "texts": PROBES},
        "train_texts": {"all": len(texts), **{k: int((kinds == k).sum()) for k in KINDS},
                        "positive": int(y.sum()), "negative": int((~y).sum())},
    }
    return final, report


def _sms_check(cache, seed: int, fold_models: dict, shipped_ftz) -> dict:
    """Text-message lines (never trained on) against long-form passages, each passage source scored by a model that
    never saw it: Moby-Dick and Brown by their left-out folds, the English UDHR (in no fold) by the fold of Brown."""
    sms = sms_lines(seed, 1000)
    out = {"sms_lines": len(sms), "sms_rule": "nlp_corpus_sentences lines with a text-message shorthand word "
                                              "(head_data.SMS_WORDS)"}
    for name, fold in (("moby_dick_chapters", "moby_dick_chapters"), ("brown_corpus", "brown_corpus"),
                       ("udhr_en", "brown_corpus")):
        long_form = passages(name, seed, 300)
        texts = [t.text for t in long_form] + [t.text for t in sms]
        y = np.array([True] * len(long_form) + [False] * len(sms))
        head, ftz = fold_models[fold]
        out[name] = {"passages": len(long_form), "model": f"fold without {fold}",
                     "roc_auc": {"minilm_head": auc(y, head_scores(head, cache.embed(texts))),
                                 "fasttext_same_folds": auc(y, ftz(texts)),
                                 "shipped_quality_ftz (trained on moby_dick and brown)": auc(y, shipped_ftz(texts))}}
        print(f"quality SMS check {name}: {out[name]['roc_auc']}", flush=True)
    return out
