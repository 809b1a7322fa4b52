"""Reconciliation ("сверка") of a period: the journal's payments against the billing's, payment by payment.

The payment is the catalogue's procedure with roles = ["payment"]
(CLN_FIN_OPER_ADD).  The billing side is read with its lookup procedure
(CLN_FIN_OPER; only the payment's kind of operation, incomes, where the lookup
takes a kind) one day at a time, streamed, as the caller (its roles apply); the
gateway side is the write journal's entries of the payment whose date falls in
the period.  They are joined by the reconciliation marker the gateway puts in
the payment's marker argument (DESCR), so a payment is recognised whatever its
amount, subscriber or id say; those are then compared.  The report only reads:
it settles nothing in the journal.  Every procedure, argument and column is
found by role or by the payment's lookup (catalogue/roles.py).

Each payment is one of:

- ``matched``: in the journal and in the billing, agreeing (both ids given);
- ``journal_only``: the journal has it (done, unknown or pending), the billing's list does not;
- ``billing_only``: in the billing without a marker this journal knows: another channel (listed, not judged);
- ``disagree``: the same marker, but the amount, the subscriber or the id differ, or it is there twice.

Per day, totals on both sides.  The journal's failed entries are not
payments (the billing refused them or never got them) and are left out.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..catalogue import Catalogue, Procedure
from ..catalogue.model import Lookup
from ..errors import BillingError, InvalidArgument
from ..journal.model import DONE, PENDING, UNKNOWN, Entry, load_rows
from .batch import Caller
from .published import DAY_COLUMNS, PAYMENT_COLUMNS

OPERATION_NAME = "GatewayReconcile"
MATCHED, JOURNAL_ONLY, BILLING_ONLY, DISAGREE = "matched", "journal_only", "billing_only", "disagree"
KINDS = (MATCHED, JOURNAL_ONLY, BILLING_ONLY, DISAGREE)
_MARKER = re.compile(r"\[gw:[0-9a-f]{16}\]")
# The journal is read from this long before the period: a payment journaled then with an OP_DATE inside it.
_EARLY = dt.timedelta(days=31)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Payment:
    kind: str
    key: str | None = None
    journal_state: str | None = None
    user_id: int | None = None
    op_date: dt.datetime | None = None
    journal_amount: decimal.Decimal | None = None
    billing_amount: decimal.Decimal | None = None
    journal_id: int | None = None
    billing_id: int | None = None
    billing_user_id: int | None = None
    descr: str | None = None
    note: str = ""


@dataclass
class DayTotal:
    day: dt.date
    journal_count: int = 0
    journal_sum: decimal.Decimal = decimal.Decimal("0.00")
    billing_count: int = 0
    billing_sum: decimal.Decimal = decimal.Decimal("0.00")
    other_sum: decimal.Decimal = decimal.Decimal("0.00")  # in the billing through other channels


@dataclass
class Report:
    start: dt.datetime
    end: dt.datetime
    user_id: int
    payments: list[Payment] = field(default_factory=list)
    days: list[DayTotal] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for payment in self.payments:
            counts[payment.kind] += 1
        return counts


@dataclass
class _Journaled:
    entry: Entry
    user_id: int | None
    op_date: dt.datetime
    amount: decimal.Decimal | None
    billing_id: int | None


@dataclass(frozen=True)
class _Names:
    """What the report calls and reads, by the catalogue's names."""

    payment: Procedure
    lookup: Lookup
    kind: dict[str, Any]  # the lookup's argument that lists only the payment's kind of operation
    record: str  # the payment reply's id column
    subscriber: Procedure  # the read of one subscriber
    subscriber_arg: str
    parent: str

    @classmethod
    def of(cls, catalogue: Catalogue) -> _Names:
        payment, read = catalogue.role("payment"), catalogue.role("subscriber")
        lookup, record = payment.lookup, payment.role_column("record")
        by_id, parent = read.argument("subscriber"), read.role_column("parent")
        assert lookup and record and by_id and parent  # the loader checked every role below is there
        kind, by_kind = payment.argument("kind"), catalogue[lookup.procedure].argument("kind")
        # incomes only: the payment posts one kind of operation, charges are the billing's own business
        kinds = {by_kind.name: kind.value} if kind is not None and by_kind is not None else {}
        return cls(payment, lookup, kinds, record.name, read, by_id.name, parent.name)


