"""Dirty data: values the catalogue's type could not read, reported without failing the reply.

The codec leaves such a column None and keeps its raw text (``Row.unreadable``).
Here every one is counted in /metrics, and the first one of each procedure and
column in this process is logged, so a billing full of year-1 dates writes one
warning, not one per row.  The raw text of a secret column is never logged.
"""

from __future__ import annotations

import logging
import threading
from typing import Iterator

from ..catalogue import Procedure
from ..ops import metrics
from .codec import Row

log = logging.getLogger("soap_gateway.billing")
_SEEN: set[tuple[str, str]] = set()
_LOCK = threading.Lock()


def reported(proc: Procedure, rows: Iterator[Row]) -> Iterator[Row]:
    """``rows`` unchanged, each unreadable value counted (and the first of its kind logged)."""
    for row in rows:
        if row.unreadable:
            for name in row.unreadable:
                _report(proc, name, row.extra.get(name, ""))
        yield row


def _report(proc: Procedure, column: str, raw: str) -> None:
    metrics.count_unreadable(proc.name, column)
    key = (proc.name, column)
    with _LOCK:
        if key in _SEEN:
            return
        _SEEN.add(key)
    found = proc.column(column)
    shown = "(secret, not shown)" if found is not None and found.secret else repr(raw[:40])
    log.warning("%s.%s: the billing sent %s, not readable as %s; published as nil, the raw text in EXTRA_COLUMNS "
                "(logged once per procedure and column)", proc.name, column, shown,
                found.type.billing if found is not None else "value of its type")
