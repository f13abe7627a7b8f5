"""Rewriting programs: parsing with Python's ``ast`` and a whitelist, and execution.

A program is what a refining model writes for a document or one chunk of it,
one call per line::

    remove_lines(line_start=0, line_end=3)
    normalize(source_str="Click here", target_str="")
    keep_chunk()

Document level programs are ``drop_doc()`` or ``keep_doc()``.

Parsing never evaluates anything: each statement must be a call of a
whitelisted name whose arguments are literals (strings in any Python quoting,
integers, ``None`` for an empty target). Positional and keyword arguments both
work. Line numbers written with leading zeros (``line_start=005``) or in
brackets (``[005]``) are accepted, as the model sees them so in the prompt.

Execution never raises and never loses a document: every call that cannot be
parsed or applied is recorded as an error and skipped; the caller decides (by
the error count) whether to keep the edit or the original.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

# name -> (parameters in order, defaults, types)
SIGNATURES: dict[str, tuple[tuple[str, ...], dict[str, Any], dict[str, tuple[type, ...]]]] = {
    "remove_lines": (("line_start", "line_end"), {"line_end": None}, {"line_start": (int,), "line_end": (int,)}),
    "normalize": (("source_str", "target_str"), {"target_str": ""}, {"source_str": (str,), "target_str": (str,)}),
    "keep_chunk": ((), {}, {}),
    "drop_doc": ((), {}, {}),
    "keep_doc": ((), {}, {}),
}
CHUNK_CALLS = frozenset({"remove_lines", "normalize", "keep_chunk"})
DOC_CALLS = frozenset({"drop_doc", "keep_doc"})
MAX_PROGRAM_CHARS = 20_000
#: ``normalize`` needs a source of at least this many non-space characters: a model that "normalizes" a space or
#: a single letter rewrites every occurrence of it in the chunk.
MIN_NORMALIZE_SOURCE = 3


@dataclass(frozen=True)
class Call:
    name: str
    args: dict[str, Any]

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        return f"{self.name}({inner})"


@dataclass
class Parsed:
    calls: list[Call] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: statements that are not a call of a known name (ProX's executor ignores these)
    unknown: list[str] = field(default_factory=list)


_LEADING_ZEROS = re.compile(r"(?<![\w.])0+(?=\d)")
_BRACKETED = re.compile(r"\[\s*(\d+)\s*\]")


def _clean_numbers(source: str) -> str:
    """Rewrite ``[005]`` and ``005`` outside string literals as ``5``."""
    out: list[str] = []
    for code, literal in _split_strings(source):
        if literal:
            out.append(code)
        else:
            out.append(_LEADING_ZEROS.sub("", _BRACKETED.sub(r"\1", code)))
    return "".join(out)


def _split_strings(source: str) -> list[tuple[str, bool]]:
    """Split into (piece, is_string_literal) with a simple scanner (no evaluation)."""
    pieces: list[tuple[str, bool]] = []
    i, start, n = 0, 0, len(source)
    while i < n:
        ch = source[i]
        if ch in "'\"":
            quote = source[i:i + 3] if source[i:i + 3] in ('"""', "'''") else ch
            if i > start:
                pieces.append((source[start:i], False))
            j = i + len(quote)
            while j < n and not source.startswith(quote, j):
                j += 2 if source[j] == "\\" else 1
            j = min(n, j + len(quote))
            pieces.append((source[i:j], True))
            i = start = j
        else:
            i += 1
    if start < n:
        pieces.append((source[start:], False))
    return pieces


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and (node.value is None or type(node.value) in (int, str)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and type(node.operand.value) is int:
        return -node.operand.value
    if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) == 1:
        return _literal(node.elts[0])
    raise ValueError(f"argument {ast.unparse(node)[:60]!r} is not a string or integer literal")


