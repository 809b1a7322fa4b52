"""RowStream: the rows of one billing reply, decoded while the caller consumes them.

The HTTP response stays open (its pooled connection taken) until the last row is read or the
stream is closed; a stream closed early discards its connection rather than reuse one with
unread bytes.  One log line per billing call is written when the stream ends.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterator

from ..ops import metrics
from .codec import Row
from .transport import BillingResponse

log = logging.getLogger("soap_gateway.billing")


def log_billing_call(procedure: str, outcome: str, seconds: float, rows: int | None = None) -> None:
    """The one log line and the metrics of a billing call; never the URL or the query (SUID, password)."""
    metrics.observe_billing_call(procedure, outcome, seconds)
    extra: dict[str, Any] = {"procedure": procedure, "outcome": outcome, "duration_ms": round(seconds * 1000, 1)}
    if rows is not None:
        extra["rows"] = rows  # in the JSON lines; the text line keeps its documented shape
    log.info("billing call %s outcome=%s duration_ms=%.1f", procedure, outcome, seconds * 1000, extra=extra)


class RowStream:
    """An iterable of typed rows over an open billing response; iterate it once, then it is closed."""

    def __init__(self, procedure: str, rows: Iterator[Row], response: BillingResponse, started: float) -> None:
        self.procedure = procedure
        self._rows, self._response = rows, response
        self._head: list[Row] = []
        self._started = started  # time.perf_counter() when the request was sent
        self._count = 0
        self._open = True
        self._each: Callable[[Row], Row] | None = None

    def each(self, action: Callable[[Row], Row]) -> RowStream:
        """Pass every row through ``action`` as it is handed out (the core's redaction)."""
        self._each = action
        return self

    def peek(self) -> RowStream:
        """Read up to the first row, so that a failed call or an error reply raises here, not later."""
        try:
            self._head.append(next(self._rows))
        except StopIteration:
            self.close("ok")
        except BaseException as exc:
            self.close(type(exc).__name__)
            raise
        return self

    def __iter__(self) -> Iterator[Row]:
        each = self._each or (lambda row: row)
        try:
            while self._head:
                self._count += 1
                yield each(self._head.pop(0))
            for row in self._rows:
                self._count += 1
                yield each(row)
        except BaseException as exc:
            self.close("Abandoned" if isinstance(exc, GeneratorExit) else type(exc).__name__)
            raise
        self.close("ok")

    def close(self, outcome: str = "Abandoned") -> None:
        if not self._open:
            return
        self._open = False
        self._rows.close()  # type: ignore[attr-defined]
        self._response.close()
        log_billing_call(self.procedure, outcome, time.perf_counter() - self._started, self._count)

    def __enter__(self) -> RowStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
