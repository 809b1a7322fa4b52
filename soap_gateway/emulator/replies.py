"""XML rendering of billing replies: ``<result>`` root, ``<row>`` per row, lower-case column elements.

Large results are produced as a list of ~64 KiB byte chunks, never as one huge string.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .model import Result
from .signatures import Field

CHUNK = 64 * 1024
CODECS = {"windows-1251": "cp1251", "cp1251": "cp1251", "utf-8": "utf-8", "utf8": "utf-8"}


def canonical_encoding(name: str) -> str:
    """'cp1251' -> 'windows-1251' (the name put on the wire); raises ValueError on anything else."""
    codec = CODECS.get(name.strip().lower())
    if codec is None:
        raise ValueError(f"unsupported reply encoding {name!r} (use windows-1251 or utf-8)")
    return "windows-1251" if codec == "cp1251" else "utf-8"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Renderer:
    """Renders results and errors with one installation's encoding and date style."""

    def __init__(self, encoding: str = "windows-1251", declare: bool = True, style: str = "iso") -> None:
        self.encoding = canonical_encoding(encoding)
        self.codec = CODECS[self.encoding]
        self.declare = declare
        self.style = style
        self.content_type = f"text/xml; charset={self.encoding}"

    def _head(self) -> str:
        return f'<?xml version="1.0" encoding="{self.encoding}"?>\n' if self.declare else ""

    def _encode(self, text: str) -> bytes:
        # A character the codec lacks becomes a character reference: still valid, still the same text.
        return text.encode(self.codec, "xmlcharrefreplace")

    def _cells(self, columns: Sequence[Field], row: Sequence[Any]) -> str:
        parts = []
        for (name, kind), value in zip(columns, row):
            tag = name.lower()
            if value is None:
                parts.append(f"<{tag}/>")
            else:
                parts.append(f"<{tag}>{escape(kind.render(value, self.style))}</{tag}>")
        return "".join(parts)

    def error(self, message: str) -> list[bytes]:
        return [self._encode(f"{self._head()}<result><error>{escape(message)}</error></result>\n")]

    def result(self, result: Result) -> list[bytes]:
        if result.single:
            rows = list(result.rows)
            body = self._cells(result.columns, rows[0]) if rows else ""
            return [self._encode(f"{self._head()}<result>{body}</result>\n")]
        return list(self._chunks(result.columns, result.rows))

    def _chunks(self, columns: Sequence[Field], rows: Iterable[Sequence[Any]]) -> Iterable[bytes]:
        pending = [self._head(), "<result>"]
        size = 0
        empty = True
        for row in rows:
            empty = False
            text = f"<row>{self._cells(columns, row)}</row>"
            pending.append(text)
            size += len(text)
            if size >= CHUNK:
                yield self._encode("".join(pending))
                pending, size = [], 0
        if empty:
            yield self._encode(f"{self._head()}<result/>\n")
            return
        pending.append("</result>\n")
        yield self._encode("".join(pending))
