"""One error type for failed stages, and Ray's wrapped errors turned back into ours."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from curate.io.reader import InputError


class StageError(Exception):
    """A stage failed or broke the contract of its kind; the message names the stage."""


def execute(action: Callable[[], Any], stage_name: str) -> Any:
    """Run Ray work, turning Ray's wrapped errors into ours with the innermost message.

    The work is watched: when its tasks wait for resources no node can give
    them, it fails with a ResourceError instead of waiting forever.
    """
    from curate.engine.cluster import StallGuard

    try:
        with StallGuard(stage_name):
            return action()
    except (InputError, StageError):
        raise
    except Exception as exc:
        raise unwrap(exc, stage_name) from exc


def unwrap(exc: BaseException, stage_name: str) -> Exception:
    """The curate error that ``exc`` (possibly a Ray wrapper) stands for."""
    for error in (exc, _root_cause(exc)):
        if isinstance(error, (InputError, StageError)):
            return error
    name, message = _innermost_error(exc)
    if name == "InputError":
        return InputError(message)
    if name in ("StageError", "ResourceError"):
        return StageError(message)
    return StageError(f"stage {stage_name!r} failed: {name}: {message}")


_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt)): (.+)$", re.MULTILINE)
_WRAPPERS = ("UserCodeException", "RayTaskError", "RayActorError", "ActorDiedError")


def _innermost_error(exc: BaseException) -> tuple[str, str]:
    """The first non-wrapper error named in the text of ``exc`` (Ray puts the task's traceback there)."""
    for name, message in _ERROR_LINE.findall(str(exc)):
        short = name.split(".")[-1]
        if not short.startswith(_WRAPPERS):
            return short, message
    lines = str(exc).splitlines()
    return type(exc).__name__, lines[0] if lines else ""


def _root_cause(exc: BaseException) -> BaseException:
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        nxt = getattr(exc, "cause", None) or exc.__cause__
        if nxt is None:
            break
        exc = nxt
    return exc
