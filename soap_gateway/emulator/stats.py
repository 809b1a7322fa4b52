"""Thread-safe counters and the request log the tests read (keep-alive reuse, who logged in, what was called)."""
from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any, NamedTuple

COUNTERS = ("connections", "tls_resumptions", "handshake_failures", "requests", "logins", "one_step_logins", "login_failures",
            "billing_errors", "commits", "dhcpd_restarts", "refused_ip", "dropped", "internal_errors",
            "control_requests")


class RequestRecord(NamedTuple):
    """One api.php request as the billing saw it. SUID and password values are masked as '***'."""

    proc: str
    args: list[str | None]
    login: str | None  # the account behind the SUID, the one-step login, or the login attempted
    cn: str | None  # the client certificate's CN
    ts: float  # time.time()

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()


class Stats:
    def __init__(self, log_limit: int = 200_000) -> None:
        self._lock = threading.Lock()
        self._counters: Counter[str] = Counter()
        self._calls: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._log: deque[RequestRecord] = deque(maxlen=log_limit)  # bounded: soak tests run for hours
        self.last_internal_error: str | None = None

    def incr(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counters[name] += amount

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def request(self, record: RequestRecord) -> None:
        with self._lock:
            self._counters["requests"] += 1
            self._calls[record.proc] += 1
            self._log.append(record)

    def internal_error(self, text: str) -> None:
        with self._lock:
            self._counters["internal_errors"] += 1
            self.last_internal_error = text

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            data: dict[str, Any] = {name: self._counters[name] for name in COUNTERS}
            data.update((k, v) for k, v in self._counters.items() if k not in data)
            data["calls"] = dict(self._calls)
            data["faults"] = dict(self._faults)
            data["last_internal_error"] = self.last_internal_error
            return data

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def reset(self) -> None:
        with self._lock:
            self._counters.clear()
            self._calls.clear()
            self._faults.clear()
            self._log.clear()
            self.last_internal_error = None

