"""One SOAP request observed: its log line, its metrics, its correlation id for everything it logs."""

from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Iterator

from . import metrics
from .logs import correlation

log = logging.getLogger("soap_gateway.request")
# A caller's own id is echoed back and logged: keep it short and free of anything a log line could trip on.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def correlation_id_from(header: str | None) -> str:
    """The caller's X-Correlation-ID when it is a plain token, else a fresh one."""
    if header and _SAFE_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


@dataclass
class RequestRecord:
    """Filled in while the request runs; logged and counted when it ends."""

    correlation_id: str
    operation: str = "-"
    outcome: str = "ok"
    caller: str = "anonymous"
    status: str = ""


@contextlib.contextmanager
def soap_request(correlation_id: str) -> Iterator[RequestRecord]:
    """Count the request in flight, then log one line and record its duration and outcome."""
    record = RequestRecord(correlation_id)
    started = time.perf_counter()
    metrics.IN_FLIGHT.inc()
    with correlation(correlation_id):
        try:
            yield record
        except BaseException:
            record.outcome = "Server"
            raise
        finally:
            metrics.IN_FLIGHT.dec()
            seconds = time.perf_counter() - started
            metrics.observe_soap(record.operation, record.outcome, seconds)
            status = record.status.partition(" ")[0]
            log.info("soap %s caller=%s outcome=%s status=%s duration_ms=%.1f", record.operation, record.caller,
                     record.outcome, status, seconds * 1000,
                     extra={"operation": record.operation, "caller": record.caller, "outcome": record.outcome,
                            "status": status, "duration_ms": round(seconds * 1000, 1)})
