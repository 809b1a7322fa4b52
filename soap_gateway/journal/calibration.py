"""Calibration: a lookup is trusted to mean something by "not found" only after it found a known posting.

The catalogue's lookup of a write (which list, which columns) is a
declaration about a billing the vendor documents poorly: a column named
otherwise, a description stored shortened, and the lookup would find nothing,
forever.  So after the first payment the billing confirms, the gateway looks
it up once; found with the id the billing answered, the lookup is
calibrated, and the fact is kept in the journal for every instance.  Not
found, it stays uncalibrated (tried again at most every ``RETRY`` seconds)
and an alarm says why.  ``soap-gateway check --calibrate`` does the same on
demand with the last payment in the journal.

Only "posting" lookups are calibrated: a "state" lookup is circumstantial
and absence is never read from it.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from ..backend import BillingClient, Row
from ..catalogue import Procedure
from ..errors import GatewayError
from .model import DONE, Entry, load_rows
from .reconcile import STRATEGIES, Verdict
from .store import SqlJournal

log = logging.getLogger("soap_gateway.journal")
RETRY = 600.0


def fact_name(proc: Procedure) -> str:
    return f"calibration:{proc.name}"


class Calibration:
    """Per process: which procedures' lookups are calibrated (read from the journal, remembered once true)."""

    def __init__(self, client: BillingClient, journal: SqlJournal) -> None:
        self.client, self.journal = client, journal
        self._trusted: set[str] = set()
        self._tried: dict[str, float] = {}
        self._lock = threading.Lock()

    def trusted(self, proc: Procedure) -> bool:
        if proc.name in self._trusted:
            return True
        if proc.reconcile != "posting":
            return False
        try:
            fact = self.journal.fact(fact_name(proc))
        except GatewayError:
            return False
        if fact and fact.get("ok"):
            self._trusted.add(proc.name)
            return True
        return False

    def after_done(self, proc: Procedure, entry: Entry, rows: list[Row], check: Callable[[], Verdict]) -> None:
        """After a posting the billing confirmed: look it up, once, unless already calibrated."""
        if proc.reconcile != "posting" or self.trusted(proc):
            return
        with self._lock:
            if time.monotonic() - self._tried.get(proc.name, -RETRY) < RETRY:
                return
            self._tried[proc.name] = time.monotonic()
        self.judge(proc, entry, rows, check())

    def judge(self, proc: Procedure, entry: Entry, rows: list[Row], verdict: Verdict) -> tuple[bool, str]:
        """Record whether the lookup found the posting ``rows`` (the billing's answer) says exists."""
        record = proc.role_column("record")
        known = rows[0].get(record.name) if rows and record is not None else None
        ok = verdict.kind == "found" and (known is None or known in verdict.ids)
        what = f"the posting with {record.name} {known}" if record is not None and known is not None else "the posting"
        if ok:
            detail = f"the lookup found {what} of key {entry.key}: {verdict.detail}"
        else:
            detail = (f"the lookup did not find {what} of key {entry.key}, which the billing confirmed "
                      f"({verdict.kind}: {verdict.detail}); check {proc.name}'s lookup in the catalogue against "
                      "this billing (a column named otherwise, a description stored shortened)")
            log.error("journal ALARM: %s", detail)
        try:
            self.journal.record_fact(fact_name(proc), {"ok": ok, "at": time.time(), "detail": detail}, time.time())
        except GatewayError:
            log.exception("the calibration of %s could not be recorded", proc.name)
        if ok:
            self._trusted.add(proc.name)
        return ok, detail

    def now(self, proc: Procedure) -> tuple[bool, str]:
        """Calibrate on demand with the last payment of ``proc`` the journal holds as done."""
        strategy = STRATEGIES.get(proc.reconcile)
        if strategy is None or proc.reconcile != "posting":
            return False, f"{proc.name} has no posting lookup to calibrate"
        done = [e for e in self.journal.entries([DONE]) if e.procedure == proc.name and "subscriber" in e.evidence]
        if not done:
            return False, f"no payment of {proc.name} in the journal yet: post one, then run this again"
        entry = done[-1]
        try:
            verdict = strategy.check(self.client, proc, entry)
        except GatewayError as exc:
            return False, f"the lookup failed: {exc}"
        return self.judge(proc, entry, load_rows(entry.result), verdict)


def status(journal: SqlJournal, proc: Procedure) -> dict[str, Any] | None:
    """The recorded calibration of ``proc`` (None: never tried)."""
    return journal.fact(fact_name(proc))
