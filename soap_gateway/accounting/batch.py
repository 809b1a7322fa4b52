"""A bank statement posted in one call: each line is one payment through the core, journal and all.

The payment is the catalogue's procedure with roles = ["payment"]
(CLN_FIN_OPER_ADD in the built-in one); a line's fields become its arguments
by role and by its lookup (subscriber, time, amount, number) and marker.

There is no second money path here: every line goes through
``Gateway.invoke`` exactly as a single call with its idempotency key does
(validation, the caller's roles, the journal, reconciliation of a lost
answer), and its outcome is told line by line.  Lines are independent; lines
sharing a key run one after the other, so the second is answered from the
journal (or refused as a conflict), never posted alongside the first.

Bounded: at most ``max_lines`` lines, at most ``concurrency`` billing writes
at a time, and after ``deadline_seconds`` the lines not yet started are
answered ``not_attempted`` (resending the whole batch is safe: posted lines
come back ``already_posted`` with their billing id).  Results are produced in
order while later lines are still running, and only a window of lines is in
flight, so a long batch's reply can stream.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import decimal
import logging
import re
import time
import uuid
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from ..backend import Credentials
from ..catalogue import Procedure
from ..errors import GatewayError, InvalidArgument, OutcomeUnknown
from ..journal.model import AuditRecord
from .contracts import ContractResolver
from .published import CONTRACT, KEY, NUMBER, RESULT_COLUMNS, USER_ID

log = logging.getLogger("soap_gateway.accounting")

POSTED, ALREADY_POSTED, REFUSED, UNKNOWN, NOT_ATTEMPTED = (
    "posted", "already_posted", "refused", "unknown", "not_attempted")
STATUSES = (POSTED, ALREADY_POSTED, REFUSED, UNKNOWN, NOT_ATTEMPTED)
OPERATION_NAME = "GatewayPostPayments"
KEY_FORM = re.compile(r"\S{1,64}")


@dataclass(frozen=True)
class PaymentLine:
    """One line of a statement: the subscriber by ``user_id`` or ``contract`` (or both, which must agree)."""

    key: str
    op_date: dt.datetime | None
    summa: decimal.Decimal | str | None
    user_id: int | None = None
    contract: str | None = None
    descr: str | None = None
    number: str | None = None


@dataclass(frozen=True)
class LineResult:
    """What became of one line; ``error`` is the refusal (or the reason the outcome is unknown)."""

    index: int
    key: str
    status: str
    user_id: int | None = None
    billing_id: int | None = None
    error: GatewayError | None = None


@dataclass(frozen=True)
class Caller:
    """Who runs the batch, as a single call would be run: session, credentials, roles, audit name."""

    suid: str | None = None
    credentials: Credentials | None = None
    principal: Any = None
    name: str = "anonymous"
    correlation_id: str = ""


@dataclass(frozen=True)
class BatchLimits:
    max_lines: int = 1000
    concurrency: int = 4
    deadline_seconds: float = 60.0


@dataclass
class BatchSummary:
    """Counts by status, filled in while the results are consumed."""

    batch_id: str
    lines: int
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))

    def text(self) -> str:
        return f"batch {self.batch_id}: {self.lines} lines: " + ", ".join(
            f"{n} {status}" for status, n in self.counts.items() if n)


class PaymentBatch:
    """Posts statements through a ``Gateway``; one per process, each ``run`` independent."""

    def __init__(self, gateway: Any, limits: BatchLimits | None = None) -> None:
        self.gateway = gateway
        self.limits = limits or BatchLimits()

    def check(self, lines: Sequence[PaymentLine]) -> None:
        """Refuse a batch over the limit before anything runs."""
        if len(lines) > self.limits.max_lines:
            raise InvalidArgument(OPERATION_NAME, [("LINES", f"at most {self.limits.max_lines} lines per call "
                                                             f"({len(lines)} given); split the statement")])

    def run(self, lines: Sequence[PaymentLine], caller: Caller,
            summary: BatchSummary | None = None) -> Iterator[LineResult]:
        """The lines' results in order, produced as they are known; closing the iterator stops the batch.

        The limit and the batch's audit record are checked here, before the
        first result is asked for, so either refuses the batch as a whole.
        """
        self.check(lines)
        summary = summary or BatchSummary(new_batch_id(), len(lines))
        self._audit(caller, summary, "pending", f"batch {summary.batch_id}: {len(lines)} lines")
        return self._results(lines, caller, summary)

    def _results(self, lines: Sequence[PaymentLine], caller: Caller, summary: BatchSummary) -> Iterator[LineResult]:
        deadline = time.monotonic() + self.limits.deadline_seconds
        payment = self.gateway.catalogue.role("payment")
        resolver = ContractResolver(lambda name, args: self._read(name, args, caller), self.gateway.catalogue,
                                    payment.name)
        groups: OrderedDict[str, list[int]] = OrderedDict()  # lines sharing a key, in order of first use
        for index, line in enumerate(lines):
            groups.setdefault(line.key, []).append(index)
        group_of = {index: key for key, indexes in groups.items() for index in indexes}
        pending: list[str] = list(groups)[::-1]  # a stack: the next group to start is at the end
        running: dict[str, Future[list[LineResult]]] = {}
        finished: dict[int, LineResult] = {}
        window = self.limits.concurrency * 4
        pool = ThreadPoolExecutor(self.limits.concurrency, thread_name_prefix="batch")
        try:
            for index in range(len(lines)):
                # Groups start in order of their first line, so line index's group has started by now.
                while pending and len(running) < window:
                    key = pending.pop()
                    work = contextvars.copy_context()  # the request's correlation id, for the logs
                    running[key] = pool.submit(work.run, self._group, payment, lines, groups[key], caller,
                                               summary.batch_id, resolver, deadline)
                if index not in finished:
                    for result in running.pop(group_of[index]).result():
                        finished[result.index] = result
                result = finished.pop(index)
                summary.counts[result.status] += 1
                yield result
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # a group started runs to its end: its writes settle
            self._audit(caller, summary, "done", summary.text())

    def _group(self, payment: Procedure, lines: Sequence[PaymentLine], indexes: list[int], caller: Caller,
               batch_id: str, resolver: ContractResolver, deadline: float) -> list[LineResult]:
        results = []
        for index in indexes:
            line = lines[index]
            if time.monotonic() >= deadline:
                results.append(LineResult(index, line.key, NOT_ATTEMPTED, line.user_id))
            else:
                results.append(self._line(payment, index, line, caller, batch_id, resolver))
        return results

    def _line(self, payment: Procedure, index: int, line: PaymentLine, caller: Caller, batch_id: str,
              resolver: ContractResolver) -> LineResult:
        user = line.user_id
        try:
            if not KEY_FORM.fullmatch(line.key or ""):
                raise InvalidArgument(payment.name, [(KEY, "required: 1-64 characters without spaces")])
            if line.contract is not None and line.contract.strip():
                found = resolver.user_id(line.contract)
                if user is not None and user != found:
                    raise InvalidArgument(payment.name, [(USER_ID, f"contract {line.contract!r} is subscriber "
                                                                   f"{found}'s, not {user}'s")])
                user = found
            elif user is None:
                raise InvalidArgument(payment.name, [(USER_ID, f"give {USER_ID} or {CONTRACT}")])
            actions: list[str] = []
            rows = self.gateway.invoke(
                payment.name, payment_args(payment, line, user), suid=caller.suid,
                credentials=caller.credentials, principal=caller.principal, idempotency_key=line.key,
                caller=caller.name, correlation_id=f"{caller.correlation_id}/{batch_id}#{index + 1}",
                decided=actions.append)
        except OutcomeUnknown as exc:
            return LineResult(index, line.key, UNKNOWN, user, error=exc)
        except GatewayError as exc:
            return LineResult(index, line.key, REFUSED, user, error=exc)
        except Exception as exc:  # after the journal took the key, nothing can be said for sure
            log.exception("batch %s line %d failed unexpectedly", batch_id, index + 1)
            return LineResult(index, line.key, UNKNOWN, user, error=GatewayError(f"internal error: {type(exc).__name__}"))
        # the journal's last word: replayed or found by reconciliation is an earlier attempt's posting
        status = ALREADY_POSTED if actions and actions[-1] in ("replay", "reconcile") else POSTED
        record = payment.role_column("record")
        ident = rows[0].get(record.name) if rows and record is not None else None
        return LineResult(index, line.key, status, user, ident)

    def _read(self, name: str, args: dict[str, Any], caller: Caller) -> list[Any]:
        return list(self.gateway.invoke(name, args, suid=caller.suid, credentials=caller.credentials,
                                        principal=caller.principal, caller=caller.name))

    def _audit(self, caller: Caller, summary: BatchSummary, outcome: str, detail: str) -> None:
        journal = getattr(self.gateway, "journal", None)
        if journal is None:
            return
        record = AuditRecord(at=time.time(), procedure=OPERATION_NAME, outcome=outcome, key=summary.batch_id,
                             caller=caller.name, detail=detail, correlation_id=caller.correlation_id,
                             instance=journal.instance)
        try:
            journal.audit(record)
        except GatewayError:
            if outcome == "pending":
                raise  # no audit, no batch: as for a single write
            log.exception("the end of batch %s could not be audited", summary.batch_id)



def line_values(result: LineResult, batch_id: str, offset: int = 0) -> dict[str, Any]:
    """A line's result by the published names; a refusal by its stable code and the words a single call's
    fault carries (``[CODE] title: message``)."""
    error = result.error
    return dict(zip(RESULT_COLUMNS, (offset + result.index + 1, result.key, result.status, result.user_id,
                                     result.billing_id, error.code if error else None,
                                     f"[{error.code}] {error.title}: {error}" if error else None, batch_id)))


def payment_args(payment: Procedure, line: PaymentLine, user: int) -> dict[str, Any]:
    """A line as the payment's arguments, named by the catalogue (the loader checked every name is there)."""
    lookup = payment.lookup
    subscriber = payment.argument("subscriber")
    assert lookup is not None and subscriber is not None
    args = {subscriber.name: user, lookup.time: line.op_date, lookup.amount: line.summa, payment.marker: line.descr}
    if lookup.number:
        args[lookup.number] = line.number
    elif line.number is not None:
        raise InvalidArgument(payment.name, [(NUMBER, "this billing's payment takes no document number")])
    return {k: v for k, v in args.items() if v is not None}


def new_batch_id() -> str:
    return f"b-{uuid.uuid4().hex[:16]}"
