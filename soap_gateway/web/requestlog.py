"""One request observed, whatever its facade: its log line, its metrics, its correlation id."""

from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from typing import Iterator

from ..ops import metrics
from ..ops.logs import correlation
from .context import CallContext

log = logging.getLogger("soap_gateway.request")
# A caller's own id is echoed back and logged: keep it short and free of anything a log line could trip on.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def correlation_id_from(header: str | None) -> str:
    """The caller's X-Correlation-ID when it is a plain token, else a fresh one."""
    if header and _SAFE_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


@contextlib.contextmanager
def observed(call: CallContext) -> Iterator[CallContext]:
    """Count the request in flight, then log one line and record its duration and outcome."""
    started = time.perf_counter()
    metrics.in_flight(call.facade, 1)
    with correlation(call.correlation_id):
        try:
            yield call
        except BaseException:
            call.outcome = "Server"
            raise
        finally:
            metrics.in_flight(call.facade, -1)
            seconds = time.perf_counter() - started
            metrics.observe_request(call.facade, call.operation, call.outcome, seconds)
            status = call.status.partition(" ")[0]
            log.info("%s %s caller=%s outcome=%s status=%s duration_ms=%.1f", call.facade, call.operation,
                     call.caller, call.outcome, status, seconds * 1000,
                     extra={"facade": call.facade, "operation": call.operation, "caller": call.caller,
                            "outcome": call.outcome, "status": status, "duration_ms": round(seconds * 1000, 1)})
