"""A closed-loop load generator: C threads, each with its own connection, for a fixed time or count."""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Sample:
    """Latencies (seconds) of the calls that succeeded, errors, and the wall time they took."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")

    @property
    def p99(self) -> float:
        return self.pct(99)

    def merge(self, other: Sample) -> None:
        self.latencies += other.latencies
        self.errors += other.errors
        self.elapsed += other.elapsed


def run(make_call: Callable[[], Callable[[], bool]], concurrency: int, *, seconds: float | None = None,
        calls: int | None = None) -> Sample:
    """Run ``concurrency`` loops of the call ``make_call()`` returns (True = success) until time/count is up.

    Each thread builds its own call (its own connection) before the clock starts.
    """
    assert seconds is not None or calls is not None
    sample = Sample()
    lock = threading.Lock()
    budget = [calls if calls is not None else 1 << 62]
    start = threading.Barrier(concurrency + 1)
    stop_at = [0.0]

    def loop() -> None:
        call = make_call()
        mine = Sample()
        start.wait()
        while True:
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
            began = time.perf_counter()
            if seconds is not None and began >= stop_at[0]:
                break
            try:
                ok = call()
            except Exception:  # a refused or broken connection is an error of the server under test
                ok = False
            if ok:
                mine.latencies.append(time.perf_counter() - began)
            else:
                mine.errors += 1
        with lock:
            sample.latencies += mine.latencies
            sample.errors += mine.errors

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    stop_at[0] = began + (seconds or 0)
    start.wait()
    for thread in threads:
        thread.join()
    sample.elapsed = time.perf_counter() - began
    return sample
