"""Peak memory of a run: this process and every process it started (Ray's included)."""

from __future__ import annotations

import threading
import time


class PeakMemory:
    """Samples the summed PSS of this process and all its descendants (Ray's
    raylet, object store and workers included) and keeps the peak."""

    def __init__(self, interval: float = 0.5) -> None:
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.peak = 0
        self.breakdown: list[tuple[int, str]] = []
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        total = 0
        parts = []
        for p in [self.proc, *self.proc.children(recursive=True)]:
            try:
                pss = p.memory_full_info().pss
                total += pss
                parts.append((pss, " ".join(p.cmdline()[:2])[-60:]))
            except Exception:  # process ended between listing and reading
                pass
        if total > self.peak:
            self.breakdown = sorted(parts, reverse=True)
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self._sample()
            self.samples.append((time.perf_counter(), value))
            self.peak = max(self.peak, value)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def peak_between(self, start: float, end: float) -> int:
        return max((v for t, v in self.samples if start <= t <= end), default=0)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._sample())
