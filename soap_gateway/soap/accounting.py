"""The SOAP face of the gateway's own accounting operations (soap_gateway/accounting/).

Their names start with "Gateway": no billing procedure can take such a name
(the catalogue loader refuses it), so they never clash with one, and the
WSDL says they are the gateway's.  Batch lines are checked line by line by
the same validation as a single call, so the schema of a line only types its
fields (no length or digit facets): one bad line is that line's refusal, not
the whole statement's.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator, Mapping

from spyne import Array, ComplexModel, Date, DateTime, Decimal, Integer32, Unicode, rpc

from ..accounting.batch import (OPERATION_NAME, STATUSES, BatchLimits, BatchSummary, Caller, LineResult,
                                PaymentBatch, PaymentLine, line_values, new_batch_id)
from ..accounting.report import KINDS, Reconciliation, day_values, payment_values
from ..accounting.published import BILLING_ID, CONTRACT, DESCR, NUMBER, OP_DATE, SUMMA, USER_ID
from ..accounting.report import OPERATION_NAME as RECONCILE_NAME
from ..config import AccountingSettings, Settings
from ..errors import InvalidArgument
from ..operations import KEY_MAX_LEN, Reply
from ..web import CallContext
from .fastpath_models import Run
from .faults import to_fault
from .idempotency import KEY_ELEMENT
from .models import TNS, BillingSession
from .xmlguard import Limits

GATEWAY_NOTE = ("Операция шлюза, не процедура биллинга. / An operation of the gateway itself, not a billing "
                "procedure (docs/accounting.md).")


def _optional(cls: Any, doc: str, **facets: Any) -> Any:
    return cls(min_occurs=0, nillable=True, doc=doc, **facets) if facets else cls.customize(
        min_occurs=0, nillable=True, doc=doc)


def _present(cls: Any, doc: str) -> Any:
    return cls.customize(min_occurs=1, nillable=True, doc=doc)


class PaymentLineModel(ComplexModel):
    __namespace__ = TNS
    __type_name__ = "GatewayPaymentLine"
    _type_info = [
        (KEY_ELEMENT, Unicode(min_len=1, max_len=KEY_MAX_LEN, pattern=r"\S+", min_occurs=1, nillable=False,
                              doc="ключ идемпотентности строки (обязателен) / the line's idempotency key "
                                  "(required): the same key is never posted twice")),
        (USER_ID, _optional(Integer32, "id абонента, или CONTRACT_NUMBER / subscriber id, or CONTRACT_NUMBER")),
        (CONTRACT, _optional(Unicode, "номер договора (точное совпадение) / contract number, matched "
                                               "exactly; none or several subscribers refuse the line")),
        (OP_DATE, DateTime.customize(min_occurs=1, nillable=False, doc="дата операции / operation date")),
        (SUMMA, Decimal.customize(min_occurs=1, nillable=False, doc="сумма / amount")),
        (DESCR, _optional(Unicode, "описание / description (at most 233 characters)")),
        (NUMBER, _optional(Unicode, "номер документа / document number (at most 10 characters)")),
    ]


class PaymentResultModel(ComplexModel):
    __namespace__ = TNS
    __type_name__ = "GatewayPaymentResult"
    _type_info = [
        ("LINE", Integer32.customize(min_occurs=1, nillable=False, doc="номер строки, с 1 / line number from 1")),
        (KEY_ELEMENT, Unicode.customize(min_occurs=1, nillable=False, doc="ключ строки / the line's key")),
        ("STATUS", Unicode.customize(min_occurs=1, nillable=False, doc="статус / status: " + ", ".join(STATUSES))),
        (USER_ID, _present(Integer32, "id абонента / the subscriber the line went to")),
        (BILLING_ID, _present(Integer32, "id операции в биллинге / the billing's operation id (also for already_posted)")),
        ("FAULTCODE", _present(Unicode, "faultcode одиночного вызова / the faultcode a single call would give")),
        ("CODE", _present(Unicode, "код ошибки / the fault's detail code, e.g. BILLING_ERROR")),
        ("MESSAGE", _present(Unicode, "текст ошибки / the faultstring a single call would give")),
        ("BATCH_ID", Unicode.customize(min_occurs=1, nillable=False, doc="id пакета в журнале / the batch's "
                                                                        "id in the audit trail")),
    ]


PaymentLines = Array(PaymentLineModel, type_name="ArrayOfGatewayPaymentLine", member_name="Line")
PaymentResults = Array(PaymentResultModel, type_name="ArrayOfGatewayPaymentResult", member_name="Result")

POST_DOC = (
    "Проводит банковскую выписку одним вызовом: каждая строка — как отдельный CLN_FIN_OPER_ADD с ключом "
    "идемпотентности (журнал, проверка, права); строки независимы; ответ — по строке на каждую, в том же "
    "порядке. Повтор всего пакета безопасен: проведённые строки вернутся как already_posted с ID.\n"
    "Posts a bank statement in one call: each line is one CLN_FIN_OPER_ADD with its idempotency key (the "
    "journal, validation and roles of a single call); lines are independent; one result per line, in order. "
    "Statuses: posted, already_posted (with the original ID), refused (FAULTCODE/CODE/MESSAGE as a single "
    "call), unknown (retry the batch later), not_attempted (the deadline passed; resend the batch).\n"
    + GATEWAY_NOTE)


def result_values(result: LineResult, batch_id: str, correlation_id: str | None = None) -> dict[str, Any]:
    """A line's published result; a refusal also by the faultcode a single call's fault would carry."""
    values = line_values(result, batch_id)
    if result.error is not None:
        fault = to_fault(result.error, correlation_id)
        values.update(FAULTCODE=fault.faultcode, MESSAGE=fault.faultstring)
    return values


def _line(values: Mapping[str, Any]) -> PaymentLine:
    return PaymentLine(key=values[KEY_ELEMENT], user_id=values.get(USER_ID), contract=values.get(CONTRACT),
                       op_date=values.get(OP_DATE), summa=values.get(SUMMA), descr=values.get(DESCR),
                       number=values.get(NUMBER))


def caller_of(call: CallContext, suid: str | None) -> Caller:
    """Who calls, as a single operation would see it: own billing session, credentials, roles."""
    return Caller(suid=suid, credentials=call.credentials, principal=call.principal, name=call.caller,
                  correlation_id=call.correlation_id)


def _suid(ctx: Any) -> str | None:
    header = ctx.in_header
    return str(header.SUID) if header is not None and header.SUID is not None else None


def _values(model: Any) -> dict[str, Any] | None:
    """A line Spyne read, as the mapping the fast path reads (None stays None: a nil line)."""
    if model is None:
        return None
    return {name: getattr(model, name) for name in model.get_flat_type_info(type(model))}


def post_payments_run(batch: PaymentBatch | None) -> Run:
    def run(call: CallContext, args: dict[str, Any], suid: str | None) -> Reply:
        assert batch is not None
        caller = caller_of(call, suid)
        lines = args.get("LINES") or []
        nil = [str(number) for number, values in enumerate(lines, 1) if values is None]
        if nil:  # a line with nothing in it, not even the key its result would be reported by
            raise InvalidArgument(OPERATION_NAME, [("LINES", f"line {', '.join(nil)} is nil")])
        parsed = [_line(values) for values in lines]
        summary = BatchSummary(new_batch_id(), len(parsed))
        results = batch.run(parsed, caller, summary)  # refuses an oversized batch here, as a fault

        def rows() -> Iterator[dict[str, Any]]:
            for result in results:
                yield result_values(result, summary.batch_id, caller.correlation_id)

        def close(outcome: str) -> None:
            results.close()  # type: ignore[attr-defined]

        return Reply(rows=rows(), complete=False, close=close)

    return run


def post_payments_operation(run: Run) -> dict[str, Any]:
    """``GatewayPostPayments`` for Spyne, keyed by its name."""

    def operation(ctx: Any, lines: list[Any] | None) -> Reply:
        return run(ctx.udc, {"LINES": [_values(model) for model in lines or ()]}, _suid(ctx))

    operation.__name__ = OPERATION_NAME
    operation.__doc__ = POST_DOC
    method = rpc(PaymentLines.customize(min_occurs=1, nillable=False, doc="строки выписки / statement lines"),
                 _args=["LINES"], _returns=PaymentResults.customize(min_occurs=1, nillable=False),
                 _in_header=(BillingSession,), _wsdl_part_name="parameters",
                 _out_variable_name=f"{OPERATION_NAME}Result")(operation)
    return {OPERATION_NAME: method}


def accounting_runs(gateway: Any, settings: AccountingSettings) -> dict[str, Run]:
    """The gateway's own operations by name (``gateway`` None: the WSDL only, never run)."""
    limits = BatchLimits(settings.max_lines, settings.concurrency, settings.deadline_seconds)
    return {OPERATION_NAME: post_payments_run(PaymentBatch(gateway, limits) if gateway is not None else None),
            RECONCILE_NAME: reconcile_run(Reconciliation(gateway, settings.max_report_days)
                                          if gateway is not None else None)}


