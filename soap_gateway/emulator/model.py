"""What a procedure handler receives (its call context) and returns (a result for the XML renderer)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .signatures import ID_COLUMNS, Field


@dataclass
class Context:
    """Who calls and when; handlers append side-effect events (e.g. "dhcpd_restart") for the counters."""

    login: str
    now: datetime
    events: list[str] = field(default_factory=list)


@dataclass
class Result:
    """Columns + rows. ``single`` puts the one row's columns directly under the root element."""

    columns: Sequence[Field] = ()
    rows: Iterable[Sequence[Any]] = ()
    single: bool = False

    @classmethod
    def empty(cls) -> Result:
        return cls()

    @classmethod
    def new_id(cls, value: int) -> Result:
        return cls(ID_COLUMNS, [(value,)], single=True)
