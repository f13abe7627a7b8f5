"""Starting Ray the way curate needs it: quiet, ordered, reusing a running one."""

from __future__ import annotations

import logging
import os
import warnings


def init_ray(address: str | None = None, num_cpus: int | None = None, show_progress: bool = False,
             debug: bool = False) -> None:
    """Connect to ``address`` (or ``RAY_ADDRESS``), else start a local Ray of our own.

    A Ray already initialised in this process (by a notebook or a test) is
    reused as it is.
    """
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    import ray
    import ray.data
    from ray.data.context import ShuffleStrategy

    if not ray.is_initialized():
        # Without an address, start a Ray of our own ("local") rather than joining
        # whatever `ray start` left running on this machine.
        address = address or os.environ.get("RAY_ADDRESS") or "local"
        kwargs: dict = {"logging_level": logging.WARNING, "include_dashboard": False}
        if address == "local" and num_cpus is not None:
            kwargs["num_cpus"] = num_cpus
        ray.init(address=address, **kwargs)
    context = ray.data.DataContext.get_current()
    # Deterministic output: keep block order between operators.
    context.execution_options.preserve_order = True
    # Sort-based shuffles (group-bys, sorts) start no aggregator actors: far
    # cheaper on small and medium inputs and bounded in memory on large ones.
    # Joins still use actors (see curate.grouping).
    context.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    context.enable_progress_bars = show_progress
    context.print_on_execution_start = False
    if hasattr(context, "enable_rich_progress_bars"):
        context.enable_rich_progress_bars = False
    # Failures reach the user through curate's own one-line errors (the full
    # trace stays in Ray's session logs), so Ray Data's error logs stay quiet.
    for name in ("ray", "ray.data", "ray.data._internal"):
        logging.getLogger(name).setLevel(logging.CRITICAL if not debug else logging.WARNING)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="ray")
