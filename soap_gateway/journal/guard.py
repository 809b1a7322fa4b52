"""The journaled write: claim the key, post at most once, reconcile a lost answer, tell the truth.

Every write is audited.  An idempotent one (catalogue ``idempotent = true``)
is recorded as pending before the billing is called and settled after it;
the same key and payload again gets the recorded answer, another payload a
conflict.  When the answer is lost the billing is searched for the posting
(``reconcile``).  An attempt that may have reached the billing is never sent
again on the strength of time passing: it stays unknown until the posting is
found, or an operator resolves it (docs/money-safety.md).
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import replace
from typing import Any, Callable, Mapping

from ..backend import BillingClient, PreparedCall, Row
from ..catalogue import Procedure
from ..config import JournalSettings, write_budget
from ..errors import (AuthenticationFailed, BillingError, BillingUnavailable, ConfigurationError, GatewayError,
                      IdempotencyConflict, InvalidArgument, JournalUnavailable, OutcomeUnknown, PermissionDenied,
                      SessionExpired)
from .calibration import Calibration
from .marker import marker_for, with_marker
from .model import (ALARM, DONE, FAILED, PENDING, UNKNOWN, AuditRecord, Decision, Entry, Subject, Who, dump_rows,
                    load_rows)
from .reconcile import STRATEGIES, Verdict
from .store import SqlJournal

log = logging.getLogger("soap_gateway.journal")
Send = Callable[[PreparedCall], list[Row]]


class WriteGuard:
    """Runs writes through the journal; one per process, shared by its threads."""

    def __init__(self, client: BillingClient, journal: SqlJournal, settings: JournalSettings) -> None:
        self.client, self.journal = client, journal
        per_call = client.settings.connect_timeout + client.settings.read_timeout
        self.lease = write_budget(client.settings, settings)
        self.wait = settings.wait_seconds or min(self.lease, per_call + 5)
        self.calibration = Calibration(client, journal)
        self.by_number = settings.evidence == "number"
        for proc in client.catalogue.values():
            if self.by_number and proc.reconcile == "posting" and not (proc.lookup and proc.lookup.number):
                raise ConfigurationError(f"journal.evidence = \"number\": the lookup of {proc.name} declares no "
                                         "number (a [<procedure>.lookup] number = {{ argument, column }})")

    def run(self, call: PreparedCall, send: Send, key: str | None, who: Who,
            decided: Callable[[str], None] | None = None) -> list[Row]:
        """The write's rows; ``send`` sends a prepared call as it is: ``call``, or ``call`` with the
        marker put in.  ``decided`` is told what the journal made of the key ("post", "replay",
        "reconcile"), and "post" again when a reconciliation ends in posting after all."""
        proc, args = call.proc, call.args
        if not proc.idempotent:
            if key:
                raise InvalidArgument(proc.name, [("IDEMPOTENCY_KEY", "this operation takes no idempotency key")])
            return self.audited(call, send, who)
        # Without a key the write still gets a marker, so a lost answer can be
        # reconciled in this request; only the caller's key makes retries safe.
        key = key or f"gw-{uuid.uuid4().hex}"
        marker = marker_for(self.journal.secret(), who.scope, key)
        by_number = self.by_number and proc.reconcile == "posting"
        if by_number and args.get(proc.lookup.number) is None:  # type: ignore[union-attr]
            raise InvalidArgument(proc.name, [(proc.lookup.number, "required: a lost payment is found by its "  # type: ignore[union-attr]
                                               "document number (journal.evidence = \"number\")")])
        marked = proc.marker and not by_number
        # the marked argument must fit before anything is journaled; the payload is the caller's, unmarked
        outgoing = self.client.amend(call, {proc.marker: with_marker(args.get(proc.marker), marker)}) if marked else call
        decision = self._claim(key, call.fingerprint, marker, _subject(proc, args), who)
        entry = decision.entry
        if decided is not None:
            decided(decision.action)
        if decision.action == "conflict":
            raise IdempotencyConflict(key=key)
        if decision.action == "replay":
            return load_rows(entry.result)
        if decision.action == "reconcile":
            return self._reconcile(proc, args, outgoing, send, decision, who, decided)
        return self._post(proc, args, outgoing, send, decision, who)

    def look_again(self, entry: Entry, who: Who) -> str:
        """The background resolver's turn on an unknown write: its state afterwards ("done" once found)."""
        proc = self.client.procedure(entry.procedure)
        token = self.journal.take_over(entry, who, self.lease, time.time())
        if token is None:
            return PENDING  # a request with its key is looking right now
        verdict = self._check(proc, entry)
        if verdict.kind == "found":
            self._found(proc, entry, token, who, verdict)
            return DONE
        if verdict.kind == "mismatch":
            self._alarm(entry, who, verdict.detail)
        self._finish(entry, token, UNKNOWN, who, reason=self._absence(proc, verdict))
        return UNKNOWN

    def _claim(self, key: str, payload: str, marker: str, subject: Subject, who: Who) -> Decision:
        deadline = time.monotonic() + self.wait
        while True:
            decision = self.journal.begin(key, payload, marker, subject, who, self.lease, time.time())
            if decision.action != "busy":
                log.info("journal key=%s action=%s attempts=%d", key, decision.action, decision.entry.attempts)
                return decision
            if time.monotonic() >= deadline:
                raise OutcomeUnknown(procedure=subject.procedure, detail="a request with this idempotency key is "
                                     "still in progress; retry later with the same key")
            time.sleep(random.uniform(0.05, 0.2))

    def _post(self, proc: Procedure, args: Mapping[str, Any], outgoing: PreparedCall, send: Send,
              decision: Decision, who: Who) -> list[Row]:
        entry, token = decision.entry, decision.token
        strategy = STRATEGIES.get(proc.reconcile)
        try:
            if strategy is not None and not entry.evidence:
                evidence = strategy.baseline(self.client, proc, args)
                if self.by_number and proc.reconcile == "posting":
                    evidence["by"] = "number"
                self.journal.set_evidence(entry.key, token, evidence)
                entry = _with(entry, evidence=evidence)
        except GatewayError as exc:
            self._finish(entry, token, FAILED, who, reason=f"not sent: {exc}")
            raise
        if not self.journal.sent(entry.key, token, time.time()):
            raise OutcomeUnknown(procedure=proc.name, detail="another request took this idempotency key over")
        entry = _with(entry, sent_at=time.time())
        try:
            try:
                rows = send(outgoing)
            except SessionExpired:
                rows = send(outgoing)  # refused, not run: the client has logged in again
        except GatewayError as exc:
            if _may_have_run(exc):
                return self._unknown(proc, entry, token, who, exc)
            self._finish(entry, token, FAILED, who, reason=str(exc))
            raise
        except BaseException:
            self._finish(entry, token, UNKNOWN, who, reason="internal error after sending")
            raise
        self._finish(entry, token, DONE, who, result=dump_rows(rows), detail=_posted(proc, rows))
        if strategy is not None:
            self.calibration.after_done(proc, entry, rows, lambda: self._check(proc, entry))
        return rows

    def _unknown(self, proc: Procedure, entry: Entry, token: str, who: Who, cause: GatewayError) -> list[Row]:
        """The answer was lost: look now; never post again in this request."""
        verdict = self._check(proc, entry)
        if verdict.kind == "found":
            return self._found(proc, entry, token, who, verdict)
        if verdict.kind == "mismatch":
            self._alarm(entry, who, verdict.detail)
        reason = self._absence(proc, verdict)
        self._finish(entry, token, UNKNOWN, who, reason=f"{cause}; {reason}")
        raise OutcomeUnknown(procedure=proc.name, detail=f"{reason}; retry later with the same key")

    def _reconcile(self, proc: Procedure, args: Mapping[str, Any], outgoing: PreparedCall, send: Send,
                   decision: Decision, who: Who, decided: Callable[[str], None] | None) -> list[Row]:
        """A key left unknown (or abandoned): find out before anything is posted."""
        entry, token = decision.entry, decision.token
        if entry.sent_at is None:  # journaled, never sent (the holder died first)
            if decided is not None:
                decided("post")
            return self._post(proc, args, outgoing, send, decision, who)
        verdict = self._check(proc, entry)
        if verdict.kind == "found":
            return self._found(proc, entry, token, who, verdict)
        if verdict.kind == "mismatch":
            self._alarm(entry, who, verdict.detail)
        # Not found is no proof: the billing may still be committing the attempt.
        reason = self._absence(proc, verdict)
        self._finish(entry, token, UNKNOWN, who, reason=reason)
        raise OutcomeUnknown(procedure=proc.name, detail=f"{reason}; nothing is posted again until it is found or an "
                             "operator resolves it; retry later with the same key")

    def _found(self, proc: Procedure, entry: Entry, token: str, who: Who, verdict: Verdict) -> list[Row]:
        if len(verdict.ids) > 1:
            self._alarm(entry, who, f"posted more than once: {verdict.detail}")
        self._finish(entry, token, DONE, who, result=dump_rows(verdict.rows), detail=f"reconciled: {verdict.detail}")
        return verdict.rows

    def _absence(self, proc: Procedure, verdict: Verdict) -> str:
        """What a verdict other than "found" says, in words an operator can act on."""
        if verdict.kind == "absent":
            trusted = self.calibration.trusted(proc)
            return f"{verdict.detail} (yet)" + ("" if trusted else
                                                 f"; the lookup of {proc.name} is not calibrated, so not finding "
                                                 "the posting means nothing")
        return verdict.detail

    def _alarm(self, entry: Entry, who: Who, detail: str) -> None:
        log.error("journal key=%s ALARM: %s", entry.key, detail)
        self._audit_quietly(AuditRecord(at=time.time(), procedure=entry.procedure, outcome=ALARM, key=entry.key,
                                        caller=who.caller, subscriber=entry.subscriber, amount=entry.amount,
                                        detail=detail, correlation_id=who.correlation_id,
                                        instance=self.journal.instance))

    def _check(self, proc: Procedure, entry: Entry) -> Verdict:
        strategy = STRATEGIES.get(proc.reconcile)
        if strategy is None:
            return Verdict("unknown", f"{proc.name} has no way to look a posting up in the billing")
        try:
            return strategy.check(self.client, proc, entry)
        except GatewayError as exc:
            return Verdict("unknown", f"the lookup failed: {exc}")

    def _finish(self, entry: Entry, token: str, state: str, who: Who, *, result: str | None = None,
                reason: str = "", detail: str = "") -> None:
        record = AuditRecord(at=time.time(), procedure=entry.procedure, outcome=state, key=entry.key,
                             caller=who.caller, subscriber=entry.subscriber, amount=entry.amount,
                             detail=detail or reason, correlation_id=who.correlation_id,
                             instance=self.journal.instance)
        try:
            self.journal.finish(entry, token, state, record, result=result, reason=reason)
        except GatewayError:
            # The billing's answer stands; the key stays pending and its lease
            # runs out, after which the next request reconciles it.
            log.exception("journal key=%s could not be settled as %s", entry.key, state)

    def audited(self, call: PreparedCall, send: Send, who: Who, note: str = "") -> list[Row]:
        """A write without idempotency: audited before and after, sent once; ``note`` starts each detail."""
        proc = call.proc
        subject = _subject(proc, call.args)

        def record(outcome: str, detail: str = "") -> AuditRecord:
            text = "; ".join(t for t in (note, detail) if t)
            return AuditRecord(at=time.time(), procedure=proc.name, outcome=outcome, caller=who.caller,
                               subscriber=subject.subscriber, amount=subject.amount, detail=text,
                               correlation_id=who.correlation_id, instance=self.journal.instance)

        self.journal.audit(record(PENDING))  # no audit, no write
        try:
            rows = send(call)
        except GatewayError as exc:
            self._audit_quietly(record(UNKNOWN if _may_have_run(exc) else FAILED, str(exc)))
            raise
        self._audit_quietly(record(DONE, _posted(proc, rows)))
        return rows

    def refused(self, proc: Procedure, who: Who, error: GatewayError, note: str = "") -> None:
        """A write without idempotency refused before it could be prepared (its arguments invalid):
        audited as failed, so an audit shows every attempt; nothing was sent."""
        detail = "; ".join(t for t in (note, f"refused before sending: {error}") if t)
        self._audit_quietly(AuditRecord(at=time.time(), procedure=proc.name, outcome=FAILED, caller=who.caller,
                                        detail=detail, correlation_id=who.correlation_id,
                                        instance=self.journal.instance))

    def _audit_quietly(self, record: AuditRecord) -> None:
        try:
            self.journal.audit(record)
        except GatewayError:
            log.exception("audit record for %s could not be written", record.procedure)