def _bind(name: str, node: ast.Call) -> Call:
    if name == "remove_lines" and any(k.arg == "all" for k in node.keywords):
        flag = next(k.value for k in node.keywords if k.arg == "all")
        if node.args or len(node.keywords) != 1 or not (isinstance(flag, ast.Constant) and flag.value is True):
            raise ValueError("remove_lines(all=True) takes no other argument")
        return Call(name, {"all": True})
    params, defaults, types = SIGNATURES[name]
    if len(node.args) > len(params):
        raise ValueError(f"{name}() takes {len(params)} arguments, got {len(node.args)}")
    args: dict[str, Any] = {}
    for param, value in zip(params, node.args):
        if isinstance(value, ast.Starred):
            raise ValueError(f"{name}(): *args are not allowed")
        args[param] = _literal(value)
    for keyword in node.keywords:
        if keyword.arg is None:
            raise ValueError(f"{name}(): **kwargs are not allowed")
        if keyword.arg not in params:
            raise ValueError(f"{name}() got an unexpected argument {keyword.arg!r}")
        if keyword.arg in args:
            raise ValueError(f"{name}() got {keyword.arg!r} twice")
        args[keyword.arg] = _literal(keyword.value)
    for param in params:
        if param not in args:
            if param not in defaults:
                raise ValueError(f"{name}() is missing {param!r}")
            args[param] = defaults[param]
    if name == "remove_lines" and args["line_end"] is None:
        args["line_end"] = args["line_start"]
    if name == "normalize" and args["target_str"] is None:
        args["target_str"] = ""
    for param, allowed in types.items():
        if not isinstance(args[param], allowed) or isinstance(args[param], bool):
            raise ValueError(f"{name}(): {param} must be {' or '.join(t.__name__ for t in allowed)}, "
                             f"got {args[param]!r}")
    return Call(name, args)


def _statement_calls(tree: ast.Module) -> Parsed:
    parsed = Parsed()
    for statement in tree.body:
        try:
            if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
                parsed.unknown.append(f"not a call: {ast.unparse(statement)[:80]!r}")
                continue
            func = statement.value.func
            if not isinstance(func, ast.Name) or func.id not in SIGNATURES:
                parsed.unknown.append(f"unknown function {ast.unparse(func)[:40]!r}")
                continue
            parsed.calls.append(_bind(func.id, statement.value))
        except (ValueError, RecursionError) as exc:
            parsed.errors.append(str(exc))
    return parsed


def parse_program(text: str | None) -> Parsed:
    """Parse a program. Never raises: unparsable statements become errors.

    The whole text is parsed first; if that fails, each line is parsed on its
    own so one broken line does not hide the others. Blank lines, ``#``
    comments and Markdown code fences are ignored.
    """
    if not text:
        return Parsed()
    if len(text) > MAX_PROGRAM_CHARS:
        return Parsed(errors=[f"program of {len(text)} characters is longer than {MAX_PROGRAM_CHARS}"])
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if not line.strip().startswith("```")]
    try:
        return _statement_calls(ast.parse(_clean_numbers("\n".join(line.strip() for line in lines))))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    parsed = Parsed()
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            one = _statement_calls(ast.parse(_clean_numbers(line)))
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            message = f"unparsable: {line[:80]!r} ({type(exc).__name__})"
            known = any(line.startswith(name) for name in SIGNATURES)
            (parsed.errors if known else parsed.unknown).append(message)
            continue
        parsed.calls.extend(one.calls)
        parsed.errors.extend(one.errors)
        parsed.unknown.extend(one.unknown)
    return parsed


# ------------------------------------------------------------------ document level


@dataclass
class DocDecision:
    drop: bool
    errors: list[str]


