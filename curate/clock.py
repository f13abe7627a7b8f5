"""Wall time per phase of a stage, for its manifest statistics."""

from __future__ import annotations

import time


class Clock:
    """``lap(name)`` records the seconds since the previous lap (or since the clock started)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._t, 3)
        self._t = now
