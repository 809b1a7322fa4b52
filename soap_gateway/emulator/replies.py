"""XML rendering of billing replies: ``<result>`` root, ``<row>`` per row, lower-case column elements
(or what the dialect says: other names, reply counters, dirty values).

Large results are produced as a list of ~64 KiB byte chunks, never as one huge string.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .dialect import DEFAULT, Dialect
from .model import Result
from .signatures import Field
from .sqltypes import Double, Int, Money, Timestamp

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

    def __init__(self, encoding: str = "windows-1251", declare: bool = True, style: str = "iso",
                 dialect: Dialect = DEFAULT) -> None:
        self.encoding = canonical_encoding(encoding)
        self.codec = CODECS[self.encoding]
        self.declare = declare
        self.style = style
        self.content_type = f"text/xml; charset={self.encoding}"
        self.upper = "upper-root" in dialect
        self.root, self.row = ("RESPONSE", "ITEM") if self.upper else ("result", "row")
        self.counters = "counters" in dialect
        self.dirty = "dirty-values" in dialect

    def _head(self) -> str:
        return f'<?xml version="1.0" encoding="{self.encoding}"?>\n' if self.declare else ""

    def _encode(self, text: str) -> bytes:
        # A character the codec lacks becomes a character reference: still valid, still the same text.
        return text.encode(self.codec, "xmlcharrefreplace")

    def _cells(self, columns: Sequence[Field], row: Sequence[Any], dirt: int = 0) -> str:
        parts = []
        for (name, kind), value in zip(columns, row):
            tag = name if self.upper else name.lower()
            text = None if value is None else escape(kind.render(value, self.style))
            if dirt:
                text = _dirty(name, kind, dirt, text)
            parts.append(f"<{tag}/>" if text is None else f"<{tag}>{text}</{tag}>")
        return "".join(parts)

    def _counters(self, errors: int, rows: int) -> str:
        return f"<errors>{errors}</errors><rows>{rows}</rows>" if self.counters else ""

    def error(self, message: str) -> list[bytes]:
        body = f"{self._counters(1, 0)}<error>{escape(message)}</error>"
        return [self._encode(f"{self._head()}<{self.root}>{body}</{self.root}>\n")]

    def result(self, result: Result) -> list[bytes]:
        if result.single and not self.counters:  # with counters, even one row comes in its own element
            rows = list(result.rows)
            body = self._cells(result.columns, rows[0]) if rows else ""
            return [self._encode(f"{self._head()}<{self.root}>{body}</{self.root}>\n")]
        return list(self._chunks(result.columns, result.rows, dirty=self.dirty and not result.single))

    def _chunks(self, columns: Sequence[Field], rows: Iterable[Sequence[Any]], dirty: bool) -> Iterable[bytes]:
        pending = [self._head(), f"<{self.root}>"]
        size = 0
        count = 0
        for row in rows:
            text = f"<{self.row}>{self._cells(columns, row, count if dirty and count in (1, 2) else 0)}</{self.row}>"
            count += 1
            pending.append(text)
            size += len(text)
            if size >= CHUNK:
                yield self._encode("".join(pending))
                pending, size = [], 0
        if not count and not self.counters:
            yield self._encode(f"{self._head()}<{self.root}/>\n")
            return
        pending.append(f"{self._counters(0, count)}</{self.root}>\n")
        yield self._encode("".join(pending))


def _dirty(name: str, kind: Any, which: int, text: str | None) -> str | None:
    """What an installation with dirty data prints instead: the 2nd row (``which`` 1) and the 3rd (2)."""
    if isinstance(kind, Timestamp):
        return "1-01-01 00:00:00" if which == 1 else ""  # year 1 through glibc/PHP strftime; an empty stamp
    if isinstance(kind, (Money, Double)):
        return "NaN" if which == 1 else (text or "0").replace(".", ",")
    if isinstance(kind, Int) and not name.endswith("ID"):  # ids stay, so a row can still be found
        return "4294967296" if which == 1 else "''"
    return text