class Reconciliation:
    """Builds reports through a ``Gateway`` (its journal and its billing reads)."""

    def __init__(self, gateway: Any, max_days: int = 92) -> None:
        self.gateway, self.max_days = gateway, max_days
        self.names = _Names.of(gateway.catalogue)

    def run(self, start: dt.datetime, end: dt.datetime, user_id: int, caller: Caller,
            progress: Progress | None = None) -> Report:
        """The report for [start, end] (the billing's wall clock), a subscriber or a whole group."""
        start, end = self._wall(start), self._wall(end)
        if end < start:
            raise InvalidArgument(OPERATION_NAME, [("TO", "the period ends before it starts")])
        days = (end.date() - start.date()).days + 1
        if days > self.max_days:
            raise InvalidArgument(OPERATION_NAME, [("TO", f"at most {self.max_days} days per report ({days} "
                                                          "asked); split the period")])
        report = Report(start, end, user_id)
        journaled = self._journal(start, end)
        totals: dict[dt.date, DayTotal] = {}
        members: dict[int, bool] = {user_id: True}
        for number, (low, high) in enumerate(_days(start, end), 1):
            for row in self._billing(user_id, low, high, caller):
                members[row[self.names.lookup.subscriber_column]] = True
                report.payments.append(self._match(row, journaled, totals))
            if progress is not None:
                progress(number, days)
        for item in journaled.pop_all():
            if item.user_id is not None and self._within(item.user_id, user_id, members, caller):
                report.payments.append(_journal_only(item))
                _add_journal(totals, item)
        report.payments.sort(key=lambda p: (p.op_date or start, p.billing_id or 0, p.key or ""))
        report.days = [totals.get(day) or DayTotal(day) for day in _dates(start, end)]
        return report

    # -- the two sides -------------------------------------------------------------------------------
    def _journal(self, start: dt.datetime, end: dt.datetime) -> _Index:
        index = _Index()
        journal = self.gateway.journal
        if journal is None:
            return index
        zone = self.gateway.client.wire.zone
        since = (start.replace(tzinfo=zone) - _EARLY).timestamp()
        names = self.names
        for entry in journal.entries_of(names.payment.name, since):
            if entry.state not in (DONE, UNKNOWN, PENDING) or names.lookup.time not in entry.args:
                continue
            op_date = self._wall(dt.datetime.fromisoformat(entry.args[names.lookup.time]))
            if not start <= op_date <= end:
                continue
            rows = load_rows(entry.result) if entry.state == DONE else []
            billing_id = rows[0].get(names.record) if rows else None
            amount = decimal.Decimal(entry.amount) if entry.amount is not None else None
            index.add(entry.marker, _Journaled(entry, entry.subscriber, op_date, amount, billing_id))
        return index

    def _billing(self, user_id: int, low: dt.datetime, high: dt.datetime, caller: Caller) -> Iterator[dict[str, Any]]:
        lookup = self.names.lookup
        stream = self.gateway.stream(lookup.procedure, {lookup.by: user_id, lookup.time_from: low, lookup.time_to: high,
                                                        **self.names.kind},
                                     suid=caller.suid, credentials=caller.credentials, principal=caller.principal)
        try:
            for row in stream:
                yield row.values
        finally:
            stream.close("done")

    # -- matching ------------------------------------------------------------------------------------
    def _match(self, row: dict[str, Any], journaled: _Index, totals: dict[dt.date, DayTotal]) -> Payment:
        lookup = self.names.lookup
        op_date, amount, billing_id = row.get(lookup.time_column), row.get(lookup.amount_column), row.get(lookup.id_column)
        descr, user = row.get(lookup.evidence_column), row.get(lookup.subscriber_column)
        total = _day(totals, op_date.date() if op_date else None)
        if total is not None and amount is not None:
            total.billing_count += 1
            total.billing_sum += amount
        found = _MARKER.search(descr or "")
        item = journaled.take(found.group(0)) if found else None
        billing = dict(op_date=op_date, billing_amount=amount, billing_id=billing_id, billing_user_id=user,
                       descr=descr)
        if item is None:
            if total is not None and amount is not None:
                total.other_sum += amount
            repeated = found is not None and journaled.seen(found.group(0))
            if repeated:
                return Payment(DISAGREE, user_id=user, note="a second operation carries the same gateway marker: "
                               "posted twice?", **billing)
            note = "carries a gateway marker this journal does not know" if found else "not through the gateway"
            return Payment(BILLING_ONLY, user_id=user, note=note, **billing)
        _add_journal(totals, item)
        problems = []
        if item.amount is not None and amount is not None and item.amount != amount:
            problems.append(f"amount: journal {item.amount}, billing {amount}")
        if item.user_id is not None and item.user_id != user:
            problems.append(f"subscriber: journal {item.user_id}, billing {user}")
        if item.billing_id is not None and item.billing_id != billing_id:
            problems.append(f"id: journal {item.billing_id}, billing {billing_id}")
        note = "; ".join(problems) or ("" if item.entry.state == DONE else
                                       f"posted; the journal says {item.entry.state} until the key is sent again")
        return Payment(DISAGREE if problems else MATCHED, key=item.entry.key, journal_state=item.entry.state,
                       user_id=item.user_id, journal_amount=item.amount, journal_id=item.billing_id, note=note,
                       **billing)

    def _within(self, user: int, scope: int, members: dict[int, bool], caller: Caller) -> bool:
        """Whether ``user`` is ``scope`` or in its subtree, by the parents the subscriber read names (cached)."""
        names = self.names
        chain: list[int] = []
        current: int | None = user
        while current is not None and current not in members and len(chain) < 32:
            chain.append(current)
            try:
                rows = self.gateway.invoke(names.subscriber.name, {names.subscriber_arg: current}, suid=caller.suid,
                                           credentials=caller.credentials, principal=caller.principal,
                                           caller=caller.name)
            except BillingError:  # no such subscriber (any more): not in the scope
                rows = []
            current = rows[0].get(names.parent) if rows else None
        inside = current is not None and members.get(current, False)
        for visited in chain:
            members[visited] = inside
        return inside

    def _wall(self, value: dt.datetime) -> dt.datetime:
        """The billing's wall clock, whole seconds."""
        if value.tzinfo is not None:
            value = value.astimezone(self.gateway.client.wire.zone).replace(tzinfo=None)
        return value.replace(microsecond=0)


