"""Per-line features for boilerplate detection, with the line's block and neighbours as context.

A *block* is a run of non-blank lines. Each non-blank line gets a fixed-length
vector: its own shape (length, punctuation, capitals, separators such as ``|``
or ``»``, words typical of site chrome such as "cookies" or "share"), the same
shape for its previous and next non-blank line, its block's size and prose
share, and where it sits in the block and in the document; and, when counts
over the corpus are given (:mod:`curate.rewriting.repeats`), in how many
documents the line, its neighbours and its block's lines occur. On a web page
converted to text (``web=True``), the shapes read markdown link labels as text,
chrome and function words of more languages count, and what the page's own text
says about its chrome follows (:mod:`curate.rewriting.page_features`: list
markup, menu-like runs of short lines, where the line sits relative to the
page's prose). Everything is plain
Python over the line's text: no model call, tens of thousands of lines per
second on one core.
"""

from __future__ import annotations

import math
import re

from curate.rewriting import page_features

#: Words typical of navigation, banners, share bars and footers of web pages (lowercase, whole words).
CHROME_WORDS = frozenset("""
home menu navigation nav next prev previous up back top skip index contents search login log sign register
account cart subscribe newsletter cookie cookies consent accept privacy policy terms conditions copyright
rights reserved share tweet facebook twitter linkedin reddit pinterest whatsapp email print follow like
related recommended popular trending advertisement advertising sponsored sitemap contact about help faq
powered comments comment reply permalink tags categories archive archives rss feed download app
""".split())
_STOPWORDS = frozenset("""
the a an of to in and or is are was were be been it that this with for on as by at from which who
but not have has had will would can could may should its their they he she we you i
""".split())
#: Read on converted web pages (``web=True``): chrome words and function words of running prose in German,
#: French, Spanish, Italian, Dutch and Polish too.
WEB_CHROME_WORDS = CHROME_WORDS | frozenset("""
impressum datenschutz datenschutzerklärung kontakt startseite anmelden abmelden registrieren suche suchen menü
teilen kommentar kommentare kommentieren antworten newsletter abonnieren warenkorb merkzettel weiterlesen
drucken empfehlen agb haftungsausschluss werbung anzeige vorbehalten
accueil connexion recherche partager commentaires mentions légales confidentialité abonnez
inicio buscar compartir comentarios aviso legal privacidad suscríbete
strona główna szukaj udostępnij komentarze regulamin prywatności zaloguj
""".split())
_WEB_STOPWORDS = _STOPWORDS | frozenset("""
der die das und ist nicht mit von zu den im für auf ein eine einen es sich auch dem des als wird bei oder dass
wie aber noch nach wenn sind war hat werden kann nur um so aus vor
le la les des et est un une du en que qui pour dans sur pas au aux ce il elle ne se plus par
el los las y es del por con para una se lo como más pero su al
il di che e non per un una sono della nel
de het een van en is dat niet met op te voor zijn
i w na z się nie do to że jest jak po ale
""".split())
_SEPARATORS = re.compile(r"[|•·»›>«‹/]|\s-\s|::")
_SPLIT = re.compile(r"\s*(?:[|•·»›>«‹/]|\s-\s|::|\s{2,})\s*")
_WORD = re.compile(r"\w+", re.UNICODE)
_TERMINAL = (".", "!", "?", ":", ";", '"', "'", ")", "”", "’", "。", "！", "？")

OWN = ("log_words", "log_chars", "terminal", "upper_start", "lower_start", "bullet", "digit_share", "alpha_share",
       "upper_share", "title_share", "separator_share", "chrome_share", "chrome_any", "stop_share", "short",
       "has_copyright", "mean_word_len", "link_list", "wide_gaps")
NEIGHBOUR = ("log_words", "terminal", "lower_start", "chrome_share", "stop_share", "separator_share", "repeated")
CONTEXT = ("block_log_lines", "block_log_words", "block_terminal_share", "block_chrome_share", "block_stop_share",
           "first_in_block", "last_in_block", "alone_in_block", "doc_position", "doc_head", "doc_tail",
           "repeat_docs", "repeat_long", "block_repeat_share", "block_repeat_words", "block_all_repeated",
           "doc_repeat_share")