# Errors that prove the write did not take effect: refused by the billing
# (it ran the call and rolled back), or stopped before anything was sent.
_NOT_RUN = (BillingError, InvalidArgument, AuthenticationFailed, ConfigurationError, PermissionDenied,
            JournalUnavailable, IdempotencyConflict)


def _may_have_run(exc: GatewayError) -> bool:
    if isinstance(exc, BillingUnavailable):
        return bool(exc.sent)
    return not isinstance(exc, _NOT_RUN)


def _posted(proc: Procedure, rows: list[Row]) -> str:
    column = proc.role_column("record")
    ident = rows[0].get(column.name) if rows and column else None
    return f"billing id {ident}" if ident is not None else "posted"


def _subject(proc: Procedure, args: Mapping[str, Any]) -> Subject:
    """The audit's view of a write: subscriber, amount and the arguments that are not secret."""
    money = next((a.name for a in proc.params if a.type.kind == "decimal" and args.get(a.name) is not None), None)
    shown = {a.name: str(args[a.name]) for a in proc.params if not a.secret and args.get(a.name) is not None}
    whose = proc.argument("subscriber")
    subscriber = args.get(whose.name) if whose else None
    return Subject(proc.name, subscriber if isinstance(subscriber, int) else None,
                   str(args[money]) if money else None, shown)


def _with(entry: Entry, **changes: Any) -> Entry:
    return replace(entry, **changes)


__all__ = ["WriteGuard", "PENDING"]
