"""The rewrite's presets, by the name ``preset`` gives: each writes the programs its own way."""

from __future__ import annotations

from curate.stages.rewrite.presets.base import Preset, removal_program
from curate.stages.rewrite.presets.blocks import Blocks
from curate.stages.rewrite.presets.instruct import Instruct
from curate.stages.rewrite.presets.line_lm import LineLM
from curate.stages.rewrite.presets.prox import Prox

PRESETS: dict[str, type[Preset]] = {preset.name: preset for preset in (Blocks, LineLM, Instruct, Prox)}

__all__ = ["PRESETS", "Blocks", "Instruct", "LineLM", "Preset", "Prox", "removal_program"]
