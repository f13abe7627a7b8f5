"""Built-in stages, looked up by the names used in pipeline YAML.

Modules are imported only when a stage is used, so a pipeline without LM
stages never imports an LM runtime. Third-party packages can add stages under
the ``curate.stages`` entry-point group.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from curate.stage import Stage

BUILTIN_STAGES: dict[str, str] = {
    "normalize": "curate.stages.normalize:Normalize",
    "length_filter": "curate.stages.length_filter:LengthFilter",
    "exact_dedup": "curate.stages.exact_dedup:ExactDedup",
    "minhash_dedup": "curate.stages.minhash_dedup:MinHashDedup",
    "rewrite": "curate.stages.rewrite:Rewrite",
    "icp_reorder": "curate.stages.icp_reorder:IcpReorder",
    "gopher_quality": "curate.stages.gopher_quality:GopherQuality",
    "gopher_repetition": "curate.stages.gopher_repetition:GopherRepetition",
    "c4_filter": "curate.stages.c4_filter:C4Filter",
    "fineweb_filter": "curate.stages.fineweb_filter:FineWebFilter",
    "language": "curate.stages.language:Language",
    "entigraph": "curate.stages.entigraph:EntiGraph",
    "classify": "curate.stages.classify:Classify",
    "quality": "curate.stages.quality:Quality",
    "toxicity": "curate.stages.toxicity:Toxicity",
    "profanity": "curate.stages.profanity:Profanity",
    "classify_embedding": "curate.stages.classify_embedding:ClassifyEmbedding",
    "embed": "curate.stages.embed:Embed",
    "pii": "curate.stages.pii:Pii",
    "html_extract": "curate.stages.html_extract:HtmlExtract",
}


def stage_names() -> list[str]:
    """All stage names: built-in ones and those of installed plug-ins."""
    return sorted(set(BUILTIN_STAGES) | {ep.name for ep in entry_points(group="curate.stages")})


def get_stage_class(name: str) -> type[Stage]:
    """The stage class registered under ``name``; KeyError lists valid names."""
    target = BUILTIN_STAGES.get(name)
    if target is None:
        for ep in entry_points(group="curate.stages"):
            if ep.name == name:
                return ep.load()
        raise KeyError(f"unknown stage {name!r}; valid stages: {', '.join(stage_names())}")
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)
