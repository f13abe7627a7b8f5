"""Keep synthetic rows out of their source document's training context.

A synthetic row (an EntiGraph rephrasing, say) made from a source document
that is also in the corpus is, by construction, the source's nearest
neighbour: the greedy path puts the two side by side, so the model sees the
facts in its context and learns to copy them instead of storing them, which
undoes what synthetic continued pretraining is for. Here the path is packed
into contexts as :mod:`curate.icp.pack` does (documents whole, in path order,
a new context when the next one does not fit), except that a row whose
context already holds its source (or, for a source, one of its synthetic
rows) waits, and goes at the first later point where it fits without such a
conflict. Synthetic rows of one source may share a context; every row is
placed exactly once.
"""

from __future__ import annotations

import numpy as np


def keep_apart(path: np.ndarray, source_of: np.ndarray, tokens: np.ndarray, budget: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Rows in their new order, with context id and position of each, and how many rows waited.

    ``path``: row indices in path order; ``source_of[i]``: the row a synthetic row was made from, or -1;
    ``tokens[i]``: row ``i``'s token count (indexed by row, like ``source_of``).
    """
    synthetic = source_of >= 0
    parents = set(source_of[synthetic].tolist())
    order: list[int] = []
    contexts: list[int] = []
    positions: list[int] = []
    pending: list[int] = []
    sources_here: set[int] = set()  # sources in the current context
    children_here: set[int] = set()  # sources with a synthetic row in the current context
    state = {"context": -1, "used": 0, "position": 0}
    waited = 0

    def new_context() -> None:
        state["context"] += 1
        state["used"] = state["position"] = 0
        sources_here.clear()
        children_here.clear()

    def conflicts(i: int) -> bool:
        return source_of[i] in sources_here if synthetic[i] else i in children_here

    def fits(i: int) -> bool:
        return state["position"] == 0 or state["used"] + tokens[i] <= budget

    def place(i: int) -> None:
        if state["context"] < 0 or not fits(i):
            new_context()
        order.append(i)
        contexts.append(state["context"])
        positions.append(state["position"])
        state["used"] += int(tokens[i])
        state["position"] += 1
        if synthetic[i]:
            children_here.add(int(source_of[i]))
        elif i in parents:
            sources_here.add(i)

    rows = iter(path.tolist())
    remaining = len(path)
    while remaining or pending:
        ready = next((k for k, j in enumerate(pending) if state["context"] >= 0 and fits(j) and not conflicts(j)),
                     None)
        if ready is not None:
            place(pending.pop(ready))
            continue
        if remaining:
            i = next(rows)
            remaining -= 1
            if state["context"] >= 0 and fits(i) and conflicts(i):
                pending.append(i)
                waited += 1
            else:
                place(i)
        else:  # only waiting rows are left, none of which can join this context
            new_context()
    return (np.asarray(order, dtype=np.int64), np.asarray(contexts, dtype=np.int64),
            np.asarray(positions, dtype=np.int64), waited)


def shared_contexts(source_of: np.ndarray, context_of: np.ndarray) -> int:
    """How many synthetic rows share a context with their source (``context_of`` indexed by row; -1: none)."""
    synthetic = np.flatnonzero(source_of >= 0)
    parents = source_of[synthetic]
    return int(np.sum((context_of[synthetic] >= 0) & (context_of[synthetic] == context_of[parents])))