#: Document counts are capped here: what matters is "seen on a few pages", not the corpus size.
REPEAT_CAP = 8
#: A document with this share of its words on lines that occur in other documents is a copy (an exact or near
#: duplicate that deduplication has not removed), not a page made of chrome: its lines are judged as if seen once.
DUPLICATE_SHARE = 0.9
NAMES = (list(OWN) + [f"prev_{n}" for n in NEIGHBOUR] + [f"next_{n}" for n in NEIGHBOUR] + list(CONTEXT))
#: On a converted web page, the means of these features over the ``WINDOW_WIDTHS`` non-blank lines on each side
#: of a line are features too (a menu item sits among short lines without function words, a paragraph's last
#: line among prose), and so is the line's position among the page's non-blank lines.
WINDOW = ("log_words", "stop_share", "terminal", "short", "list_item", "heading", "chrome_share", "prose",
          "short_run", "title_share", "upper_start", "digit_share")
WINDOW_WIDTHS = (2, 6)
#: the features of a converted web page (``document_features(..., web=True)``)
WEB_NAMES = (NAMES + list(page_features.NAMES) + [f"{n}_w{w}" for w in WINDOW_WIDTHS for n in WINDOW]
             + ["line_position"])
_BASE = NAMES + list(page_features.NAMES)


def line_shape(line: str, chrome_words: frozenset[str] = CHROME_WORDS,
               stopwords: frozenset[str] = _STOPWORDS) -> dict[str, float]:
    text = line.strip()
    words = _WORD.findall(text)
    lower = [w.lower() for w in words]
    n_words = len(words)
    n_chars = len(text)
    letters = sum(ch.isalpha() for ch in text)
    chrome = sum(w in chrome_words for w in lower)
    return {
        "log_words": math.log1p(n_words),
        "log_chars": math.log1p(n_chars),
        "terminal": float(text.endswith(_TERMINAL)),
        "upper_start": float(text[:1].isupper()),
        "lower_start": float(text[:1].islower()),
        "bullet": float(text[:1] in "-*•–—+·"),
        "digit_share": sum(ch.isdigit() for ch in text) / max(1, n_chars),
        "alpha_share": letters / max(1, n_chars),
        "upper_share": sum(ch.isupper() for ch in text) / max(1, letters),
        "title_share": sum(w[:1].isupper() for w in words) / max(1, n_words),
        "separator_share": len(_SEPARATORS.findall(text)) / max(1, n_words),
        "chrome_share": chrome / max(1, n_words),
        "chrome_any": float(chrome > 0),
        "stop_share": sum(w in stopwords for w in lower) / max(1, n_words),
        "short": float(n_words <= 3),
        "has_copyright": float("©" in text or "(c)" in text.lower() or "copyright" in lower),
        "mean_word_len": min(20.0, sum(map(len, words)) / max(1, n_words)) / 10,
        "link_list": _link_list(text),
        "wide_gaps": float(len(re.findall(r"\S\s{2,}\S", text)) >= 2),
    }


def _link_list(text: str) -> float:
    """1 when the line is a list of at least three short items (a menu or a breadcrumb): ``A | B | C``."""
    items = [item for item in _SPLIT.split(text) if item]
    return float(len(items) >= 3 and all(len(item.split()) <= 3 for item in items))


def blocks(lines: list[str]) -> list[tuple[int, int]]:
    """Inclusive ranges of the runs of non-blank lines."""
    out: list[tuple[int, int]] = []
    start = None
    for i, line in enumerate(lines):
        if line.strip():
            if start is None:
                start = i
        elif start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(lines) - 1))
    return out


