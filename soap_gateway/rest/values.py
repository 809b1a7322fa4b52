"""Published values as JSON: money as decimal strings, timestamps as ISO 8601, rows written as they come.

Money is never a JSON number: most JSON parsers (JavaScript's, 1C's ЧтениеJSON
into Число is exact, but many others) read numbers as binary floats, where
0.1 + 0.2 ≠ 0.3; "350.00" keeps the kopecks exact in every language.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any, Iterable, Iterator, Mapping

CHUNK = 64 * 1024  # bytes handed to the server at a time
JSON = "application/json"
NDJSON = "application/x-ndjson"


def _plain(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return f"{value:f}"  # quantized to the column's scale already: "350.00"
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not published as JSON")


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_plain).encode


def dumps(value: Any) -> bytes:
    return _encode(value).encode("utf-8")


def record(values: Mapping[str, Any]) -> bytes:
    return dumps(values)


def rows_chunks(rows: Iterable[Mapping[str, Any]], ndjson: bool) -> Iterator[bytes]:
    """A JSON array (or NDJSON lines) of ``rows`` in pieces of about CHUNK bytes, rows read as they go."""
    parts: list[bytes] = []
    size = 0
    first = True
    if not ndjson:
        parts.append(b"[")
    for row in rows:
        piece = _encode(row).encode("utf-8")
        if ndjson:
            parts.append(piece)
            parts.append(b"\n")
        else:
            parts.append(piece if first else b"," + piece)
        first = False
        size += len(piece) + 1
        if size >= CHUNK:
            yield b"".join(parts)
            parts, size = [], 0
    if not ndjson:
        parts.append(b"]")
    yield b"".join(parts)
