"""Read-only views of the procedure catalogue: procedures, arguments, columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Literal, Mapping

from .types import ValueType

Mode = Literal["read", "write", "login"]
Shape = Literal["none", "status", "row", "rows"]
# How the gateway can tell, after a lost answer, whether an idempotent write
# took effect (implemented in soap_gateway.journal.reconcile, one per name).
RECONCILERS = ("fin_oper_marker", "promise_state")


@dataclass(frozen=True)
class Argument:
    """One positional argument after the SUID.

    A ``fixed`` argument is always sent with its catalogue value (``None``
    meaning null) and is not offered to callers.
    """

    name: str
    type: ValueType
    required: bool = False
    fixed: bool = False
    value: Any = None
    choices: tuple[int, ...] = ()
    secret: bool = False
    positive: bool = False  # money that must be > 0 (a payment's amount)
    doc_ru: str = ""
    doc_en: str = ""


@dataclass(frozen=True)
class Column:
    """One column of a procedure's reply, named as the vendor page names it."""

    name: str
    type: ValueType
    secret: bool = False
    doc_ru: str = ""
    doc_en: str = ""


@dataclass(frozen=True)
class Procedure:
    """A billing stored procedure: its arguments in order and its reply shape."""

    name: str
    mode: Mode
    result: Shape
    args: tuple[Argument, ...]
    columns: tuple[Column, ...] = ()
    session: bool = True
    tags: tuple[str, ...] = ()
    doc_ru: str = ""
    doc_en: str = ""
    note: str = ""
    source: str = ""
    # Money safety (issue #5): callers may send an idempotency key; ``marker``
    # names the text argument that carries the gateway's reconciliation marker;
    # ``reconcile`` names how a lost answer is looked up in the billing.
    idempotent: bool = False
    marker: str = ""
    reconcile: str = ""
    _columns_by_name: Mapping[str, Column] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_columns_by_name", {c.name.lower(): c for c in self.columns})

    @property
    def writes(self) -> bool:
        return self.mode == "write"

    @property
    def params(self) -> tuple[Argument, ...]:
        """The arguments a caller supplies (fixed ones excluded)."""
        return tuple(a for a in self.args if not a.fixed)

    def column(self, wire_name: str) -> Column | None:
        """The column for a reply element name; tag case does not matter."""
        return self._columns_by_name.get(wire_name.lower())


class Catalogue(Mapping[str, Procedure]):
    """All procedures of one installation, by name."""

    def __init__(self, procedures: Mapping[str, Procedure]) -> None:
        self._procedures = dict(procedures)

    def __getitem__(self, name: str) -> Procedure:
        return self._procedures[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._procedures)

    def __len__(self) -> int:
        return len(self._procedures)


@dataclass
class Row:
    """One reply row: catalogue columns typed (None when absent), the rest as text."""

    values: dict[str, Any]
    extra: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, column: str) -> Any:
        return self.values[column]

    def get(self, column: str, default: Any = None) -> Any:
        return self.values.get(column, default)
