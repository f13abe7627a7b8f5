"""The ``blocks`` preset on single web pages converted to text: no corpus repetition, only the page's own cues."""

from curate.rewriting.block_head import block_removals, default_head, is_web_page
from curate.rewriting.features import NAMES, WEB_NAMES, document_features
from curate.rewriting.page_features import page_features

ARTICLE = [
    "Die Stadtverwaltung hat am Dienstag den Haushalt für das kommende Jahr vorgestellt. Der größte Posten ist "
    "die Sanierung der Schulen, für die in den nächsten drei Jahren zusammen 40 Millionen Euro eingeplant sind.",
    "",
    "Der Kämmerer sagte, die Zahlen seien vorsichtig gerechnet. Sollten die Steuereinnahmen höher ausfallen als "
    "erwartet, werde das Geld zuerst in die Tilgung alter Kredite fließen.",
    "",
    "Im Gemeinderat stieß der Entwurf auf gemischte Reaktionen. Die Opposition kritisierte, dass für den "
    "Radverkehr kaum Mittel vorgesehen seien, und kündigte eigene Anträge an.",
]
MENU = ["  * [Startseite](/)", "  * [Politik](/politik)", "  * [Wirtschaft](/wirtschaft)", "  * [Sport](/sport)",
        "  * [Kultur](/kultur)", "  * [Kontakt](/kontakt)"]
FOOTER = ["  * [Impressum](/impressum)", "  * [Datenschutz](/datenschutz)", "  * [AGB](/agb)", "",
          "© 2023 Stadtanzeiger Verlag GmbH"]
SHARE = ["Teilen:", "", "  * Facebook", "  * Twitter", "  * E-Mail"]


def _page(*parts: list[str]) -> list[str]:
    lines: list[str] = []
    for part in parts:
        lines.extend([*part, ""])
    return lines[:-1]


def _removed(lines: list[str]) -> set[int]:
    head = default_head()
    return block_removals(lines, head.probabilities(lines), head.threshold_for(lines))  # one page, no counts


def _indices(lines: list[str], part: list[str], start: int = 0) -> set[int]:
    first = lines.index(part[0], start)
    return {first + k for k, line in enumerate(part) if line.strip()}


def test_markdown_link_menu_is_link_dense_and_prose_with_one_link_is_not():
    lines = ["  * [Startseite](/) ", "Der Entwurf ist [hier](https://example.org/haushalt.pdf) als PDF abrufbar und "
             "wird im Gemeinderat am kommenden Donnerstag beraten."]
    features = page_features(lines, [0, 1], {0: 1, 1: 18})
    assert features[0]["link_share"] == 1.0 and features[0]["list_item"] == 1.0
    assert 0 < features[1]["link_share"] < 0.1 and features[1]["list_item"] == 0.0
    assert features[1]["prose"] == 1.0 and features[0]["prose"] == 0.0


def test_lines_above_and_below_the_main_prose_are_told_apart():
    lines = _page(MENU, ["# Haushalt 2024 vorgestellt"], ARTICLE, FOOTER)
    index, rows = document_features(lines, web=True)
    row = dict(zip(index, rows))
    at = {name: WEB_NAMES.index(name) for name in ("above_main", "below_main", "in_main", "heading_then_prose")}
    menu, heading, footer = 0, lines.index("# Haushalt 2024 vorgestellt"), lines.index(FOOTER[0])
    assert row[menu][at["above_main"]] == 1.0 and row[footer][at["below_main"]] == 1.0
    assert row[lines.index(ARTICLE[2])][at["in_main"]] == 1.0
    assert row[heading][at["heading_then_prose"]] == 1.0 and row[menu][at["heading_then_prose"]] == 0.0


def test_link_menus_score_as_chrome_and_the_article_with_its_heading_stays():
    heading = ["# Haushalt 2024 vorgestellt"]
    lines = _page(MENU, heading, ARTICLE, SHARE, FOOTER)
    head = default_head()
    probabilities = head.probabilities(lines)
    removed = block_removals(lines, probabilities, head.threshold_for(lines))
    content = _indices(lines, heading) | {i for i, line in enumerate(lines) if line in ARTICLE and line}
    assert not removed & content, [lines[i] for i in removed & content]
    below = _indices(lines, SHARE) | _indices(lines, FOOTER)  # the share bar and the link menu of the footer
    assert below <= removed, [lines[i] for i in below - removed]
    menu = _indices(lines, MENU)
    prose = {i for i in content if lines[i] in ARTICLE}
    # the link menu above the article scores as chrome, on average above every prose line, and goes but for an
    # item the classifier is less sure of between removed ones (a run inside a block goes only between sentences)
    assert sum(probabilities[i] for i in menu) / len(menu) > max(probabilities[i] for i in prose)
    assert len(menu & removed) >= len(menu) - 1, [lines[i] for i in menu - removed]


def test_a_prose_paragraph_with_one_link_is_kept():
    linked = ("Den vollständigen Entwurf hat die Stadt [auf ihrer Website](https://example.org/haushalt) "
              "veröffentlicht; Bürgerinnen und Bürger können bis Ende des Monats Stellung nehmen.")
    lines = _page(MENU, ["# Haushalt 2024 vorgestellt"], ARTICLE[:1], [linked], ARTICLE[2:], FOOTER)
    assert lines.index(linked) not in _removed(lines)


