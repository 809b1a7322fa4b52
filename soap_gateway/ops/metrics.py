"""Prometheus metrics of the gateway and their exposition at /metrics.

Under gunicorn every worker is its own process: with PROMETHEUS_MULTIPROC_DIR
set (deploy/gunicorn.conf.py and ``soap-gateway serve`` set it before any
worker starts) each worker writes its samples to files there and /metrics,
whichever worker answers it, adds up all of them.  Labels are catalogue names,
fault codes and error class names only: never a caller's value, never a secret.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess)

from .multiproc import MULTIPROC_ENV
# Up to the billing's read timeout (30 s by default) and a little past it.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CIRCUIT_STATES = ("closed", "half-open", "open")

# facade: "soap" or "rest"; outcome: ok, or the SOAP faultcode / the REST problem code.
REQUESTS = Counter("soap_gateway_requests", "Requests by facade, operation and outcome",
                   ["facade", "operation", "outcome"])
DURATION = Histogram("soap_gateway_request_duration_seconds", "Time to answer a request",
                     ["facade", "operation"], buckets=_BUCKETS)
IN_FLIGHT = Gauge("soap_gateway_requests_in_flight", "Requests being answered now", ["facade"],
                  multiprocess_mode="livesum")
BILLING_DURATION = Histogram("soap_gateway_billing_call_duration_seconds",
                             "Billing api.php calls by procedure and outcome (ok or error class)",
                             ["procedure", "outcome"], buckets=_BUCKETS)
LOGINS = Counter("soap_gateway_billing_logins", "Logins to the billing (CLN_AUTH_LOGIN) by outcome", ["outcome"])
RELOGINS = Counter("soap_gateway_billing_relogins", "Calls that found the billing session (SUID) expired and renewed it")
UNREADABLE = Counter("soap_gateway_billing_unreadable_values", "Reply values the column's type could not read, "
                     "published as nil with the raw text in EXTRA_COLUMNS", ["procedure", "column"])
# One series per state, 1 for the current one (prometheus_client's Enum has no multiprocess mode);
# nothing is exported while the billing client has no circuit breaker.
CIRCUIT = Gauge("soap_gateway_billing_circuit_state", "Circuit breaker toward the billing: 1 for its state "
                "(any worker)", ["state"], multiprocess_mode="livemax")
# The journal is shared by every worker (and instance): the worker answering /metrics reads it then.
JOURNAL = Gauge("soap_gateway_journal_entries", "Journaled writes by state, read from the journal at scrape time",
                ["state"], multiprocess_mode="mostrecent")
# Each /readyz check as the last probe found it (whichever worker answered it): what an alert can see.
READINESS = Gauge("soap_gateway_readiness_check", "Each /readyz check at the last probe: 1 ok, 0 failed or "
                  "timed out", ["check"], multiprocess_mode="mostrecent")
UNRESOLVED = Gauge("soap_gateway_journal_unresolved", "Writes of unknown outcome (not yet found in the billing, "
                   "not resolved by an operator)", multiprocess_mode="mostrecent")
UNRESOLVED_AGE = Gauge("soap_gateway_journal_unresolved_oldest_seconds", "Age of the oldest write of unknown "
                       "outcome, from its attempt (0: none)", multiprocess_mode="mostrecent")


_CHILDREN: dict[tuple[Any, ...], Any] = {}


def _series(metric: Any, *labels: str) -> Any:
    """``metric.labels(*labels)``, kept: every request would otherwise look its series up again."""
    key = (metric, *labels)
    series = _CHILDREN.get(key)
    if series is None:
        series = metric.labels(*labels)
        if len(_CHILDREN) < 10_000:  # the label values are catalogue names and fault codes: few
            _CHILDREN[key] = series
    return series


def observe_request(facade: str, operation: str, outcome: str, seconds: float) -> None:
    _series(REQUESTS, facade, operation, outcome).inc()
    _series(DURATION, facade, operation).observe(seconds)


def in_flight(facade: str, change: int) -> None:
    _series(IN_FLIGHT, facade).inc(change)


def observe_billing_call(procedure: str, outcome: str, seconds: float) -> None:
    _series(BILLING_DURATION, procedure, outcome).observe(seconds)


def count_login(ok: bool) -> None:
    LOGINS.labels("ok" if ok else "failed").inc()


def count_relogin() -> None:
    RELOGINS.inc()


def count_unreadable(procedure: str, column: str) -> None:
    UNREADABLE.labels(procedure, column).inc()


_circuit_shown: list[str] = []  # the state last set in this process: most requests leave it as it was


def set_circuit_state(state: str) -> None:
    current = str(state).lower().replace("_", "-")
    if _circuit_shown == [current]:
        return
    _circuit_shown[:] = [current]
    for name in CIRCUIT_STATES:
        CIRCUIT.labels(name).set(1 if name == current else 0)


def set_journal_states(counts: dict[str, int]) -> None:
    for state, count in counts.items():
        JOURNAL.labels(state).set(count)


def set_readiness(checks: dict[str, bool]) -> None:
    for name, ok in checks.items():
        READINESS.labels(name).set(1 if ok else 0)


def set_journal_unresolved(count: int, oldest_seconds: float) -> None:
    UNRESOLVED.set(count)
    UNRESOLVED_AGE.set(oldest_seconds)


def exposition() -> tuple[str, bytes]:
    """Content type and body for /metrics: every worker's samples when in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # unannotated upstream
        return CONTENT_TYPE_LATEST, generate_latest(registry)
    return CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
