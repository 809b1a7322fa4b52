"""Fault switches: latency, HTTP errors, dropped or delayed replies around the commit, malformed replies.

Each fault may be limited to one procedure, to the next ``count`` matching requests, or fire with
probability ``rate`` (a seeded RNG, so a failing soak run can be replayed).
"""
from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

BEFORE = ("http_error", "hang_no_commit", "malformed")  # the procedure is NOT executed
AFTER = ("drop_after_commit", "delay_after_commit")  # the procedure IS executed and committed
KINDS = ("latency", *BEFORE, *AFTER)
ACTIONS = ("expire_sessions", "clear")  # immediate actions, accepted wherever a fault is
DEFAULT_MS = {"latency": 500, "delay_after_commit": 2000, "hang_no_commit": 2000}


@dataclass
class Fault:
    fault: str
    proc: str | None = None
    count: int | None = None  # remaining matching requests; None = unlimited
    rate: float | None = None  # probability per matching request; None = always
    ms: int = 0
    status: int = 500  # http_error only
    body: str | None = None  # http_error only; default: a PHP fatal error text
    variant: str = "xml"  # malformed only: "xml" (truncated XML) or "php" (a PHP "Fatal error" page)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_fault(spec: dict[str, Any]) -> Fault:
    """Validate one JSON/kwargs description; raises ValueError with a readable reason."""
    if not isinstance(spec, dict):
        raise ValueError("a fault is a JSON object")
    known = {f.name for f in fields(Fault)}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
    kind = spec.get("fault")
    if kind not in KINDS and kind not in ACTIONS:
        raise ValueError(f"unknown fault {kind!r}; expected one of {', '.join(KINDS + ACTIONS)}")
    fault = Fault(**spec)
    if fault.proc is not None:
        fault.proc = str(fault.proc).upper()
    if "ms" not in spec:
        fault.ms = DEFAULT_MS.get(fault.fault, 0)
    if fault.count is not None and (not isinstance(fault.count, int) or fault.count < 1):
        raise ValueError("count must be a positive integer")
    if fault.rate is not None and not 0.0 <= float(fault.rate) <= 1.0:
        raise ValueError("rate must be between 0 and 1")
    if not isinstance(fault.ms, int) or fault.ms < 0:
        raise ValueError("ms must be a non-negative integer (milliseconds)")
    if not isinstance(fault.status, int) or not 400 <= fault.status <= 599:
        raise ValueError("status must be an HTTP error status (400-599)")
    if fault.variant not in ("xml", "php"):
        raise ValueError("variant must be 'xml' or 'php'")
    return fault


class FaultBoard:
    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._rng = random.Random(seed)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def select(self, proc: str) -> list[Fault]:
        """The faults that fire for this request (in the order added); spends their counts."""
        fired: list[Fault] = []
        with self._lock:
            for fault in list(self._faults):
                if fault.proc is not None and fault.proc != proc:
                    continue
                if fault.rate is not None and self._rng.random() >= fault.rate:
                    continue
                fired.append(fault)
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
        return fired
