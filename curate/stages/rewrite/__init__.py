"""``rewrite``: remove boilerplate through programs, never damaging content.

Two passes per selected document:

1. Document level (presets with a model): ``drop_doc()`` or ``keep_doc()``.
2. Chunk level: the document's lines, numbered globally, are packed into
   chunks by token count; per chunk a program (``remove_lines``,
   ``normalize``, ``keep_chunk``) is parsed with a whitelist and executed (see
   :mod:`curate.rewriting.program`).

Who writes the programs is the ``preset``, one class each
(:mod:`curate.stages.rewrite.presets`): ``blocks`` (default, no LM) turns
the decisions of a light line classifier, taken on blocks, into programs
(:mod:`curate.rewriting.block_head`); ``line_lm`` reads per-line decisions from
SmolLM2's log-probabilities; ``instruct`` and ``prox`` let a model write them
(``prox``: ProX's released refining models, prompted as ProX does, their
programs executed as ProX's executor does: :mod:`curate.rewriting.prox_executor`).

Never crash, never lose: prompts are capped in tokens (the model sees a cut
line, the document is untouched); any model failure keeps its documents
unmodified (``fallback``, the error recorded and counted); too many failed
calls keep the original text; a rewrite that leaves at most
``min_kept_fraction`` of the words, or at most ``min_kept_words`` words, drops
the document (``rewrite_emptied``) with its original text, as ``drop_doc()``
does (``rewrite_drop_doc``).

``max_documents`` rewrites a deterministic subset (smallest hashes of
``sample_seed`` and the id); the others pass through unchanged. The stage runs
as a model stage: an actor pool (one model per actor, none for ``blocks``), its
own checkpoint, resumed part by part after a crash.

The package: :mod:`~curate.stages.rewrite.params` (the parameters),
:mod:`~curate.stages.rewrite.rewriter` (the loop over a batch, no Ray needed),
:mod:`~curate.stages.rewrite.presets` (who writes the programs) and
:mod:`~curate.stages.rewrite.stage` (the stage).
"""

from __future__ import annotations

from curate.stages.rewrite.params import MAX_GPU_SHARE, PROX_GPU_SHARE, RewriteParams
from curate.stages.rewrite.presets import removal_program
from curate.stages.rewrite.results import OUTPUT_FIELDS, DocResult
from curate.stages.rewrite.rewriter import Rewriter, pack_chunks
from curate.stages.rewrite.stage import Rewrite, batch_stats, summarize
from curate.stages.subset import selection_key

__all__ = ["MAX_GPU_SHARE", "OUTPUT_FIELDS", "PROX_GPU_SHARE", "DocResult", "Rewrite", "RewriteParams", "Rewriter",
           "batch_stats", "pack_chunks", "removal_program", "selection_key", "summarize"]
