"""The circuit breaker in front of the billing: fail fast while it is down, probe for recovery.

Closed: calls go out; ``failures`` consecutive failures to reach the billing
(transport failures and HTTP 5xx) open it.  A reply that could not be decoded,
an HTTP 4xx or a billing error means the billing is up and answering: those
count as successes.  Open: calls are refused at once (CircuitOpen, never sent).  After
``reset_seconds`` it is half open: one call goes out as the probe, its
success closes the circuit, its failure opens it again.  One breaker per
process (per gunicorn worker).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from ..errors import BillingError, BillingUnavailable, CircuitOpen, MalformedReply

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    """Counts consecutive transport failures; thread-safe."""

    def __init__(self, failures: int, reset_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold, self.reset_seconds, self._clock = failures, reset_seconds, clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self.opened = 0  # how often it opened, for logs and tests

    def state(self) -> str:
        with self._lock:
            return self._state(self._clock())

    def _state(self, now: float) -> str:
        if self._opened_at is None:
            return CLOSED
        return HALF_OPEN if now - self._opened_at >= self.reset_seconds else OPEN

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Around one request to the billing: refuse it, or record how it went."""
        probe = self._admit()
        try:
            yield
        except BillingError:
            self._record(ok=True)  # the billing ran the call and answered: it is up
            raise
        except BillingUnavailable as exc:
            self._record(ok=not _down(exc))
            raise
        except BaseException:
            if probe:
                with self._lock:
                    self._probing = False
            raise
        self._record(ok=True)

    def _admit(self) -> bool:
        with self._lock:
            now = self._clock()
            state = self._state(now)
            if state == CLOSED:
                return False
            if state == HALF_OPEN and not self._probing:
                self._probing = True
                return True
            assert self._opened_at is not None
            raise CircuitOpen(failures=self._failures, sent=False,
                              retry_in=max(0.0, self.reset_seconds - (now - self._opened_at)))

    def _record(self, ok: bool) -> None:
        with self._lock:
            if ok:
                self._failures, self._opened_at, self._probing = 0, None, False
                return
            self._failures += 1
            if self._probing or self._failures >= self.threshold:
                if self._opened_at is None or self._probing:
                    self.opened += 1
                self._opened_at = self._clock()
            self._probing = False


def _down(exc: BillingUnavailable) -> bool:
    """A failure to reach the billing: not a reply it sent (undecodable, or an HTTP 4xx)."""
    if isinstance(exc, MalformedReply):
        return False
    status = getattr(exc, "status", None)
    return status is None or status >= 500
