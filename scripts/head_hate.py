"""The hate head: identity-directed hate (explicit and implicit), checked data set by data set.

Positives: Davidson "hate speech" tweets, Stormfront "hate" sentences, ToxiGen
"hate" statements. Negatives: Davidson "neither" *and* "offensive language"
tweets (profanity that is not hate must not score as hate), Stormfront
"not_hate" sentences, ToxiGen neutral or supportive mentions of the same
groups, and sentences of clean sources. Each data set's hate and not-hate rows,
and the clean sentences, weigh the same within their class.

Leave-one-dataset-out: fitted on the other two data sets and the clean
sentences, scored on the left-out one. The default cut is chosen on the fit
data only: the lowest cut at which no clean fit source, scored by a head
fitted without that source, has more than 0.25% of its sentences flagged.
"""

from __future__ import annotations

import random

import numpy as np
from head_data import (
    CLEAN_FIT,
    CLEAN_HELD_OUT,
    CLEAN_SENTENCES,
    HATE_DATASETS,
    Labelled,
    clean_sentences,
    hate_datasets,
    stormfront_posts,
)
from head_fit import auc, cut_at_share, fit_fasttext, fit_head, flagged, group_weights, head_scores, shipped_fasttext
from train_default_models import tweets

CLEAN_SHARE = 0.0025  # share of clean fit sentences (per source, left out) allowed above the default cut
PROBES = {
    "implicit_hate": "Immigrants are ruining this country and should all be sent back where they came from.",
    "neutral_mention": "Many immigrants arrive in this country looking for work and a safer life for their families.",
    "profane_not_hateful": "Damn, this fucking printer jammed again, what a shitty morning.",
    "plain": "The committee will meet on Tuesday to discuss the budget.",
}


class Fold:
    """A head and a fastText model fitted on the same rows, each with its default cut chosen on those rows."""

    def __init__(self, cache, rows: list[Labelled], seed: int) -> None:
        self.cache = cache
        texts = [r.text for r in rows]
        x = cache.embed(texts)
        y = np.array([r.hate for r in rows])
        key = [("clean" if r.dataset.startswith("clean:") else r.dataset, r.hate) for r in rows]
        weight = group_weights(key)
        self.head = fit_head(x, y, weight)
        self.fasttext = fit_fasttext(texts, y, seed)
        left_out_head, left_out_ftz = {}, {}
        for source in CLEAN_FIT:
            keep = np.array([r.dataset != f"clean:{source}" for r in rows])
            inside = np.flatnonzero(~keep)
            head = fit_head(x[keep], y[keep], group_weights([k for k, m in zip(key, keep) if m]))
            left_out_head[source] = head_scores(head, x[inside])
            ftz = fit_fasttext([t for t, m in zip(texts, keep) if m], y[keep], seed)
            left_out_ftz[source] = ftz([texts[i] for i in inside])
        self.cut = {"minilm_head": cut_at_share(left_out_head, CLEAN_SHARE),
                    "fasttext_same_folds": cut_at_share(left_out_ftz, CLEAN_SHARE)}

    def scores(self, texts: list[str]) -> dict[str, np.ndarray]:
        return {"minilm_head": head_scores(self.head, self.cache.embed(texts)),
                "fasttext_same_folds": self.fasttext(texts)}


def _clean_fit(seed: int) -> list[Labelled]:
    return [Labelled(t.text, f"clean:{s}", False, "clean")
            for s in CLEAN_FIT for t in clean_sentences(s, seed, CLEAN_SENTENCES, half=0)]


def clean_held_out(seed: int) -> dict[str, list[str]]:
    """Sentences of sources not fitted on, and of fitted sources' other documents (Brown, BBC)."""
    out = {s: [t.text for t in clean_sentences(s, seed, CLEAN_SENTENCES)] for s in CLEAN_HELD_OUT}
    for s in ("brown_corpus", "bbc_news"):
        out[f"{s} (documents not fitted on)"] = [t.text for t in clean_sentences(s, seed, CLEAN_SENTENCES, half=1)]
    return out


