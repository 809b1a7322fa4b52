"""Read-only views of the procedure catalogue: procedures, arguments, columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Literal, Mapping

from .types import ValueType

Mode = Literal["read", "write", "login"]
Shape = Literal["none", "status", "row", "rows"]
# How the gateway can tell, after a lost answer, whether an idempotent write
# took effect (implemented in soap_gateway.journal.reconcile, one per name):
# "posting": the write leaves a row that a list procedure shows, carrying the
# marker; "state": the write changes a subscriber's state that a read shows.
RECONCILERS = ("posting", "state")
# What the gateway itself relies on, declared in the catalogue rather than named in code; the loader
# checks them after a site's files are applied (catalogue/roles.py).  A procedure's roles: "login"
# (opens a billing session), "probe" (a harmless read for /readyz and `check`, sent with its ``probe``
# arguments), "payment" (the write the accounting operations post and reconcile), "subscriber" (reads
# one subscriber by id), "contract_search" (finds subscribers by a contract number).  An argument's
# role: "login" and "password" (the login's), "subscriber" (whose account a write touches, for the
# audit; the id a subscriber read takes), "name" (a search by name), "contract" (a search by contract
# number), "kind" (the payment's fixed operation type, and the argument of its lookup that lists only
# that type).  A column's role: "session" (the login reply's session id), "record" (the id of the
# record a write created or changed, in its status reply), "name", "subscriber" (the id a search
# found), "contract" (a subscriber's contract number), "parent" (a subscriber's group).
PROCEDURE_ROLES = ("login", "probe", "payment", "subscriber", "contract_search")
ARGUMENT_ROLES = ("login", "password", "subscriber", "name", "contract", "kind")
COLUMN_ROLES = ("session", "record", "name", "subscriber", "contract", "parent")


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
    role: str = ""


@dataclass(frozen=True)
class Column:
    """One column of a procedure's reply, named as the vendor page names it."""

    name: str
    type: ValueType
    secret: bool = False
    doc_ru: str = ""
    doc_en: str = ""
    role: str = ""


@dataclass(frozen=True)
class Lookup:
    """How a write whose answer was lost is looked up in the billing: declared, never guessed.

    Names of the write's arguments (``subscriber``, ``amount``, ``time``), of
    the lookup procedure's arguments (``by``, ``time_from``, ``time_to``) and
    of its reply columns (``*_column``); the loader checks every one.
    """

    procedure: str
    subscriber: str
    by: str
    amount: str
    amount_column: str
    subscriber_column: str = ""  # posting: the row's subscriber
    time: str = ""  # posting: the write's date argument, and the lookup's window around it
    time_from: str = ""
    time_to: str = ""
    time_column: str = ""
    window_minutes: int = 60
    evidence_column: str = ""  # posting: the column that carries the marker
    number: str = ""  # posting, optional: the write's document number argument ...
    number_column: str = ""  # ... and the column that shows it (journal.evidence = "number")
    id_column: str = ""  # posting: the row's id, answered as the write's ID
    until_column: str = ""  # state: a date the write moves later


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
    roles: tuple[str, ...] = ()
    probe: Mapping[str, Any] = field(default_factory=dict)  # the arguments a "probe" is sent with
    lookup: Lookup | None = None
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

    def argument(self, role: str) -> Argument | None:
        """The argument declared with this role, if any."""
        return next((a for a in self.args if a.role == role), None)

    def role_column(self, role: str) -> Column | None:
        """The reply column declared with this role, if any."""
        return next((c for c in self.columns if c.role == role), None)


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

    def role(self, role: str) -> Procedure:
        """The procedure declared with this role (the loader made sure there is exactly one)."""
        found = [p for p in self._procedures.values() if role in p.roles]
        if len(found) != 1:
            raise LookupError(f"{len(found)} procedures have the role {role!r}")
        return found[0]


@dataclass
class Row:
    """One reply row: catalogue columns typed (None when absent or unreadable), the rest as text."""

    values: dict[str, Any]
    extra: dict[str, str] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)  # columns whose raw text is in ``extra``

    def __getitem__(self, column: str) -> Any:
        return self.values[column]

    def get(self, column: str, default: Any = None) -> Any:
        return self.values.get(column, default)
