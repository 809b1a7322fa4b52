"""Reconciliation: after a lost answer, look in the billing for what the write did.

One strategy per name in ``catalogue.model.RECONCILERS``.  A verdict is
``found`` (the write took effect; the rows to answer with), ``absent`` (no
trace of it now: proof of "not posted" only once the attempt has settled,
which the caller judges) or ``unknown``.  Lookups are ordinary reads: they
retry and respect the circuit breaker.
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

WINDOW = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Verdict:
    kind: Literal["found", "absent", "unknown"]
    detail: str
    rows: list[Row] = field(default_factory=list)


class Reconciler(Protocol):
    def baseline(self, client: BillingClient, proc: Procedure, args: Mapping[str, Any]) -> dict[str, Any]:
        """Evidence taken before the first attempt (may be empty)."""

    def check(self, client: BillingClient, proc: Procedure, args: Mapping[str, Any], entry: Entry) -> Verdict:
        """Whether the write of ``entry`` took effect, judged from the billing now."""


class FinOperMarker:
    """CLN_FIN_OPER_ADD: the subscriber's operations around OP_DATE (and around the attempt) carrying the marker."""

    def baseline(self, client: BillingClient, proc: Procedure, args: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def check(self, client: BillingClient, proc: Procedure, args: Mapping[str, Any], entry: Entry) -> Verdict:
        user, op_date = args["USER_ID"], args["OP_DATE"]
        centres = [op_date]
        if entry.sent_at is not None:  # a billing that stamps its own time instead of OP_DATE
            sent = dt.datetime.fromtimestamp(entry.sent_at, client.wire.zone)
            if abs(_aware(op_date, client) - sent) > WINDOW:
                centres.append(sent)
        for centre in centres:
            rows = client.call("CLN_FIN_OPER", {"USER_ID": user, "DATEL": centre - WINDOW, "DATEH": centre + WINDOW})
            mine = [r for r in rows if carries(r.get("DESCR"), entry.marker) and r.get("USER_ID") in (None, user)]
            if mine:
                ids = [r.get("ID") for r in mine]
                detail = f"found in CLN_FIN_OPER as operation {ids[0]}"
                if len(mine) > 1:
                    detail += f"; WARNING: {len(mine)} operations carry this marker: {ids}"
                columns = {c.name for c in proc.columns}
                return Verdict("found", detail, [Row({k: v for k, v in mine[0].values.items() if k in columns})])
        return Verdict("absent", f"no operation of subscriber {user} carries {entry.marker}")


class PromiseState:
    """WEB_USER_PROMISE_PAY: the subscriber's PROMISE_PAY / PROMISE_DATE_END before and after.

    The billing keeps no marker of a promised payment that its API can read
    (HOST goes to its own audit), so this is circumstantial: a state changed
    to exactly this amount after the attempt counts as ours; an unchanged
    state as absent; anything else stays unknown.
    """

    def baseline(self, client: BillingClient, proc: Procedure, args: Mapping[str, Any]) -> dict[str, Any]:
        return _promise(client, args["USER_ID"])

    def check(self, client: BillingClient, proc: Procedure, args: Mapping[str, Any], entry: Entry) -> Verdict:
        before, now = entry.evidence, _promise(client, args["USER_ID"])
        if not before:
            return Verdict("unknown", "no promised-payment state was recorded before the attempt")
        if now == before:
            return Verdict("absent", "the subscriber's promised payment is unchanged")
        amount = decimal.Decimal(now["PROMISE_PAY"]) if now["PROMISE_PAY"] is not None else None
        if amount == args["PROMISE_PAY"] and now["PROMISE_DATE_END"] and (
                not before["PROMISE_DATE_END"] or now["PROMISE_DATE_END"] > before["PROMISE_DATE_END"]):
            return Verdict("found", f"PROMISE_PAY became {amount} until {now['PROMISE_DATE_END']} after the attempt")
        return Verdict("unknown", f"the promised payment changed to {now} in a way this attempt does not explain")


def _promise(client: BillingClient, user: int) -> dict[str, Any]:
    (row,) = client.call("CLN_USR_GET", {"SELECT_ID": user})[:1] or [Row({})]
    end = row.get("PROMISE_DATE_END")
    pay = row.get("PROMISE_PAY")
    return {"PROMISE_PAY": None if pay is None else str(pay),
            "PROMISE_DATE_END": None if end is None else end.isoformat()}


def _aware(value: dt.datetime, client: BillingClient) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=client.wire.zone)


STRATEGIES: dict[str, Reconciler] = {"fin_oper_marker": FinOperMarker(), "promise_state": PromiseState()}