def _dataset_metrics(fold: Fold, rows: list[Labelled], toxicity) -> dict:
    texts = [r.text for r in rows]
    y = np.array([r.hate for r in rows])
    scores = {**fold.scores(texts), "shipped_toxicity_ftz": toxicity(texts)}
    cuts = {**fold.cut, "shipped_toxicity_ftz": 0.4}
    out = {"texts": len(rows), "hate": int(y.sum()), "roc_auc": {m: auc(y, s) for m, s in scores.items()},
           "at_default_cut": {m: {"cut": round(cuts[m], 4), "hate_flagged": flagged(s[y], cuts[m]),
                                  "not_hate_flagged": flagged(s[~y], cuts[m])} for m, s in scores.items()}}
    if rows and rows[0].dataset == "davidson":  # also without the offensive tweets
        keep = np.array([r.label != "offensive" for r in rows])
        out["roc_auc_hate_vs_neither"] = {m: auc(y[keep], s[keep]) for m, s in scores.items()}
        out["roc_auc_hate_vs_offensive"] = {m: auc(y[~keep | y], s[~keep | y]) for m, s in scores.items()}
    return out


def _clean_flagged(fold: Fold, held: dict[str, list[str]], toxicity) -> dict:
    out = {}
    for source, texts in held.items():
        scores = {**fold.scores(texts), "shipped_toxicity_ftz": toxicity(texts)}
        cuts = {**fold.cut, "shipped_toxicity_ftz": 0.4}
        out[source] = {"sentences": len(texts), **{m: flagged(s, cuts[m]) for m, s in scores.items()}}
    return out


def _documents(fold: Fold, docs: list[tuple[list[str], bool]]) -> dict:
    """Multi-sentence texts: each scored whole (the model reads the first 128 tokens) and as its worst sentence."""
    y = np.array([label for _, label in docs])
    whole = fold.scores([" ".join(s) for s, _ in docs])
    flat = [s for sents, _ in docs for s in sents]
    per_sentence = fold.scores(flat)
    bounds = np.cumsum([0] + [len(s) for s, _ in docs])
    out = {"documents": len(docs), "hateful": int(y.sum())}
    for model in whole:
        worst = np.maximum.reduceat(per_sentence[model], bounds[:-1])
        out[model] = {"roc_auc_document": auc(y, whole[model]), "roc_auc_max_sentence": auc(y, worst),
                      "recall_document_at_cut": flagged(whole[model][y], fold.cut[model]),
                      "recall_max_sentence_at_cut": flagged(worst[y], fold.cut[model])}
    return out


def _toxigen_in_prose(data: list[Labelled], filler: list[str], seed: int) -> list[tuple[list[str], bool]]:
    """Each ToxiGen statement placed at a random position among three clean news or book sentences."""
    rng = random.Random(f"{seed}:toxigen-in-prose")
    docs = []
    for r in data:
        sents = rng.sample(filler, 3)
        sents.insert(rng.randrange(4), r.text)
        docs.append((sents, r.hate))
    return docs


