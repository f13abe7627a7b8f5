"""Chunk programs executed as ProX's own executor executes them (``preset: prox``).

ProX (``utils/chunk_utils.py``, ``execute_operations``) joins the programs of
all of a document's chunks and runs them over the whole document:

* ``normalize(source, target)`` is a find-and-replace over the whole document;
  a source that does not occur is a no-op, not an error; a source of ``" "``
  or ``""`` is skipped;
* ``remove_lines(a, b)`` removes lines ``a..b`` wherever they are in the
  document (not only in the chunk the program was written for); after the
  ranges are merged, a range that starts past the last line is an error, and
  one that runs past it is an error whose in-document part is still removed;
  a range with ``a > b`` removes nothing;
* ``remove_lines(all=True)`` removes every line;
* anything that is not a ``remove_lines`` or ``normalize`` call is ignored;
* normalisations happen before removals (line numbers are those of the
  original document; a normalisation never changes the line count).

Where this differs from ProX's code, it is in parsing only (see
:mod:`curate.rewriting.program`): strings are real Python literals, so a comma,
``)`` or ``=`` inside one does not break a call, and a positional argument or a
missing ``line_end`` is accepted. A source or target that spans lines (ProX's
raw strings never contain a newline) and a whitespace-only source (ProX's
one-argument form would delete every space) are no-ops, counted as ignored.
"""

from __future__ import annotations

from curate.rewriting.program import Execution, parse_program


def merged_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Inclusive ranges sorted by start, overlapping or touching ones merged (as ProX counts errors on them)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges, key=lambda r: r[0]):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def execute_prox(lines: list[str], chunks: list[tuple[int, int]], programs: list[str | None]) -> Execution:
    """Run a document's chunk programs over the whole document, with ProX's semantics (module docstring)."""
    lines = list(lines)
    parse_errors: list[str] = []
    errors: list[str] = []
    ranges: list[tuple[int, int]] = []
    remove_all = False
    applied = ignored = 0
    if len(programs) != len(chunks):
        errors.append(f"{len(programs)} programs for {len(chunks)} chunks")
    for index, program in enumerate(programs):
        parsed = parse_program(program)
        parse_errors.extend(f"chunk {index}: {e}" for e in parsed.errors)
        ignored += len(parsed.unknown)
        for call in parsed.calls:
            if call.name == "remove_lines" and call.args.get("all"):
                remove_all = True
                applied += 1
            elif call.name == "remove_lines":
                ranges.append((call.args["line_start"], call.args["line_end"]))
            elif call.name == "normalize":
                source, target = call.args["source_str"], call.args["target_str"]
                if not source.strip() or "\n" in source or "\n" in target or not any(source in x for x in lines):
                    ignored += 1  # skipped, or a miss: a no-op in ProX
                else:  # line by line: the same as ProX's replace over the whole text, as no source spans lines
                    lines = [x.replace(source, target) for x in lines]
                    applied += 1
            else:  # keep_chunk(), or a document-level call in a chunk program: ProX ignores both
                ignored += call.name != "keep_chunk"
    last = len(lines) - 1
    removed: set[int] = set(range(len(lines))) if remove_all else set()
    for start, end in ranges:
        removed.update(range(max(start, 0), min(end, last) + 1))
    for start, end in merged_ranges(ranges):
        if start > last:
            errors.append(f"remove_lines({start}, {end}): starts past the document's last line {last}")
            continue
        if end > last:
            errors.append(f"remove_lines({start}, {end}): runs past the document's last line {last}")
        applied += 1
    return Execution(lines, removed, parse_errors, errors, applied, ignored)
