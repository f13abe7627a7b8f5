"""Train the default quality and toxicity models shipped in curate/models/ (run by `make models`).

Quality: edited prose and documentation (label ``hq``) against spam, e-mail and
casual social text (``lq``), all from ../shared/corpora and ../shared/labels.
Toxicity: the Davidson et al. tweets (hate speech and offensive language:
``toxic``; neither: ``clean``) plus clean sentences from edited prose and
documentation, so that ordinary sentences of other kinds are not flagged.

Besides the seeded validation split written by ``train-classifier``, each model
is validated across sources: trained with some sources held out and scored on
them (numbers in ``<model>.metrics.json`` under ``cross_source``), because a
split of the training sources measures source identification, not quality or
toxicity. Deterministic: one training thread, fixed seeds.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import random
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import orjson
import pyarrow.csv as pcsv

from curate.classify.fasttext_model import load_model, predict_scores
from curate.classify.metrics import binary_metrics
from curate.classify.sentences import sentence_spans
from curate.classify.train import Example, TrainParams, evaluate, train_classifier

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MODELS = REPO / "curate" / "models"

# Two folds over sources: train on one side, validate on the other, then the reverse.
# Man pages in six other languages are hq in every fold, so that "not English" is not learnt as low quality;
# the held-out sources are English (a bigram model cannot transfer to a language it never saw).
OTHER_LANGUAGES = ["manpages_de", "manpages_fr", "manpages_es", "manpages_ja", "manpages_zh", "manpages_ru"]
QUALITY_FOLDS = [
    ({"hq": ["brown_corpus", "moby_dick_chapters", "python311_doc_rst", "postgresql_doc_html", "perl_doc_pod",
             *OTHER_LANGUAGES],
      "lq": ["spamassassin_emails"]},
     {"hq": ["bbc_news", "django_doc_html", "git_doc_asciidoc", "manpages_en"], "lq": ["tweets"]}),
]
QUALITY_FOLDS.append(({"hq": [*QUALITY_FOLDS[0][1]["hq"], *OTHER_LANGUAGES], "lq": QUALITY_FOLDS[0][1]["lq"]},
                      {"hq": QUALITY_FOLDS[0][0]["hq"][:5], "lq": QUALITY_FOLDS[0][0]["lq"]}))
TOXICITY_CLEAN_TRAIN = ["brown_corpus", "bbc_news", "python311_doc_rst", "postgresql_doc_html", "spamassassin_emails"]
TOXICITY_CLEAN_HELD_OUT = ["moby_dick_chapters", "django_doc_html", "git_doc_asciidoc", "fortunes_en", "udhr_en"]
PER_SOURCE = 1500


def corpus(name: str) -> Iterator[dict]:
    import zstandard

    with open(SHARED / "corpora" / f"{name}.jsonl.zst", "rb") as raw:
        for line in io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw)):
            yield orjson.loads(line)


_MENTION = re.compile(r"(?:\bRT\b\s*)?@\w+:?|https?://\S+|&#?\w+;?")


def clean_tweet(text: str) -> str:
    """A tweet without retweet markers, @mentions and links, HTML entities decoded."""
    return " ".join(_MENTION.sub(" ", html.unescape(text)).split())


def tweets() -> list[tuple[str, int]]:
    """Davidson tweets as (text, class): 0 hate speech, 1 offensive language, 2 neither."""
    table = pcsv.read_csv(SHARED / "labels" / "toxicity_davidson.csv")
    cleaned = zip(map(clean_tweet, table.column("tweet").to_pylist()), table.column("class").to_pylist())
    return [(t, int(c)) for t, c in cleaned if t]


def documents(source: str, rng: random.Random, count: int = PER_SOURCE) -> list[str]:
    """Up to ``count`` documents of a source; "tweets" are groups of 5 random tweets (casual social text)."""
    if source == "tweets":
        texts = [t for t, _ in tweets()]
        rng.shuffle(texts)
        return ["\n".join(texts[i:i + 5]) for i in range(0, min(len(texts), count * 5), 5)]
    if source == "fortunes_en":
        texts = [r["text"] for r in corpus("fortunes_all") if r.get("lang") == "en" and not r.get("offensive")]
    elif source == "udhr_en":
        texts = [r["text"] for r in corpus("udhr_multilingual") if str(r.get("lang", "")).startswith("en")]
    else:
        texts = [r["text"] for r in corpus(source)]
    texts = [t for t in texts if t and t.strip()]
    rng.shuffle(texts)
    return texts[:count]


def sentences(source: str, rng: random.Random, count: int) -> list[str]:
    """``count`` random sentences (at least 3 words) of a source's documents."""
    out = [s.strip() for doc in documents(source, rng, 400) for s in sentence_spans(doc) if len(s.split()) >= 3]
    rng.shuffle(out)
    return out[:count]


