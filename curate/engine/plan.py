"""A pipeline cut into steps: what runs in one pass and where checkpoints go.

Reading is the first step's source. Consecutive map stages are fused into one
step (one pass over each unit, one checkpoint at the chain's end); a model
stage, a global, an expand and an order stage are each a step of their own,
with a checkpoint of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from curate.stage import ExpandStage, GlobalStage, MapStage, ModelStage, OrderStage, Stage

StepKind = Literal["chain", "model", "expand", "global", "order"]
READ = "read"


@dataclass
class Step:
    """Stages run together; ``first`` is the pipeline position of the first (read is 0)."""

    kind: StepKind
    stages: list[Stage]
    first: int
    reads_input: bool = False

    @property
    def names(self) -> list[str]:
        return ([READ] if self.reads_input else []) + [stage.name for stage in self.stages]

    @property
    def last(self) -> int:
        return self.first + len(self.names) - 1

    @property
    def folder(self) -> str:
        """Checkpoint folder name, e.g. ``00-read+normalize``."""
        return f"{self.first:02d}-{'+'.join(self.names)}"


def kind_of(stage: Stage) -> StepKind:
    if isinstance(stage, ModelStage):
        return "model"
    if isinstance(stage, MapStage):
        return "chain"
    if isinstance(stage, ExpandStage):
        return "expand"
    if isinstance(stage, GlobalStage):
        return "global"
    if isinstance(stage, OrderStage):
        return "order"
    raise TypeError(f"stage {stage.name!r} ({type(stage).__name__}) is not a MapStage, ModelStage, GlobalStage, "
                    "ExpandStage or OrderStage")


def plan(stages: list[Stage]) -> list[Step]:
    """The steps of a pipeline; the first always reads the input."""
    steps = [Step("chain", [], 0, reads_input=True)]
    for position, stage in enumerate(stages, start=1):
        kind = kind_of(stage)
        if kind == "chain" and steps[-1].kind == "chain":
            steps[-1].stages.append(stage)
        else:
            steps.append(Step(kind, [stage], position))
    return steps
