"""Ray's wrapped errors turned back into curate's own (:mod:`curate.errors`)."""

from __future__ import annotations

import re

from curate.errors import InputError, StageError, StorageError


def unwrap(exc: BaseException, stage_name: str) -> Exception:
    """The curate error that ``exc`` (possibly a Ray wrapper) stands for."""
    # the cause first: Ray's wrapper of a task's InputError is an InputError too, whose text is the task's traceback
    for error in (_root_cause(exc), exc):
        if isinstance(error, (InputError, StageError, StorageError)):
            return error
    name, message = _innermost_error(exc)
    if name == "InputError":
        return InputError(message)
    if name == "StorageError":
        return StorageError(message)
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
