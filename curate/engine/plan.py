"""A pipeline cut into steps: what runs in one pass and where checkpoints go.

Reading is the first step's source. Each stage runs as the steps it
decomposes into (itself, or e.g. a map step and a global step, see
``Stage.decompose``). Consecutive map steps are fused into one step (one pass
over each unit, one checkpoint at the chain's end); a model, a global, an
expand and an order step each stand alone, with a checkpoint of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from curate.stage import BatchStage, ExpandStage, GlobalStage, MapStage, ModelStage, OrderStage, Stage

StepKind = Literal["chain", "model", "expand", "global", "order"]
READ = "read"


@dataclass
class Step:
    """Stages run together; ``positions``: each one's position in the pipeline (read is 0).

    The steps of one decomposed stage share its position; ``later`` marks
    the stages that are not the first step of their stage.
    """

    kind: StepKind
    stages: list[Stage] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    reads_input: bool = False
    later: list[bool] = field(default_factory=list)

    @property
    def first(self) -> int:
        return 0 if self.reads_input or not self.positions else self.positions[0]

    @property
    def names(self) -> list[str]:
        return ([READ] if self.reads_input else []) + [stage.name for stage in self.stages]

    @property
    def batch_stages(self) -> list[BatchStage]:
        """The stages of a chain, model or expand step (all of them process batches)."""
        return [stage for stage in self.stages if isinstance(stage, BatchStage)]

    @property
    def folder(self) -> str:
        """Checkpoint folder name, e.g. ``00-read+normalize``; a later step of a stage adds its kind
        (``02-quality.global``)."""
        labels = [f"{s.name}.{s.kind}" if later else s.name for s, later in zip(self.stages, self.later)]
        return f"{self.first:02d}-{'+'.join(([READ] if self.reads_input else []) + labels)}"

    def add(self, stage: Stage, position: int, later: bool) -> None:
        self.stages.append(stage)
        self.positions.append(position)
        self.later.append(later)


def kind_of(stage: Stage) -> StepKind:
    if isinstance(stage, MapStage):
        return "model" if isinstance(stage, ModelStage) else "chain"
    if isinstance(stage, ExpandStage):
        return "expand"
    if isinstance(stage, GlobalStage):
        return "global"
    if isinstance(stage, OrderStage):
        return "order"
    if isinstance(stage, ModelStage):
        raise TypeError(f"stage {stage.name!r} ({type(stage).__name__}) is a ModelStage without a kind: combine it "
                        "with the kind it runs as, e.g. class Mine(ModelStage, MapStage) or (ModelStage, ExpandStage)")
    raise TypeError(f"stage {stage.name!r} ({type(stage).__name__}) is not a MapStage, ModelStage, GlobalStage, "
                    "ExpandStage or OrderStage")


def plan(stages: list[Stage]) -> list[Step]:
    """The steps of a pipeline; the first always reads the input."""
    steps = [Step("chain", reads_input=True)]
    for position, stage in enumerate(stages, start=1):
        for part, step_stage in enumerate(stage.decompose()):
            kind = kind_of(step_stage)
            if not (kind == "chain" and steps[-1].kind == "chain"):
                steps.append(Step(kind))
            steps[-1].add(step_stage, position, part > 0)
    return steps
