"""Limits on what a request may make the gateway read, the same for every facade."""

from __future__ import annotations

from typing import Any

from ..errors import RequestTimeout, RequestTooLarge
from .arrival import WATCHDOG, Arrival


def read_body(environ: dict[str, Any], limit: int, seconds: float) -> bytes:
    """The request body; ``RequestTooLarge`` when it is larger than ``limit`` (never read past it).

    Without a Content-Length (a chunked upload) it reads to the end or to one
    byte past the limit, so an oversized body is refused, never cut short;
    reads loop because a WSGI stream may return less than asked.  A body that
    has not all arrived within ``seconds`` is ``RequestTimeout``, however
    slowly it trickles in (arrival.py).
    """
    arrival = WATCHDOG.watch(seconds, environ)
    try:
        body = _read_within(environ, limit, arrival)
    except OSError:  # the watchdog shut the socket's read side while the server's reader waited
        body = b""
    if not WATCHDOG.done(arrival):
        raise RequestTimeout(seconds=seconds)
    if body is None:
        raise RequestTooLarge(limit=limit)
    return body


def _read_within(environ: dict[str, Any], limit: int, arrival: Arrival) -> bytes | None:
    stream = environ["wsgi.input"]
    try:
        declared = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        declared = -1
    if declared > limit:
        return None
    wanted = declared if declared >= 0 else limit + 1
    chunks: list[bytes] = []
    received = 0
    while received < wanted and not arrival.late():
        chunk = stream.read(min(wanted - received, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
    return None if received > limit else b"".join(chunks)
