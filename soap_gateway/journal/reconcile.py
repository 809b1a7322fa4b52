"""Reconciliation: after a lost answer, look in the billing for what the write did, as the catalogue declares.

One strategy per ``reconcile`` kind of the catalogue (``catalogue.model.RECONCILERS``),
driven by the procedure's ``lookup`` declaration: which read looks, which of
its arguments select the subscriber and the time window, which columns carry
the subscriber, the amount, the time and the marker.  Nothing here names a
billing procedure or column.

A verdict is ``found`` (the write took effect: the rows to answer with),
``absent`` (no trace of it now: never proof of "not posted" by itself),
``mismatch`` (something carries the write's marker but not its subscriber,
amount or time: a person must look) or ``unknown``.  Lookups are ordinary
reads: they retry and respect the circuit breaker.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Protocol

from ..backend import BillingClient, Row
from ..catalogue import Procedure
from .marker import carries
from .model import Entry


@dataclass(frozen=True)
class Verdict:
    kind: Literal["found", "absent", "mismatch", "unknown"]
    detail: str
    rows: list[Row] = field(default_factory=list)
    ids: tuple[Any, ...] = ()  # the postings found (an alarm when more than one)


class Reconciler(Protocol):
    def baseline(self, client: BillingClient, proc: Procedure, args: Mapping[str, Any]) -> dict[str, Any]:
        """What the lookup will compare, taken before the first attempt (kept as the entry's evidence)."""

    def check(self, client: BillingClient, proc: Procedure, entry: Entry) -> Verdict:
        """Whether the write of ``entry`` took effect, judged from the billing now."""


class Posting:
    """The write leaves a row in a list (CLN_FIN_OPER_ADD -> CLN_FIN_OPER) that carries the marker.

    A row counts as this write's posting only if it carries the marker *and*
    its subscriber, amount and time agree with the write's.
    """

    def baseline(self, client: BillingClient, proc: Procedure, args: Mapping[str, Any]) -> dict[str, Any]:
        lookup = proc.lookup
        assert lookup is not None
        when = args[lookup.time]
        if when.tzinfo is not None:  # sent as the billing's wall clock (Timestamp.to_wire)
            when = when.astimezone(client.wire.zone).replace(tzinfo=None)
        terms = {"subscriber": args[lookup.subscriber], "amount": str(args[lookup.amount]), "time": when.isoformat()}
        if lookup.number and args.get(lookup.number) is not None:
            terms["number"] = args[lookup.number]
        return terms

    def check(self, client: BillingClient, proc: Procedure, entry: Entry) -> Verdict:
        lookup, terms = proc.lookup, entry.evidence
        assert lookup is not None
        if "subscriber" not in terms:
            return Verdict("unknown", "the write's subscriber, amount and time were not recorded")
        user, amount = terms["subscriber"], decimal.Decimal(terms["amount"])
        window = dt.timedelta(minutes=lookup.window_minutes)
        centres = [dt.datetime.fromisoformat(terms["time"])]
        if entry.sent_at is not None:  # a billing that stamps its own time instead of the date given
            sent = dt.datetime.fromtimestamp(entry.sent_at, client.wire.zone).replace(tzinfo=None)
            if abs(centres[0] - sent) > window:
                centres.append(sent)
        by_number = terms.get("by") == "number"  # journal.evidence = "number": no marker was sent

        def evidence(row: Row) -> bool:
            if by_number:
                return bool(row.get(lookup.number_column) == terms.get("number"))
            return carries(row.get(lookup.evidence_column), entry.marker)

        carriers: dict[Any, Row] = {}
        for centre in centres:
            rows = client.call(lookup.procedure, {lookup.by: user, lookup.time_from: centre - window,
                                                  lookup.time_to: centre + window})
            for row in rows:
                if evidence(row):
                    carriers[row.get(lookup.id_column, id(row))] = row
        what = f"{lookup.number_column} {terms.get('number')}" if by_number else "the marker"
        if not carriers:
            return Verdict("absent", f"no row of {lookup.procedure} for {lookup.by} {user} carries {what}")

        def agrees(row: Row) -> bool:
            when = row.get(lookup.time_column)
            return (row.get(lookup.subscriber_column) == user and row.get(lookup.amount_column) == amount
                    and isinstance(when, dt.datetime) and any(abs(when - c) <= window for c in centres))

        mine = [row for row in carriers.values() if agrees(row)]
        if not mine:
            seen = "; ".join(f"{lookup.id_column} {r.get(lookup.id_column)}: {lookup.subscriber_column} "
                             f"{r.get(lookup.subscriber_column)}, {lookup.amount_column} {r.get(lookup.amount_column)}"
                             for r in carriers.values())
            return Verdict("mismatch", f"{lookup.procedure} has {what} on rows that are not this write "
                           f"({lookup.subscriber} {user}, {lookup.amount} {amount}): {seen}")
        ids = tuple(r.get(lookup.id_column) for r in mine)
        detail = f"found in {lookup.procedure} as {lookup.id_column} {ids[0]}"
        if len(mine) > 1:
            detail += f"; {len(mine)} rows carry {what}: {list(ids)}"
        columns = {c.name for c in proc.columns}
        return Verdict("found", detail, [Row({k: v for k, v in mine[0].values.items() if k in columns})], ids)


class State:
    """The write changes the subscriber's state (WEB_USER_PROMISE_PAY -> CLN_USR_GET's PROMISE_PAY, date).

    Circumstantial: the billing keeps no marker the API can read, so a state
    changed to exactly this amount with a later date after the attempt counts
    as ours; an unchanged state as absent; anything else stays unknown.
    """

    def baseline(self, client: BillingClient, proc: Procedure, args: Mapping[str, Any]) -> dict[str, Any]:
        lookup = proc.lookup
        assert lookup is not None
        return {"subscriber": args[lookup.subscriber], "amount": str(args[lookup.amount]),
                "before": _state(client, proc, args[lookup.subscriber])}

    def check(self, client: BillingClient, proc: Procedure, entry: Entry) -> Verdict:
        lookup, terms = proc.lookup, entry.evidence
        assert lookup is not None
        before = terms.get("before")
        if not before:
            return Verdict("unknown", "no state was recorded before the attempt")
        now = _state(client, proc, terms["subscriber"])
        if now == before:
            return Verdict("absent", f"{lookup.amount_column} and {lookup.until_column} are unchanged")
        amount = decimal.Decimal(now["amount"]) if now["amount"] is not None else None
        if amount == decimal.Decimal(terms["amount"]) and now["until"] and (
                not before["until"] or now["until"] > before["until"]):
            return Verdict("found", f"{lookup.amount_column} became {amount} until {now['until']} after the attempt")
        return Verdict("unknown", f"the state changed to {now} in a way this attempt does not explain")


def _state(client: BillingClient, proc: Procedure, user: int) -> dict[str, Any]:
    lookup = proc.lookup
    assert lookup is not None
    (row,) = client.call(lookup.procedure, {lookup.by: user})[:1] or [Row({})]
    amount, until = row.get(lookup.amount_column), row.get(lookup.until_column)
    return {"amount": None if amount is None else str(amount), "until": None if until is None else until.isoformat()}


STRATEGIES: dict[str, Reconciler] = {"posting": Posting(), "state": State()}
