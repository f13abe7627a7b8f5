"""Texts for the embedding heads' training and evaluation, read from ../shared (see docs/classifiers.md).

Every text keeps its source and its parent document, so that splits and
leave-one-source-out folds never put pieces of one document on both sides.
Random choices come from generators seeded with the seed and the source name,
so adding or removing one source does not change the texts of another.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from train_default_models import SHARED, corpus, tweets

from curate.classify.sentences import sentence_spans

# Quality: edited prose and documentation (positive) against four kinds of noisy text a crawl holds (negative):
# spam and raw mailing-list e-mail (headers, quoting, signatures), tweets and forum chatter. Man pages in six other
# languages are positives, so language decides nothing. Web-page chrome is scored, never fitted: besides menus and
# footers it holds the headlines and teasers of other articles, edited text that is noise only in its place on the
# page (removing it is the extractor's job, not this classifier's).
QUALITY_POSITIVE = ["brown_corpus", "bbc_news", "moby_dick_chapters", "python311_doc_rst", "postgresql_doc_html",
                    "perl_doc_pod", "git_doc_asciidoc", "django_doc_html", "manpages_en",
                    "manpages_de", "manpages_fr", "manpages_es", "manpages_ja", "manpages_zh", "manpages_ru"]
QUALITY_NEGATIVE = ["spam_emails", "ham_emails", "tweets", "forum_posts"]
QUALITY_SCORED_ONLY = ["web_chrome"]
OTHER_LANGUAGES = ["manpages_de", "manpages_fr", "manpages_es", "manpages_ja", "manpages_zh", "manpages_ru"]
DOCS_PER_SOURCE = 240  # other-language man pages: half as many, so that together they weigh like two sources
DOC_CHARS = 3000  # a document is its start: the embedder reads 128 tokens, a few hundred characters of prose

# Hate: three labelled data sets, and clean sentences so that ordinary sentences are not flagged.
HATE_DATASETS = ["davidson", "stormfront", "toxigen"]
CLEAN_FIT = ["brown_corpus", "bbc_news", "python311_doc_rst", "postgresql_doc_html", "perl_doc_pod"]
CLEAN_HELD_OUT = ["moby_dick_chapters", "django_doc_html", "git_doc_asciidoc", "manpages_en", "udhr_en",
                  "fortunes_en"]
CLEAN_SENTENCES = 600

# Text-message shorthand: a line of nlp_corpus_sentences with one of these words (whole, lowercased, without the
# punctuation around it) is SMS-like. Only spellings that edited English does not use.
SMS_WORDS = {"u", "ur", "lor", "lah", "leh", "thanx", "thx", "gd", "nite", "tmr", "tmrw", "dun", "ü", "oso", "wif",
             "juz", "liao", "luv", "frnd", "txt", "msg", "pls", "plz", "wat", "hav", "coz", "okie", "yup", "dat",
             "2nite", "2day", "4u", "b4", "gr8", "lol"}
# "U" alone is left out: capital "U." ends legal and US citations ("562 U.").


@dataclass(frozen=True)
class Text:
    """One training or evaluation text: its source, the document it comes from, and how it was cut."""

    text: str
    source: str
    parent: str
    kind: str  # "document" (the start of a document), "window" (1-5 sentences) or "fragment" (1-6 words)
    positive: bool


def _rng(seed: int, *names: object) -> random.Random:
    return random.Random(":".join(map(str, (seed, *names))))


def _documents(source: str) -> Iterator[tuple[str, str]]:
    """(parent id, text) of every non-blank document of a source, in file order."""
    if source == "spam_emails":
        rows = ((r["id"], r["text"]) for r in corpus("spamassassin_emails") if r.get("label") == "spam")
    elif source == "ham_emails":
        rows = ((r["id"], r["text"]) for r in corpus("spamassassin_emails") if r.get("label") == "ham")
    elif source == "web_chrome":  # the page chrome an extractor must remove: menus, share bars, footers
        rows = ((r["id"], "\n".join(r["without"])) for r in corpus("web_pages") if len(r.get("without") or []) >= 3)
    elif source == "tweets":  # five tweets a document, in the order of the file
        texts = [t for t, _ in tweets()]
        rows = ((f"tweets-{i}", "\n".join(texts[i:i + 5])) for i in range(0, len(texts), 5))
    elif source == "forum_posts":  # Stormfront sentences labelled not hate, five consecutive ones of one section
        rows = _forum_posts()
    elif source == "udhr_en":
        rows = ((r["id"], r["text"]) for r in corpus("udhr_multilingual") if str(r.get("lang", "")).startswith("en"))
    elif source == "fortunes_en":
        rows = ((r["id"], r["text"]) for r in corpus("fortunes_all") if r.get("lang") == "en" and not r.get("offensive"))
    else:
        rows = ((r["id"], r["text"]) for r in corpus(source))
    for parent, text in rows:
        if text and text.strip():
            yield str(parent), text


def _forum_posts(size: int = 5) -> Iterator[tuple[str, str]]:
    calm = [r for r in _jsonl("toxicity_stormfront.jsonl") if r["label"] != "hate"]
    for i in range(0, len(calm) - size + 1, size):
        run = calm[i:i + size]
        if len({r.get("group") for r in run}) == 1:
            yield f"forum-{i}", " ".join(r["text"] for r in run)


def sample_documents(source: str, seed: int, count: int) -> list[tuple[str, str]]:
    """``count`` random documents of a source (seeded by the source's name)."""
    docs = list(_documents(source))
    _rng(seed, source, "documents").shuffle(docs)
    return docs[:count]


def _spans(text: str) -> list[str]:
    return [s for s in sentence_spans(text[:20_000]) if s.strip()]


def window(text: str, rng: random.Random, longest: int = 5) -> str | None:
    """A run of 1 to ``longest`` sentences from a random place of ``text``."""
    spans = _spans(text)
    if not spans:
        return None
    start = rng.randrange(len(spans))
    return "".join(spans[start:start + rng.randint(1, longest)]).strip() or None


def fragment(text: str, rng: random.Random) -> str | None:
    """The first 1-6 words of a random sentence: very short texts on both sides, so that they get no sure score."""
    spans = _spans(text)
    if not spans:
        return None
    words = rng.choice(spans).split()
    return " ".join(words[:rng.randint(1, 6)]) or None


def quality_texts(seed: int) -> list[Text]:
    """For each quality source: documents (their start), a window and a fragment of each, labelled."""
    out = []
    for source in QUALITY_POSITIVE + QUALITY_NEGATIVE + QUALITY_SCORED_ONLY:
        positive = source in QUALITY_POSITIVE
        count = DOCS_PER_SOURCE // 2 if source in OTHER_LANGUAGES else DOCS_PER_SOURCE
        rng = _rng(seed, source, "cuts")
        for parent, text in sample_documents(source, seed, count):
            out.append(Text(text[:DOC_CHARS].strip(), source, parent, "document", positive))
            for kind, cut in (("window", window(text, rng)), ("fragment", fragment(text, rng))):
                if cut:
                    out.append(Text(cut, source, parent, kind, positive))
    return out


def passages(source: str, seed: int, count: int, min_words: int = 40) -> list[Text]:
    """``count`` random long-form passages (4 consecutive sentences, at least ``min_words`` words) of a source."""
    out = []
    for parent, text in _documents(source):
        spans = _spans(text)
        for start in range(0, max(len(spans) - 3, 0), 4):
            passage = " ".join(" ".join(spans[start:start + 4]).split())
            if len(passage.split()) >= min_words:
                out.append(Text(passage, source, parent, "passage", True))
    _rng(seed, source, "passages").shuffle(out)
    return out[:count]


_PUNCTUATION = ".,!?;:'\"()[]-…*~"


def sms_lines(seed: int, count: int) -> list[Text]:
    """Lines of nlp_corpus_sentences written in text-message shorthand (at least one word of ``SMS_WORDS``)."""
    lines = [r["text"] for r in corpus("nlp_corpus_sentences")
             if any(w.lower() in SMS_WORDS and w != "U" for w in (v.strip(_PUNCTUATION) for v in r["text"].split()))]
    _rng(seed, "sms").shuffle(lines)
    return [Text(t, "sms", f"sms-{i}", "line", False) for i, t in enumerate(lines[:count])]


def clean_sentences(source: str, seed: int, count: int, half: int | None = None) -> list[Text]:
    """``count`` random sentences (3+ words) of a source; ``half`` 0 or 1 takes only that half of its documents,
    so that fitted and held-out sentences of one source come from different documents."""
    docs = sample_documents(source, seed, 10_000)
    if half is not None:
        docs = docs[half::2]
    rng = _rng(seed, source, "sentences", half)
    out = [Text(" ".join(s.split()), source, parent, "sentence", False)
           for parent, text in docs for s in _spans(text) if len(s.split()) >= 3]
    rng.shuffle(out)
    return out[:count]


@dataclass(frozen=True)
class Labelled:
    """A hate-speech example: its data set, whether it is hate, and its original label."""

    text: str
    dataset: str
    hate: bool
    label: str
    group: str = ""


def davidson(seed: int, offensive: int = 3000) -> list[Labelled]:
    """Every hate-speech and every "neither" tweet, and ``offensive`` random "offensive language" tweets (not hate)."""
    names = {0: "hate", 1: "offensive", 2: "neither"}
    rows = [Labelled(t, "davidson", c == 0, names[c]) for t, c in tweets()]
    rng = _rng(seed, "davidson")
    rude = [r for r in rows if r.label == "offensive"]
    rng.shuffle(rude)
    return [r for r in rows if r.label != "offensive"] + rude[:offensive]


def _jsonl(name: str) -> list[dict]:
    import orjson

    with open(SHARED / "labels" / name, "rb") as handle:
        return [orjson.loads(line) for line in handle if line.strip()]


def stormfront(seed: int, not_hate: int = 4000) -> list[Labelled]:
    """Every hate sentence of the Stormfront set and ``not_hate`` random others."""
    rows = [Labelled(r["text"], "stormfront", r["label"] == "hate", r["label"], str(r.get("group", "")))
            for r in _jsonl("toxicity_stormfront.jsonl")]
    rng = _rng(seed, "stormfront")
    calm = [r for r in rows if not r.hate]
    rng.shuffle(calm)
    return [r for r in rows if r.hate] + calm[:not_hate]


def stormfront_posts(seed: int, count: int, size: int = 4) -> list[list[Labelled]]:
    """``count`` random runs of ``size`` consecutive Stormfront sentences of one forum section (in file order)."""
    rows = [Labelled(r["text"], "stormfront", r["label"] == "hate", r["label"], str(r.get("group", "")))
            for r in _jsonl("toxicity_stormfront.jsonl")]
    runs = [rows[i:i + size] for i in range(0, len(rows) - size + 1, size)
            if len({r.group for r in rows[i:i + size]}) == 1]
    _rng(seed, "stormfront-posts").shuffle(runs)
    return runs[:count]


def toxigen() -> list[Labelled]:
    """All ToxiGen statements: implicit hate and neutral or supportive mentions of 15 groups."""
    return [Labelled(r["text"], "toxigen", r["label"] == "hate", r["label"], str(r.get("group", "")))
            for r in _jsonl("toxicity_toxigen.jsonl")]


def hate_datasets(seed: int) -> dict[str, list[Labelled]]:
    return {"davidson": davidson(seed), "stormfront": stormfront(seed), "toxigen": toxigen()}
