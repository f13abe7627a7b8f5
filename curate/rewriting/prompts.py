"""Prompt presets and grammars for the ``rewrite`` stage.

Three presets:

* ``line_lm`` (formerly ``small``; for a small general instruct model such as
  SmolLM2-135M): no free-form program writing. Each non-empty line is shown
  with its page title and position, and the model's log-probabilities of
  `` boilerplate`` / `` content`` decide; lines whose boilerplate probability
  reaches ``line_threshold`` are removed. The decisions are written as
  ``remove_lines`` programs, so they are recorded and executed like any other.
  The document-level decision works the same way with ``drop_threshold``.
* ``instruct``: a larger general instruct model writes ProX programs from a
  chat prompt with examples; with a grammar-capable backend decoding is
  constrained to valid calls with line numbers inside the chunk.
* ``prox``: ProX's released refining models, prompted exactly as ProX's own
  code does (system prompt, Llama-2 chat format, ``[000]text`` numbering).

The default preset, ``blocks``, uses no prompt at all (see
:mod:`curate.rewriting.block_head`).
"""

from __future__ import annotations

from curate.lm.base import gbnf_literal

# ------------------------------------------------------------------ small: per-line decisions

LINE_CHOICES = (" boilerplate", " content")
DOC_CHOICES = (" drop", " keep")

LINE_PREFIX = """Each line below comes from a web page. A line is "boilerplate" when it is site navigation (links such as Home, Next, Prev, Up, Back to top), a menu, a breadcrumb, the site's name repeated as a header, a footer, a copyright or licence notice of the site, a cookie notice or a share/login button. A line is "content" when it belongs to the page's own text: sentences, headings of the article, list items, table cells, code, names and numbers in the text.

Page: Installing the server
Line 1 of 120: Skip to main content
Label: boilerplate

Page: Installing the server
Line 2 of 120: Home
Label: boilerplate

Page: Installing the server
Line 6 of 120: Run the installer and choose a data directory.
Label: content

Page: Installing the server
Line 7 of 120: make install
Label: content

Page: Installing the server
Line 118 of 120: Next
Label: boilerplate

Page: Installing the server
Line 40 of 120: Table 3.1. Options
Label: content

Page: Our cookbook
Line 2 of 64: Recipes > Soups > Lentil soup
Label: boilerplate

Page: Our cookbook
Line 31 of 64: Simmer the lentils for twenty minutes, then add the cumin.
Label: content

Page: Our cookbook
Line 63 of 64: Copyright (c) 2021 Example Kitchen. All rights reserved.
Label: boilerplate

Page: Our cookbook
Line 12 of 64: Ingredients
Label: content

"""

LINE_TEMPLATE = "Page: {title}\nLine {number} of {total}: {line}\nLabel:"

DOC_PREFIX = """Decide whether each document is worth keeping as training text. "drop" means the whole document is spam, gibberish, a list of links, an error page or only navigation; "keep" means it has real content, even if some boilerplate surrounds it.

Document: Buy cheap pills online!!! Click here click here best price viagra casino win now
Decision: drop

Document: The committee met on Tuesday to discuss the budget. Members agreed to postpone the vote until the figures were audited.
Decision: keep

Document: Home | About | Contact | Login | Register | Sitemap | Privacy | Terms
Decision: drop

Document: To install the package, run pip install example. The command downloads the wheel and its dependencies.
Decision: keep

"""

DOC_TEMPLATE = "Document: {text}\nDecision:"

# ------------------------------------------------------------------ instruct: programs from a chat prompt

INSTRUCT_SYSTEM = """You clean documents for a training corpus. You receive numbered lines between [doc] and [/doc]. Write a program, one call per line, using only:
remove_lines(line_start=A, line_end=B)  -- delete lines A..B (inclusive): navigation, menus, headers, footers, ads, copyright notices
normalize(source_str="...", target_str="...")  -- replace a noisy string inside a line
keep_chunk()  -- nothing to change
Use only line numbers shown in this chunk. Never remove the document's own text."""

INSTRUCT_EXAMPLE_INPUT = """[doc]
[010] Home | Products | Support
[011] How to reset your router
[012] Unplug the router, wait ten seconds and plug it back in.
[013] If the light stays red, call support.
[014] Share this page: Facebook Twitter
[015] (c) 2020 Example Networks
[/doc]"""

INSTRUCT_EXAMPLE_OUTPUT = """remove_lines(line_start=10, line_end=10)
remove_lines(line_start=14, line_end=15)"""

INSTRUCT_DOC_SYSTEM = """You judge documents for a training corpus. Answer drop_doc() if the document is spam, gibberish, only links or navigation, or an error page; otherwise answer keep_doc()."""

# ------------------------------------------------------------------ prox: released refining models

#: ProX's system prompt for both refining models (data_gen/tasks/apply_{doc,chunk}_refining.py).
PROX_SYSTEM = "You are a helpful, respectful and honest assistant."
#: The Llama-2 chat format the released refining models were trained on, as Hugging Face's Llama-2 chat
#: template renders a system and a user message; the tokenizer adds the BOS token.
PROX_CHAT_TEMPLATE = "[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST]"

PRESETS = ("blocks", "line_lm", "instruct", "prox")


def prox_prompt(user: str, system: str = PROX_SYSTEM, template: str = PROX_CHAT_TEMPLATE) -> str:
    """One ProX prompt: the chat template around the system prompt and the user message (right-stripped)."""
    return template.format(system=system, user=user.rstrip())


def prox_numbered(line: str, index: int) -> str:
    """A line as ProX numbers it: ``[007]text``, three digits at least, no space."""
    return f"[{index:03d}]{line}"


def prox_chunk(lines: list[str], first: int) -> str:
    """A chunk of lines as ProX's chunk model reads it."""
    body = "\n".join(prox_numbered(line, i) for i, line in enumerate(lines, start=first))
    return f"[doc]\n{body}\n[/doc]"


def number_lines(lines: list[str], first: int, width: int) -> str:
    return "\n".join(f"[{i:0{width}d}] {line}" for i, line in enumerate(lines, start=first))


def doc_grammar() -> str:
    return 'root ::= "drop_doc()" | "keep_doc()"\n'


def chunk_grammar(first: int, last: int, max_calls: int = 16, max_string: int = 120) -> str:
    """GBNF for a chunk program whose line numbers lie within ``first..last``."""
    numbers = " | ".join(gbnf_literal(str(i)) for i in range(first, last + 1))
    return (
        'root ::= "keep_chunk()" | call ("\\n" call){0,' + str(max_calls - 1) + "}\n"
        "call ::= remove | norm\n"
        'remove ::= "remove_lines(line_start=" num ", line_end=" num ")"\n'
        'norm ::= "normalize(source_str=" str ", target_str=" str ")"\n'
        f"num ::= {numbers}\n"
        'str ::= "\\"" ([^"\\\\\\n] | "\\\\" ["\\\\]){0,' + str(max_string) + '} "\\""\n'
    )
