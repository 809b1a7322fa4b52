"""Fault switches: latency, HTTP errors, dropped or delayed replies around the commit, malformed replies,
write replies of shapes other billings send, list replies whose columns differ.

Each fault may be limited to one procedure, to the next ``count`` matching requests, or fire with
probability ``rate`` (a seeded RNG, so a failing soak run can be replayed).  ``latency`` sleeps
before the procedure runs, so on a write it is a commit delay: longer than the client's read
timeout, the client gives up and the commit happens afterwards.
"""
from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

BEFORE = ("http_error", "hang_no_commit", "malformed")  # the procedure is NOT executed
AFTER = ("drop_after_commit", "delay_after_commit")  # the procedure IS executed and committed
# The reply replaced by one of another billing's shapes (variant "errors": <errors>1</errors><error_text>,
# "text": <result>Ошибка ...</result>); the procedure is executed only with ``commit``.
ODD_REPLY = "odd_reply"
# A list reply reshaped: ``column`` renamed to ``rename_to`` and/or its values cut to ``max_len`` characters.
RESHAPE = "reshape"
KINDS = ("latency", *BEFORE, *AFTER, ODD_REPLY, RESHAPE)
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
    variant: str = "xml"  # malformed: "xml" (truncated XML) or "php" (a PHP "Fatal error" page); odd_reply: see above
    commit: bool = False  # odd_reply only: the procedure ran and committed before the odd reply
    column: str | None = None  # reshape only
    rename_to: str | None = None  # reshape only
    max_len: int | None = None  # reshape only

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
    variants = ("errors", "text") if fault.fault == ODD_REPLY else ("xml", "php")
    if "variant" not in spec and fault.fault == ODD_REPLY:
        fault.variant = "errors"
    if fault.variant not in variants:
        raise ValueError(f"variant must be one of {', '.join(variants)}")
    if fault.fault == RESHAPE:
        if not fault.column or (not fault.rename_to and fault.max_len is None):
            raise ValueError("reshape needs a column and rename_to and/or max_len")
        if fault.max_len is not None and (not isinstance(fault.max_len, int) or fault.max_len < 0):
            raise ValueError("max_len must be a non-negative integer")
        fault.column = fault.column.upper()
        fault.rename_to = fault.rename_to.upper() if fault.rename_to else None
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
