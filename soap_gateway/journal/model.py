"""What the journal holds: entry states, entries, audit records, and how rows are stored.

An entry is one idempotency key's write; its state moves
pending -> done | failed | unknown, and from failed or unknown back to
pending when a later request with the same key takes it over.  Audit records
are the append-only history an accountant lists.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal

if TYPE_CHECKING:
    from ..backend import Row

PENDING, DONE, FAILED, UNKNOWN = "pending", "done", "failed", "unknown"
STATES = (PENDING, DONE, FAILED, UNKNOWN)
# Audit outcomes besides the states: a duplicate answered from the journal,
# a key reused with another payload, an operator's manual resolution, and an
# alarm: the billing shows something a person must look at (a posting that
# carries a write's marker but not its subscriber or amount; a lookup that
# cannot find a posting known to exist).
REPLAYED, CONFLICT, RECONCILING, RESOLVED, ALARM = "replayed", "conflict", "reconciling", "resolved", "alarm"
OUTCOMES = (*STATES, REPLAYED, CONFLICT, RECONCILING, RESOLVED, ALARM)

Action = Literal["post", "reconcile", "replay", "busy", "conflict"]


@dataclass(frozen=True)
class Who:
    """Who asked for a write, as far as the gateway knows; never a secret."""

    caller: str = "anonymous"
    correlation_id: str = ""
    scope: str = ""  # whose idempotency keys: the authenticated caller ("" when keys are shared)


@dataclass(frozen=True)
class Subject:
    """What a write is about, for the audit: operation, subscriber, amount, shown arguments."""

    procedure: str
    subscriber: int | None = None
    amount: str | None = None
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Entry:
    """One idempotency key's write as the journal holds it."""

    key: str
    procedure: str
    fingerprint: str
    state: str
    marker: str = ""
    subscriber: int | None = None
    amount: str | None = None
    caller: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    result: str | None = None  # the billing's answer (dump_rows), once done
    reason: str = ""
    attempts: int = 0
    owner: str | None = None
    lease_until: float | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    sent_at: float | None = None
    scope: str = ""  # the caller the key belongs to (Who.scope)


@dataclass(frozen=True)
class Decision:
    """What a request must do with its key: post, reconcile first, replay, wait, or refuse."""

    action: Action
    entry: Entry
    token: str = ""  # proves this request holds the key (post / reconcile)


@dataclass(frozen=True)
class AuditRecord:
    """One line of the append-only audit trail."""

    at: float
    procedure: str
    outcome: str
    key: str | None = None
    caller: str = ""
    subscriber: int | None = None
    amount: str | None = None
    detail: str = ""
    correlation_id: str = ""
    instance: str = ""
    id: int | None = None


def dump_rows(rows: list[Row]) -> str:
    """Rows as JSON, each value tagged with its type so a replay returns what the billing did."""
    return json.dumps([{"values": {k: _tag(v) for k, v in r.values.items()}, "extra": r.extra} for r in rows],
                      ensure_ascii=False)


def load_rows(text: str | None) -> list[Row]:
    from ..backend import Row  # here: the journal command runs without the billing side

    return [Row({k: _untag(v) for k, v in r["values"].items()}, dict(r["extra"])) for r in json.loads(text or "[]")]


def _tag(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return {"decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    return value


def _untag(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ((kind, text),) = value.items()
    parse: dict[str, Callable[[str], Any]] = {"decimal": decimal.Decimal, "datetime": dt.datetime.fromisoformat,
                                              "date": dt.date.fromisoformat}
    return parse[kind](text)


def who_called(caller: str, credentials: Any, suid: str | None) -> str:
    """The audit's "who called": the gateway caller, and whose billing session ran it."""
    if credentials is not None and credentials.login != caller:
        return f"{caller} as {credentials.login}"
    return f"{caller} (own billing session)" if suid else caller
