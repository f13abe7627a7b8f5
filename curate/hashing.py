"""Stable hashes of configurations, on the ground floor: this module imports nothing of curate."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_hash(value: Any) -> str:
    """16 hex digits of SHA-256 over ``value`` as sorted JSON (the same on every machine and run)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def resolved_config_hash(resolved: dict[str, Any]) -> str:
    """Hash of a resolved configuration, ignoring where its output goes and whether checkpoints are kept."""
    return stable_hash({k: v for k, v in resolved.items() if k not in ("output", "keep_checkpoints")})
