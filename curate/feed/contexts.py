"""Packing in-context-pretraining output: rows follow contexts, and the attention the rows are meant for.

In-Context Pretraining (Shi et al., 2024; swj0419/in-context-pretraining) fills each training context
with related documents so that the model learns to use them: the documents of a context must attend to
each other (plain causal attention over the row). A per-document (block-diagonal) mask removes exactly
that signal; it is right for rows of unrelated documents (concatenated, or dataset decomposition's).
"""

from __future__ import annotations

from typing import Any, Literal

from curate.manifest import Manifest

GROUP = "context_id"
ICP_STAGE = "icp_reorder"
DEFAULT_SEQ_LEN = 2048
Attention = Literal["causal", "document"]


def context_tokens(run: Manifest | None) -> int | None:
    """``context_tokens`` of the run's ``icp_reorder`` stage (its default when unset), None without the stage."""
    stages = (run.config or {}).get("stages", []) if run is not None else []
    for entry in stages:
        params: Any = None
        if entry == ICP_STAGE:
            params = {}
        elif isinstance(entry, dict) and ICP_STAGE in entry:
            params = entry[ICP_STAGE] or {}
        if params is not None:
            from curate.stages.icp_reorder import IcpReorderParams

            return int(params.get("context_tokens", IcpReorderParams.model_fields["context_tokens"].default))
    return None


def attention_for(aligned: bool) -> Attention:
    """``causal`` when every row holds (part of) one in-context-pretraining context, else ``document``."""
    return "causal" if aligned else "document"