def test_section_headings_inside_the_article_stay():
    lines = _page(MENU, ["# Haushalt 2024 vorgestellt"], ARTICLE[:1], ["## Schulen zuerst"], ARTICLE[2:3],
                  ["### Kritik der Opposition"], ARTICLE[4:], FOOTER)
    removed = _removed(lines)
    for heading in ("# Haushalt 2024 vorgestellt", "## Schulen zuerst", "### Kritik der Opposition"):
        assert lines.index(heading) not in removed, heading


def test_an_english_news_page_in_html2text_form_loses_its_footer_and_keeps_its_article():
    article = [
        "The city council approved the budget for the new central library on Tuesday, ending a debate that had "
        "lasted for most of the year.",
        "",
        "Members voted eleven to four in favour. The building will open in the spring of next year if the roof is "
        "finished in March.",
        "",
        "Opponents said the money would have been better spent on repairing roads, but the mayor called the vote "
        "a good day for the city.",
    ]
    nav = ["Skip to main content", "", "  * News", "  * Sport", "  * Weather", "  * Business", "  * Opinion"]
    tail = ["## Related stories", "", "  * Council tax to rise by 3%", "  * New bus routes announced", "",
            "Follow us on Twitter and Facebook", "", "Copyright © 2023 Example Gazette. All rights reserved."]
    lines = _page(nav, ["# Council approves library budget"], article, tail)
    removed = _removed(lines)
    content = {i for i, line in enumerate(lines) if line in article and line}
    content.add(lines.index("# Council approves library budget"))
    assert not removed & content, [lines[i] for i in removed & content]
    tail_lines = _indices(lines, tail)
    assert len(removed & tail_lines) >= 0.8 * len(tail_lines), [lines[i] for i in tail_lines - removed]


def test_web_snippets_match_across_markdown_links_accents_and_line_breaks():
    from benchmarks._web_pages import WebPage, page_counts, site_of, tokens

    assert tokens("Die [GEMA](http://gema.de) dreht **völlig** am Zei\xadger!") == \
        ["die", "gema", "dreht", "vollig", "am", "zeiger"]
    page = WebPage("web:de", "p", [], [], [], "example.de", "de", "",
                   keep=[tokens("Die Lebensdauer von Bauteilen erhöht sich beträchtlich und deutlich"),
                         tokens("Zweiter Absatz")],
                   drop=[tokens("Impressum"), tokens("Teilen mit")])
    full = "  * Impressum\n\nDie Lebensdauer von Bauteilen\nerhoht sich betrachtlich und deutlich.\n\nZweiter Absatz\n"
    assert page_counts(page, full) == (11, 11, 3, 2, False)  # "Teilen mit" is not on the page
    cut = "Die Lebensdauer von Bauteilen\n\nZweiter Absatz"  # the snippet's second line went: a broken paragraph
    assert page_counts(page, cut) == (11, 2, 3, 3, True)
    assert site_of("https://news.bbc.co.uk/x", "") == "bbc.co.uk" and site_of("", "hard::iwr.de.IWR-Presse.html") \
        == "iwr.de"
    assert site_of("https://blog.example.wordpress.com/2012/", "") == "wordpress.com"


def test_a_heading_stays_with_the_prose_section_it_opens():
    lines = ["Translations", "", ARTICLE[0], "", "## Newsletter", "", "Sign up", "", "Follow us"]
    hits = {0: 0.99, 2: 0.0, 4: 0.99, 6: 0.99, 8: 0.99}
    removed = block_removals(lines, hits, 0.5)
    assert 0 not in removed  # its section's prose is kept
    assert {4, 6, 8} <= removed  # the next block goes too, so the heading is no section title
    sentence = ["It ends here.", "", ARTICLE[0]]  # a sentence is no heading
    assert block_removals(sentence, {0: 0.99, 2: 0.0}, 0.5) == {0}


def test_converted_web_pages_get_their_own_head_and_threshold():
    head = default_head()
    web = _page(MENU, ["# Haushalt 2024 vorgestellt"], ARTICLE, FOOTER)
    assert head.web_head is not None and head.threshold_for(web) == head.web_head.threshold
    assert head.threshold_for([line for line in ARTICLE]) == head.threshold


def test_numbered_clauses_and_lists_without_headings_are_not_taken_for_web_pages():
    licence = ["1. Definitions.", "", ARTICLE[0], "", "2. Grant of Copyright License.", "", ARTICLE[2], "",
               "3. Redistribution.", "", ARTICLE[4]]
    assert not is_web_page(licence)  # numbered clauses: a licence or a manual, judged as other text
    options = ["  * --verbose: print more", "  * --quiet: print less", ARTICLE[0]]
    assert not is_web_page(options)  # a bulleted list but no heading
    code = ["# Getting the geometry for the feature.", "g = feature.geom", "# Get the name of the field",
            "nm = field.name", ARTICLE[0]]
    assert not is_web_page(code)  # comments of source code read as headings, but there is no list
    assert is_web_page(_page(MENU, ["# Haushalt 2024 vorgestellt"], ARTICLE, FOOTER))


def test_other_text_is_judged_without_the_page_features():
    head = default_head()
    assert not head.web and head.web_head.web
    assert len(head.names) == len(NAMES) and len(head.web_head.names) == len(WEB_NAMES)
