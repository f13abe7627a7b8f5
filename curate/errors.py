"""The errors curate reports to its users, on the ground floor: this module imports nothing of curate.

Each message says what is wrong and what to do; the CLI prints it on one line
without a traceback.
"""

from __future__ import annotations


class ConfigError(Exception):
    """The pipeline file or an override is wrong; the message says how to fix it."""


class InputError(Exception):
    """A problem with the input that the user must fix (bad path, wrong schema, strict mode)."""


class StorageError(Exception):
    """Storage the run needs fails in a way the user must fix: an object store cannot be reached, has no such
    bucket or refuses access; a local disk is full or a folder cannot be written (see ``curate.io.storage``)."""


class StageError(Exception):
    """A stage failed or broke the contract of its kind; the message names the stage."""


class ResourceError(StageError):
    """Work that the cluster's resources cannot run; the message names the stage, the request and the nodes."""