class _Index:
    """Journaled payments by marker; taken once matched, the rest are the journal's alone."""

    def __init__(self) -> None:
        self._by_marker: dict[str, _Journaled] = {}
        self._taken: set[str] = set()

    def add(self, marker: str, item: _Journaled) -> None:
        self._by_marker[marker] = item

    def take(self, marker: str) -> _Journaled | None:
        item = self._by_marker.pop(marker, None)
        if item is not None:
            self._taken.add(marker)
        return item

    def seen(self, marker: str) -> bool:
        return marker in self._taken

    def pop_all(self) -> list[_Journaled]:
        items, self._by_marker = list(self._by_marker.values()), {}
        return items


def _journal_only(item: _Journaled) -> Payment:
    state = item.entry.state
    note = (f"the journal has billing id {item.billing_id}; the billing does not list it" if state == DONE else
            f"the journal says {state}: the billing does not show it (yet)")
    return Payment(JOURNAL_ONLY, key=item.entry.key, journal_state=state, user_id=item.user_id,
                   op_date=item.op_date, journal_amount=item.amount, journal_id=item.billing_id, note=note)


def _add_journal(totals: dict[dt.date, DayTotal], item: _Journaled) -> None:
    total = _day(totals, item.op_date.date())
    if total is not None and item.amount is not None:
        total.journal_count += 1
        total.journal_sum += item.amount


def _day(totals: dict[dt.date, DayTotal], day: dt.date | None) -> DayTotal | None:
    if day is None:
        return None
    if day not in totals:
        totals[day] = DayTotal(day)
    return totals[day]


def _dates(start: dt.datetime, end: dt.datetime) -> Iterator[dt.date]:
    day = start.date()
    while day <= end.date():
        yield day
        day += dt.timedelta(days=1)


def _days(start: dt.datetime, end: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The period cut at midnights: one bounded billing read per day."""
    for day in _dates(start, end):
        low = max(start, dt.datetime.combine(day, dt.time.min))
        high = min(end, dt.datetime.combine(day, dt.time(23, 59, 59)))
        yield low, high


def payment_values(p: Payment) -> dict[str, Any]:
    return dict(zip(PAYMENT_COLUMNS, (p.kind, p.key, p.journal_state, p.user_id, p.op_date, p.journal_amount,
                                      p.billing_amount, p.journal_id, p.billing_id, p.billing_user_id, p.descr,
                                      p.note or None)))


def day_values(d: DayTotal) -> dict[str, Any]:
    return dict(zip(DAY_COLUMNS, (d.day, d.journal_count, d.journal_sum, d.billing_count, d.billing_sum,
                                  d.other_sum)))