def snippet(text: str, rng: random.Random) -> str | None:
    """A run of 1-3 sentences of ``text``: short examples on both sides, so length alone decides nothing."""
    spans = [s for s in sentence_spans(text) if s.strip()]
    if len(spans) < 2:
        return None
    start = rng.randrange(len(spans))
    return "".join(spans[start:start + rng.randint(1, 3)]).strip() or None


def labelled(sources: dict[str, list[str]], rng: random.Random) -> list[Example]:
    """Each document of each source, plus a short snippet of it, with the source's label."""
    out = []
    for label, names in sources.items():
        for name in names:
            for text in documents(name, rng, PER_SOURCE // 2 if name.startswith("manpages_") else PER_SOURCE):
                out.append((text, label))
                if (short := snippet(text[:20_000], rng)) is not None:
                    out.append((short, label))
    return out


def per_source(model, sources: dict[str, list[str]], positive: str, rng: random.Random) -> dict:
    """ROC AUC of each held-out source against all held-out texts of the other label, and overall metrics."""
    texts = {name: documents(name, rng) for names in sources.values() for name in names}
    label_of = {name: label for label, names in sources.items() for name in names}
    examples = [(t, label_of[name]) for name, ts in texts.items() for t in ts]
    result = {"overall": evaluate(model, examples, positive), "sources": {}}
    for name, ts in texts.items():
        others = [(t, lab) for t, lab in examples if lab != label_of[name]]
        result["sources"][name] = evaluate(model, [(t, label_of[name]) for t in ts] + others, positive)
    return result


def train_quality(params: TrainParams, seed: int) -> None:
    folds = []
    for k, (train_sources, held_out) in enumerate(QUALITY_FOLDS):
        with tempfile.TemporaryDirectory() as tmp:
            path = f"{tmp}/fold.bin"
            fold_params = params.model_copy(update={"quantize": False})
            train_classifier(labelled(train_sources, random.Random(seed + k)), path, "hq", params=fold_params)
            folds.append({"trained_on": train_sources, "held_out": held_out,
                          **per_source(load_model(path), held_out, "hq", random.Random(seed + 100 + k))})
    every = {label: sorted({n for fold in QUALITY_FOLDS for n in fold[0][label]}) for label in ("hq", "lq")}
    out = MODELS / "quality.ftz"
    report = train_classifier(labelled(every, random.Random(seed)), str(out), "hq", params=params)
    _add_cross_source(report.metrics_path, folds)
    _print("quality", report.metrics, folds)


def toxicity_data(seed: int) -> tuple[list[tuple[str, int]], list[tuple[str, int]], list[str], random.Random]:
    """Training tweets, validation tweets (10%, seeded), clean training sentences, and the generator after them."""
    rng = random.Random(seed)
    data = tweets()
    rng.shuffle(data)
    n_valid = len(data) // 10
    clean = [s for name in TOXICITY_CLEAN_TRAIN for s in sentences(name, rng, 2000)]
    return data[n_valid:], data[:n_valid], clean, rng


def as_examples(rows: list[tuple[str, int]]) -> list[Example]:
    """Davidson classes 0 (hate speech) and 1 (offensive language) are toxic, 2 (neither) clean."""
    return [(t, "toxic" if c in (0, 1) else "clean") for t, c in rows]


def train_toxicity(params: TrainParams, seed: int) -> None:
    train_tweets, valid_tweets, clean, rng = toxicity_data(seed)
    out = MODELS / "toxicity.ftz"
    report = train_classifier(as_examples(train_tweets) + [(s, "clean") for s in clean], str(out), "toxic",
                              validation=as_examples(valid_tweets), params=params)
    model = load_model(str(out))

    def toxic_scores(texts: list[str]) -> np.ndarray:
        return predict_scores(model, texts)[:, model.labels.index("__label__toxic")]

    cross = toxicity_cross_source(toxic_scores, valid_tweets, rng, per_source=1000)
    _add_cross_source(report.metrics_path, cross)
    _print("toxicity", report.metrics, cross)


def toxicity_cross_source(score: Callable[[list[str]], np.ndarray], valid_tweets: list[tuple[str, int]],
                          rng: random.Random, per_source: int) -> dict:
    """Share of clean sentences of untrained sources flagged at 0.4, and hate speech vs neither tweets."""
    held_out = {}
    for name in TOXICITY_CLEAN_HELD_OUT:
        texts = sentences(name, rng, per_source)
        held_out[name] = {"sentences": len(texts), "flagged_at_0.4": round(float((score(texts) >= 0.4).mean()), 4)}
    hate = [(t, c == 0) for t, c in valid_tweets if c in (0, 2)]
    return {"clean_sources_not_trained_on": held_out,
            "hate_speech_vs_neither_tweets": binary_metrics(np.array([h for _, h in hate]),
                                                            score([t for t, _ in hate])),
            "validation_tweets": "10% of the Davidson tweets, seeded; toxic = hate speech or offensive language"}


def train_toxicity_head(seed: int, max_tweets: int = 8000, max_clean: int = 4000) -> None:
    """The second kind: a logistic-regression head on all-MiniLM-L6-v2 embeddings, same data and checks."""
    from curate.classify.linear_head import LinearHead, train_head
    from curate.icp.embed import MiniLMEmbedder

    train_tweets, valid_tweets, clean, rng = toxicity_data(seed)
    sub = random.Random(seed + 1)
    chosen = sub.sample(train_tweets, min(max_tweets, len(train_tweets)))
    texts = [t for t, _ in chosen] + sub.sample(clean, min(max_clean, len(clean)))
    labels = [c in (0, 1) for _, c in chosen] + [False] * (len(texts) - len(chosen))
    embedder = MiniLMEmbedder(max_tokens=128, threads=2)
    weights, bias = train_head(embedder.embed(texts), np.array(labels))
    head = LinearHead(weights=weights, bias=bias, labels=("clean", "toxic"), embedder=embedder.model_name,
                      max_tokens=128)
    out = MODELS / "toxicity_minilm.npz"
    head.save(str(out))

    def toxic_scores(batch: list[str]) -> np.ndarray:
        return head.score(embedder.embed(batch))

    validation = binary_metrics(np.array([c in (0, 1) for _, c in valid_tweets]),
                                toxic_scores([t for t, _ in valid_tweets]))
    cross = toxicity_cross_source(toxic_scores, valid_tweets, rng, per_source=500)
    metrics = {"model": out.name, "kind": "logistic regression on all-MiniLM-L6-v2 embeddings (first 128 tokens)",
               "labels": ["clean", "toxic"], "positive_label": "toxic", "train_examples": len(texts),
               "validation": validation, "cross_source": cross, "model_bytes": out.stat().st_size}
    (MODELS / "toxicity_minilm.metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    _print("toxicity_minilm", validation, cross)


def _add_cross_source(path: str, value: object) -> None:
    data = json.loads(Path(path).read_text())
    data["cross_source"] = value
    Path(path).write_text(json.dumps(data, indent=2) + "\n")


def _print(name: str, metrics: dict, cross: object) -> None:
    print(f"{name}: validation split {json.dumps(metrics)}")
    print(f"{name}: cross-source {json.dumps(cross, indent=1)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["quality", "toxicity", "toxicity_minilm"], help="train one model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    params = TrainParams(dim=64, bucket=200_000, cutoff=50_000, dsub=4, seed=args.seed)
    if args.only in (None, "quality"):
        train_quality(params, args.seed)
    if args.only in (None, "toxicity"):
        train_toxicity(params, args.seed)
    if args.only in (None, "toxicity_minilm"):
        train_toxicity_head(args.seed)


if __name__ == "__main__":
    main()