def accounting_operations(runs: dict[str, Run]) -> dict[str, Any]:
    """The Spyne methods of those operations, for the service class."""
    return {**post_payments_operation(runs[OPERATION_NAME]), **reconcile_operation(runs[RECONCILE_NAME])}


def guard_allowances(settings: Settings, limits: Limits) -> dict[str, Limits]:
    """The request guard's room for a full batch: a line is at most 8 elements, and a client may send
    each optional field nil (an attribute, and a namespace declaration with it)."""
    lines = settings.accounting.max_lines
    return {OPERATION_NAME: dataclasses.replace(limits, max_elements=limits.max_elements + 8 * lines,
                                                max_attributes_total=limits.max_attributes_total + 16 * lines)}


class ReconcilePaymentModel(ComplexModel):
    __namespace__ = TNS
    __type_name__ = "GatewayReconcilePayment"
    _type_info = [
        ("KIND", Unicode.customize(min_occurs=1, nillable=False, doc="вид / kind: " + ", ".join(KINDS))),
        (KEY_ELEMENT, _present(Unicode, "ключ в журнале / the journal's key")),
        ("JOURNAL_STATE", _present(Unicode, "состояние в журнале / the journal's state: done, unknown, pending")),
        (USER_ID, _present(Integer32, "абонент по журналу / the subscriber (the journal's, else the billing's)")),
        (OP_DATE, _present(DateTime, "дата операции / operation date")),
        ("JOURNAL_SUMMA", _present(Decimal(total_digits=15, fraction_digits=2), "сумма по журналу / amount "
                                                                              "in the journal")),
        ("BILLING_SUMMA", _present(Decimal(total_digits=15, fraction_digits=2), "сумма в биллинге / amount "
                                                                              "in the billing")),
        ("JOURNAL_ID", _present(Integer32, "ID операции по журналу / the billing id the journal recorded")),
        ("BILLING_ID", _present(Integer32, "ID операции в биллинге / the operation's id in the billing")),
        ("BILLING_USER_ID", _present(Integer32, "абонент в биллинге / the subscriber in the billing")),
        (DESCR, _present(Unicode, "описание в биллинге / the billing's description")),
        ("NOTE", _present(Unicode, "пояснение / what disagrees, or why it is listed")),
    ]