def document_features(lines: list[str], counts: list[int] | None = None,
                      web: bool = False) -> tuple[list[int], list[list[float]]]:
    """The indices of the non-blank lines and one feature vector (in :data:`NAMES` order; ``web``: in
    :data:`WEB_NAMES` order, for a web page converted to text) for each.

    ``counts``: per line, the number of documents of the corpus it occurs in
    (:meth:`curate.rewriting.repeats.LineRepeats.line_counts`); without it every line counts as seen once,
    and so it does for a document that is nearly all repeated lines (:data:`DUPLICATE_SHARE`).
    """
    linked = lines
    if web:  # shapes read link labels as text
        lines = [page_features.delink(line) for line in lines]
    spans = blocks(lines)
    index = [i for first, last in spans for i in range(first, last + 1)]
    if not index:
        return [], []
    vocabulary = (WEB_CHROME_WORDS, _WEB_STOPWORDS) if web else (CHROME_WORDS, _STOPWORDS)
    shapes = {i: line_shape(lines[i], *vocabulary) for i in index}
    words = {i: math.expm1(shapes[i]["log_words"]) for i in index}
    doc_words = max(1.0, sum(words.values()))
    doc_repeat_share = (sum(words[i] for i in index if counts[i] >= 2) / doc_words) if counts is not None else 0.0
    if doc_repeat_share >= DUPLICATE_SHARE:
        counts = None  # a copy of another document: its repetition says nothing about chrome
    for i in index:
        seen = min(REPEAT_CAP, counts[i]) if counts is not None else 1
        shapes[i]["repeated"] = float(seen >= 2)
        shapes[i]["repeat_docs"] = math.log(max(1, seen)) / math.log(REPEAT_CAP)
        # a long line repeated verbatim across documents is chrome; a short one may be a common heading
        shapes[i]["repeat_long"] = shapes[i]["repeat_docs"] * min(1.0, shapes[i]["log_words"] / math.log1p(12))
    page = page_features.page_features(lines, index, words, linked) if web else {}
    total = len(lines)
    rows: list[list[float]] = []
    empty = dict.fromkeys(NEIGHBOUR, 0.0)
    for b, (first, last) in enumerate(spans):
        members = [shapes[i] for i in range(first, last + 1)]
        block_words = sum(words[i] for i in range(first, last + 1))
        size = len(members)
        block = {
            "block_log_lines": math.log1p(size),
            "block_log_words": math.log1p(block_words),
            "block_terminal_share": sum(s["terminal"] for s in members) / size,
            "block_chrome_share": sum(s["chrome_share"] for s in members) / size,
            "block_stop_share": sum(s["stop_share"] for s in members) / size,
            "block_repeat_share": sum(s["repeated"] for s in members) / size,
            "block_repeat_words": sum(words[i] * shapes[i]["repeated"] for i in range(first, last + 1)) / max(1.0, block_words),
            "block_all_repeated": float(all(s["repeated"] for s in members)),
        }
        for i in range(first, last + 1):
            own = shapes[i]
            prev = shapes.get(i - 1) or (shapes[spans[b - 1][1]] if b else None)
            nxt = shapes.get(i + 1) or (shapes[spans[b + 1][0]] if b + 1 < len(spans) else None)
            position = i / max(1, total - 1)
            context = dict(block)
            context.update({
                "first_in_block": float(i == first), "last_in_block": float(i == last),
                "alone_in_block": float(first == last), "doc_position": position,
                "doc_head": float(position < 0.1), "doc_tail": float(position > 0.9),
                "repeat_docs": own["repeat_docs"], "repeat_long": own["repeat_long"],
                "doc_repeat_share": doc_repeat_share,
            })
            row = [own[n] for n in OWN]
            row += [(prev or empty)[n] for n in NEIGHBOUR]
            row += [(nxt or empty)[n] for n in NEIGHBOUR]
            row += [context[n] for n in CONTEXT]
            if web:
                row += [page[i][n] for n in page_features.NAMES]
            rows.append(row)
    return index, (_with_windows(rows) if web else rows)


def _with_windows(rows: list[list[float]]) -> list[list[float]]:
    """``rows`` (a page's non-blank lines in order) with the :data:`WINDOW` means and the line's position."""
    columns = [_BASE.index(n) for n in WINDOW]
    n = len(rows)
    prefix = [[0.0] * len(columns)]
    for row in rows:
        prefix.append([acc + row[c] for acc, c in zip(prefix[-1], columns)])
    out = []
    for k, row in enumerate(rows):
        extra = []
        for width in WINDOW_WIDTHS:
            lo, hi = max(0, k - width), min(n, k + width + 1)
            extra += [(b - a) / (hi - lo) for a, b in zip(prefix[lo], prefix[hi])]
        out.append(row + extra + [k / max(1, n - 1)])
    return out