def hate(cache, seed: int) -> tuple[tuple[np.ndarray, float], float, dict]:
    data = hate_datasets(seed)
    clean = _clean_fit(seed)
    held = clean_held_out(seed)
    toxicity = shipped_fasttext("toxicity.ftz", "toxic")
    filler = held["brown_corpus (documents not fitted on)"] + held["bbc_news (documents not fitted on)"]
    lodo, documents = {}, {}
    for name in HATE_DATASETS:
        fit_rows = [r for d in HATE_DATASETS if d != name for r in data[d]] + clean
        fold = Fold(cache, fit_rows, seed)
        lodo[name] = {"fitted_on": [d for d in HATE_DATASETS if d != name] + ["clean sentences"],
                      **_dataset_metrics(fold, data[name], toxicity),
                      "clean_held_out_flagged_at_cut": _clean_flagged(fold, held, toxicity)}
        print(f"hate LODO {name}: {lodo[name]['roc_auc']}", flush=True)
        if name == "stormfront":
            posts = [([r.text for r in run], any(r.hate for r in run)) for run in stormfront_posts(seed, 600)]
            documents["stormfront_posts_4_sentences"] = _documents(fold, posts)
        if name == "toxigen":
            documents["toxigen_statement_among_3_clean_sentences"] = _documents(
                fold, _toxigen_in_prose(data[name], filler, seed))
    shipped = Fold(cache, [r for d in HATE_DATASETS for r in data[d]] + clean, seed)
    clean_report = _clean_flagged(shipped, held, toxicity)
    worst = {m: max((v[m], s) for s, v in clean_report.items()) for m in ("minilm_head", "fasttext_same_folds",
                                                                         "shipped_toxicity_ftz")}
    probes = dict(zip(PROBES, shipped.scores(list(PROBES.values()))["minilm_head"].round(4).tolist()))
    report = {
        "offensive_language": "Davidson 'offensive' tweets are not hate (negatives); AUCs on Davidson count them "
                              "with the negatives, and are also given without them (hate vs neither)",
        "default_cut_rule": f"lowest cut at which no clean fit source ({', '.join(CLEAN_FIT)}), scored by a head "
                            f"fitted without it, has more than {CLEAN_SHARE:.2%} of its sentences at or above it",
        "default_cut": round(shipped.cut["minilm_head"], 4),
        "leave_one_dataset_out": lodo,
        "worst_left_out_dataset": {m: min((v["roc_auc"][m], n) for n, v in lodo.items())
                                   for m in ("minilm_head", "fasttext_same_folds", "shipped_toxicity_ftz")},
        "clean_held_out_flagged_at_default_cut": clean_report,
        "worst_clean_source": {m: {"source": s, "flagged": f} for m, (f, s) in worst.items()},
        "document_level": documents,
        "probes": {"minilm_head": probes, "texts": PROBES},
        "train_texts": {**{d: len(data[d]) for d in HATE_DATASETS}, "clean_sentences": len(clean)},
        "profanity_model_choice": profanity_choice(cache, seed, held, toxicity, shipped),
    }
    return shipped.head, shipped.cut["minilm_head"], report


def profanity_choice(cache, seed: int, held: dict[str, list[str]], toxicity, shipped: Fold) -> dict:
    """toxicity.ftz against the MiniLM profanity head (toxicity_minilm.npz, same data) on the tweets both held out.

    Rule, fixed before measuring: keep toxicity.ftz as the profanity model unless the head has the higher ROC AUC
    on the held-out tweets *and* flags fewer clean sentences in every held-out source.
    """
    from curate.classify.linear_head import load_head
    from curate.models import shipped as shipped_path

    rng = random.Random(seed)  # the split of train_default_models.toxicity_data: the same held-out 10%
    data = tweets()
    rng.shuffle(data)
    valid = data[:len(data) // 10]
    texts = [t for t, _ in valid]
    toxic = np.array([c in (0, 1) for _, c in valid])
    head = load_head(shipped_path("toxicity_minilm.npz"))
    scores = {"toxicity_ftz": toxicity(texts), "toxicity_minilm_head": head.score(cache.embed(texts))}
    clean = {source: {"toxicity_ftz": flagged(toxicity(s), 0.4),
                      "toxicity_minilm_head": flagged(head.score(cache.embed(s)), 0.4),
                      "chars_flagged_toxicity_ftz": _char_share(s, toxicity(s) >= 0.4)}
             for source, s in held.items()}
    head_better = (auc(toxic, scores["toxicity_minilm_head"]) > auc(toxic, scores["toxicity_ftz"])
                   and all(v["toxicity_minilm_head"] < v["toxicity_ftz"] for v in clean.values()))
    offensive = [t for t, c in valid if c == 1]
    hate_scores = head_scores(shipped.head, cache.embed(offensive))
    return {"held_out_tweets": len(valid),
            "roc_auc_toxic_vs_neither": {m: auc(toxic, s) for m, s in scores.items()},
            "clean_sentences_flagged_at_0.4": clean,
            "chosen": "toxicity_minilm.npz" if head_better else "toxicity.ftz",
            "hate_head_on_offensive_tweets": {"tweets": len(offensive),
                                              "flagged_at_hate_cut": flagged(hate_scores, shipped.cut["minilm_head"])}}


def _char_share(texts: list[str], mask: np.ndarray) -> float:
    total = sum(map(len, texts))
    return round(sum(len(t) for t, m in zip(texts, mask) if m) / total, 4) if total else 0.0