class ReconcileDayModel(ComplexModel):
    __namespace__ = TNS
    __type_name__ = "GatewayReconcileDay"
    _type_info = [
        ("DAY", Date.customize(min_occurs=1, nillable=False, doc="день / day")),
        ("JOURNAL_COUNT", Integer32.customize(min_occurs=1, nillable=False, doc="платежей по журналу")),
        ("JOURNAL_SUMMA", Decimal(total_digits=15, fraction_digits=2, min_occurs=1, nillable=False,
                                  doc="итог по журналу / the journal's total")),
        ("BILLING_COUNT", Integer32.customize(min_occurs=1, nillable=False, doc="платежей в биллинге")),
        ("BILLING_SUMMA", Decimal(total_digits=15, fraction_digits=2, min_occurs=1, nillable=False,
                                  doc="итог в биллинге / the billing's total (all channels)")),
        ("OTHER_SUMMA", Decimal(total_digits=15, fraction_digits=2, min_occurs=1, nillable=False,
                                doc="из них не через шлюз / of which through other channels")),
    ]


class ReconcileReportModel(ComplexModel):
    __namespace__ = TNS
    __type_name__ = "GatewayReconcileReport"
    _type_info = [
        ("PAYMENTS", Array(ReconcilePaymentModel, type_name="ArrayOfGatewayReconcilePayment",
                           member_name="Payment").customize(min_occurs=1, nillable=False)),
        ("DAYS", Array(ReconcileDayModel, type_name="ArrayOfGatewayReconcileDay",
                       member_name="Day").customize(min_occurs=1, nillable=False)),
    ]


RECONCILE_DOC = (
    "Сверка за период: платежи журнала шлюза против операций биллинга (CLN_FIN_OPER, приход) по абоненту "
    "или группе; по каждому платежу — matched, journal_only, billing_only (другие каналы), disagree; итоги "
    "по дням с обеих сторон.\n"
    "Reconciles a period for a subscriber or a group (USER_ID): each payment in the gateway's journal and in "
    "the billing (incomes), as matched, journal_only, billing_only (other channels: listed, not judged) or "
    "disagree; per-day totals on both sides. FROM and TO in the billing's wall clock, TO inclusive.\n"
    + GATEWAY_NOTE)


def reconcile_run(reconciliation: Reconciliation | None) -> Run:
    def run(call: CallContext, args: dict[str, Any], suid: str | None) -> Reply:
        assert reconciliation is not None
        report = reconciliation.run(args["FROM"], args["TO"], args[USER_ID], caller_of(call, suid))
        return Reply(value={"PAYMENTS": [payment_values(p) for p in report.payments],
                            "DAYS": [day_values(d) for d in report.days]})

    return run


def reconcile_operation(run: Run) -> dict[str, Any]:
    """``GatewayReconcile`` for Spyne, keyed by its name."""

    def operation(ctx: Any, start: Any, end: Any, user_id: int) -> Reply:
        return run(ctx.udc, {"FROM": start, "TO": end, USER_ID: user_id}, _suid(ctx))

    operation.__name__ = RECONCILE_NAME
    operation.__doc__ = RECONCILE_DOC
    method = rpc(DateTime(min_occurs=1, nillable=False, doc="начало периода / from"),
                 DateTime(min_occurs=1, nillable=False, doc="конец периода, включительно / to, inclusive"),
                 Integer32(min_occurs=1, nillable=False, doc="абонент или группа / subscriber or group id"),
                 _args=["FROM", "TO", USER_ID], _returns=ReconcileReportModel.customize(min_occurs=1, nillable=False),
                 _in_header=(BillingSession,), _wsdl_part_name="parameters",
                 _out_variable_name=f"{RECONCILE_NAME}Result")(operation)
    return {RECONCILE_NAME: method}
