"""Limits on what a request may make the gateway read, the same for every facade."""

from __future__ import annotations

from typing import Any

from ..errors import RequestTooLarge


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The request body; ``RequestTooLarge`` when it is larger than ``limit`` (never read past it).

    Without a Content-Length (a chunked upload) it reads to the end or to one
    byte past the limit, so an oversized body is refused, never cut short;
    reads loop because a WSGI stream may return less than asked.
    """
    stream = environ["wsgi.input"]
    try:
        declared = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        declared = -1
    if declared > limit:
        raise RequestTooLarge(limit=limit)
    wanted = declared if declared >= 0 else limit + 1
    chunks: list[bytes] = []
    received = 0
    while received < wanted:
        chunk = stream.read(min(wanted - received, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
    if received > limit:
        raise RequestTooLarge(limit=limit)
    return b"".join(chunks)
