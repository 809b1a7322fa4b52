"""Readiness (/readyz): a list of named checks, each timed and reported in JSON.

A check is a callable that returns a short detail or raises; features add
their own with ``Readiness.add`` (the billing client's circuit breaker, a
journal).  Checks run in parallel, each within ``timeout`` seconds, so a hung
billing makes the probe say "timeout" instead of hanging the probe too.
"""

from __future__ import annotations

import concurrent.futures
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol

Check = Callable[[], "str | None"]


class Billing(Protocol):
    """What the billing checks use of ``backend.BillingClient``: named here, so ops never imports the backend
    (which counts and logs through ops)."""

    @property
    def catalogue(self) -> Any: ...
    @property
    def settings(self) -> Any: ...
    @property
    def service_account(self) -> Any: ...
    def session(self, credentials: Any) -> Any: ...
    def call(self, name: str, args: Mapping[str, Any]) -> Any: ...


@dataclass
class Result:
    name: str
    state: str  # "ok" | "failed" | "timeout"
    latency_ms: float
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "latency_ms": round(self.latency_ms, 1),
                "detail": self.detail}


class Readiness:
    """Named checks; ready when every one passes."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.checks: list[tuple[str, Check]] = []

    def add(self, name: str, check: Check) -> None:
        self.checks.append((name, check))

    def run(self) -> tuple[bool, list[Result]]:
        if not self.checks:
            return True, []
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(self.checks), thread_name_prefix="readyz")
        started = time.perf_counter()
        try:
            futures = [(name, pool.submit(_timed, check)) for name, check in self.checks]
            results = [self._collect(name, future, started) for name, future in futures]
        finally:
            pool.shutdown(wait=False)  # a hung check finishes on its own, within the billing timeouts
        return all(r.state == "ok" for r in results), results

    def _collect(self, name: str, future: concurrent.futures.Future[tuple[float, str, Exception | None]],
                 started: float) -> Result:
        remaining = max(0.0, self.timeout - (time.perf_counter() - started))
        try:
            seconds, detail, error = future.result(timeout=remaining)
        except concurrent.futures.TimeoutError:
            return Result(name, "timeout", self.timeout * 1000, f"no answer within {self.timeout:g} s")
        if error is not None:  # a failed check is a report, not an error of the probe
            return Result(name, "failed", seconds * 1000, f"{type(error).__name__}: {error}")
        return Result(name, "ok", seconds * 1000, detail)


def _timed(check: Check) -> tuple[float, str, Exception | None]:
    started = time.perf_counter()
    try:
        detail, error = check() or "", None
    except Exception as exc:
        detail, error = "", exc
    return time.perf_counter() - started, detail, error


def billing_checks(client: Billing) -> list[tuple[str, Check]]:
    """The billing's checks: login works, the billing answers, the circuit breaker (if any) is not open."""
    checks: list[tuple[str, Check]] = []
    if client.settings.login_mode == "session":
        def login() -> str:
            client.session(client.service_account).current()  # the cached SUID, or a fresh login
            return f"session of {client.service_account.login}"
        checks.append(("login", login))

    def billing() -> str:
        probe = client.catalogue.role("probe")  # a harmless read, declared in the catalogue
        client.call(probe.name, probe.probe)
        return f"{probe.name} answered"
    checks.append(("billing", billing))

    circuit_state = getattr(client, "circuit_state", None)
    if callable(circuit_state):
        def circuit() -> str:
            state = str(circuit_state())
            if state.lower() == "open":
                raise RuntimeError("the circuit breaker is open: calls to the billing fail fast")
            return state
        checks.append(("circuit_breaker", circuit))
    return checks
