"""A stage's code in its checkpoint fingerprint: an edited stage is recomputed, not resumed.

The fingerprint takes the source of the module that defines the stage's
class (helpers beside the class count too). A class whose source cannot be
read (defined in an interactive session) is fingerprinted by name only.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
from functools import cache


@cache
def code_fingerprint(cls: type) -> str:
    """Hash of the source of the module defining ``cls`` (empty when it cannot be read)."""
    module = sys.modules.get(cls.__module__)
    try:
        source = inspect.getsource(module) if module is not None else inspect.getsource(cls)
    except (OSError, TypeError):
        return ""
    return hashlib.sha256(source.encode()).hexdigest()[:16]