def decide_document(text: str | None) -> DocDecision:
    """``drop_doc()`` drops; ``keep_doc()`` keeps; anything else keeps and records an error."""
    parsed = parse_program(text)
    errors = parsed.errors + parsed.unknown
    names = {call.name for call in parsed.calls}
    wrong = [call.name for call in parsed.calls if call.name not in DOC_CALLS]
    if wrong:
        errors.append(f"not a document-level call: {', '.join(sorted(set(wrong)))}")
    if names & DOC_CALLS == {"drop_doc"}:
        return DocDecision(True, errors)
    if names & DOC_CALLS == {"keep_doc"}:
        return DocDecision(False, errors)
    if len(names & DOC_CALLS) == 2:
        errors.append("both drop_doc() and keep_doc()")
    elif not errors:
        errors.append("no drop_doc() or keep_doc()")
    return DocDecision(False, errors)


# ------------------------------------------------------------------ chunk level


@dataclass
class Execution:
    """The result of running a document's chunk programs."""

    lines: list[str]
    removed: set[int]
    parse_errors: list[str]
    exec_errors: list[str]
    applied: int
    #: calls without effect that are not errors (``preset: prox``: unknown statements, ``normalize`` misses)
    ignored: int = 0

    @property
    def errors(self) -> list[str]:
        return self.parse_errors + self.exec_errors

    @property
    def text(self) -> str:
        return "\n".join(line for i, line in enumerate(self.lines) if i not in self.removed)


def execute(lines: list[str], chunks: list[tuple[int, int]], programs: list[str | None]) -> Execution:
    """Run one program per chunk over a document's lines.

    ``chunks`` are inclusive global line ranges ``(first, last)``. A program may
    only touch its own chunk: ``remove_lines`` outside it is an error, and
    ``normalize`` replaces text only within the chunk's lines (a source string
    that does not occur there is an error). Source and target strings must stay
    within a line. Normalisations run before removals, as in ProX.

    ``remove_lines(all=True)`` removes the chunk's lines. ProX's own semantics
    (``preset: prox``) are :func:`curate.rewriting.prox_executor.execute_prox`.
    """
    lines = list(lines)
    removed: set[int] = set()
    parse_errors: list[str] = []
    errors: list[str] = []
    applied = 0
    if len(programs) != len(chunks):
        errors.append(f"{len(programs)} programs for {len(chunks)} chunks")
    for index, ((first, last), program) in enumerate(zip(chunks, programs)):
        parsed = parse_program(program)
        parse_errors.extend(f"chunk {index}: {e}" for e in parsed.errors + parsed.unknown)
        removals: list[tuple[int, int]] = []
        for call in parsed.calls:
            problem = None
            if call.name == "remove_lines" and call.args.get("all"):
                removals.append((first, last))
            elif call.name == "remove_lines":
                start, end = call.args["line_start"], call.args["line_end"]
                if start > end:
                    problem = f"{call}: line_start > line_end"
                elif start < first or end > last:
                    problem = f"{call}: outside this chunk's lines {first}..{last}"
                else:
                    removals.append((start, end))
            elif call.name == "normalize":
                source, target = call.args["source_str"], call.args["target_str"]
                if len(source.strip()) < MIN_NORMALIZE_SOURCE:
                    problem = f"{call}: source_str shorter than {MIN_NORMALIZE_SOURCE} non-space characters"
                elif len(target) > len(source):
                    problem = f"{call}: target_str longer than source_str (a normalization may not grow the text)"
                elif "\n" in source or "\n" in target:
                    problem = f"{call}: source_str and target_str must not span lines"
                else:
                    hits = [i for i in range(first, last + 1) if source in lines[i]]
                    if not hits:
                        problem = f"{call}: source_str not found in this chunk"
                    for i in hits:
                        lines[i] = lines[i].replace(source, target)
                    applied += bool(hits)
            elif call.name == "keep_chunk":
                applied += 1
            else:
                problem = f"{call}: not a chunk-level call"
            if problem:
                errors.append(f"chunk {index}: {problem}")
        for start, end in removals:
            removed.update(range(start, end + 1))
            applied += 1
    return Execution(lines, removed, parse_errors, errors, applied)


def word_count(text: str) -> int:
    return len(text.split())
