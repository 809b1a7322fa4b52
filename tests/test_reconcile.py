"""GatewayReconcile and `soap-gateway reconcile` end to end: a period with every kind of payment.

Payments through the gateway (single calls and a batch, one answer lost after
the commit, one slower than the read timeout, one that never committed),
payments posted directly in the billing, one changed in the billing
afterwards, and payments of subscribers outside the group; the report must
list each for what it is, and the command's CSV must say what the operation says.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import uuid
from decimal import Decimal
from typing import Any, Iterator

import pytest
import zeep

from batch import accounting_emulator, accounting_gateway, line, post
from batch import logging_restored  # noqa: F401  (a fixture, used by pytestmark)
from money import journal_path, write_config
from soap_gateway.cli import main

D1, D2 = dt.date(2026, 5, 11), dt.date(2026, 5, 12)
GROUP = 5  # the emulator's bulk subscribers 1001.. are in it; 101.. are not


def at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour))


pytestmark = pytest.mark.usefixtures("logging_restored")


@pytest.fixture(scope="module")
def billing(pki: Any) -> Iterator[Any]:
    with accounting_emulator(pki) as emu:
        yield emu


@pytest.fixture(scope="module")
def period(gateway_settings: Any, billing: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The gateway, the period's payments made through it and around it, and what each became."""
    journal = journal_path(tmp_path_factory.mktemp("reconcile"))
    with accounting_gateway(gateway_settings, billing, journal, read_timeout=1.0, connect_timeout=1.0,
                            breaker_failures=1000) as gw:
        made: dict[str, Any] = {}

        def pay(name: str, user: int, when: dt.datetime, amount: str) -> None:
            made[name] = {"key": str(uuid.uuid4()), "user": user, "amount": Decimal(amount)}
            try:
                made[name]["id"] = gw.service.CLN_FIN_OPER_ADD(
                    USER_ID=user, OP_DATE=when, SUMMA=Decimal(amount), DESCR=f"Оплата {name}",
                    IDEMPOTENCY_KEY=made[name]["key"]).ID
            except zeep.exceptions.Fault as fault:
                made[name]["fault"] = fault.message

        pay("plain", 1001, at(D1, 10), "100.00")
        billing.add_fault("drop_after_commit", proc="CLN_FIN_OPER_ADD", count=1)
        pay("dropped", 1003, at(D1, 11), "300.00")
        billing.add_fault("latency", proc="CLN_FIN_OPER_ADD", count=1, ms=1500)
        pay("slow", 1004, at(D1, 12), "400.00")
        billing.add_fault("hang_no_commit", proc="CLN_FIN_OPER_ADD", count=1, ms=1500)
        pay("lost", 1005, at(D2, 13), "500.00")
        pay("altered", 1006, at(D2, 14), "600.00")
        billing.store.conn.execute("UPDATE fin_opers SET SUMMA = 60100 WHERE ID = ?", (made["altered"]["id"],))
        (batched,) = post(gw, [line(str(uuid.uuid4()), user=1002, summa="200.00", when=at(D2, 9))])
        made["batched"] = {"key": batched.IDEMPOTENCY_KEY, "user": 1002, "amount": Decimal("200.00"),
                           "id": batched.ID}
        # outside the group: neither may appear
        pay("elsewhere", 101, at(D1, 10), "50.00")
        billing.add_fault("hang_no_commit", proc="CLN_FIN_OPER_ADD", count=1, ms=1500)
        pay("elsewhere-lost", 102, at(D1, 10), "60.00")
        # another channel: the billing's own cash desk
        (direct,) = gw.gateway.client.call("CLN_FIN_OPER_ADD", {"USER_ID": 1007, "OP_DATE": at(D1, 15),
                                                                "SUMMA": Decimal("700.00"), "DESCR": "Касса"})
        made["direct"] = {"id": direct.get("ID"), "user": 1007}
        billing.clear_faults()
        yield gw, made, journal


def test_the_report_lists_each_payment_for_what_it_is(period: Any) -> None:
    gw, made, _ = period
    report = gw.service.GatewayReconcile(FROM=at(D1, 0), TO=dt.datetime.combine(D2, dt.time(23, 59, 59)),
                                         USER_ID=GROUP)
    by_key = {p.IDEMPOTENCY_KEY: p for p in report.PAYMENTS.Payment if p.IDEMPOTENCY_KEY}
    for name in ("plain", "dropped", "batched"):
        payment = by_key[made[name]["key"]]
        assert (payment.KIND, payment.JOURNAL_STATE) == ("matched", "done"), payment
        assert payment.JOURNAL_ID == payment.BILLING_ID == made[name]["id"]
        assert payment.JOURNAL_SUMMA == payment.BILLING_SUMMA == made[name]["amount"]
    slow = by_key[made["slow"]["key"]]  # its answer was late; the billing has it, the journal may still doubt
    assert slow.KIND == "matched" and slow.BILLING_ID is not None and slow.JOURNAL_STATE in ("done", "unknown")
    lost = by_key[made["lost"]["key"]]
    assert "fault" in made["lost"] and (lost.KIND, lost.JOURNAL_STATE, lost.BILLING_ID) == ("journal_only", "unknown",
                                                                                           None)
    altered = by_key[made["altered"]["key"]]
    assert altered.KIND == "disagree" and (altered.JOURNAL_SUMMA, altered.BILLING_SUMMA) == (Decimal("600.00"),
                                                                                             Decimal("601.00"))
    assert "amount" in altered.NOTE
    others = [p for p in report.PAYMENTS.Payment if p.KIND == "billing_only"]
    assert [(p.BILLING_ID, p.USER_ID, p.BILLING_SUMMA) for p in others] == [(made["direct"]["id"], 1007,
                                                                             Decimal("700.00"))]
    assert others[0].IDEMPOTENCY_KEY is None and others[0].DESCR == "Касса"
    assert {made[n]["key"] for n in ("elsewhere", "elsewhere-lost")}.isdisjoint(by_key)
    assert len(report.PAYMENTS.Payment) == 7
    days = {d.DAY: d for d in report.DAYS.Day}
    assert list(days) == [D1, D2]
    assert (days[D1].JOURNAL_COUNT, days[D1].JOURNAL_SUMMA) == (3, Decimal("800.00"))
    assert (days[D1].BILLING_COUNT, days[D1].BILLING_SUMMA, days[D1].OTHER_SUMMA) == (4, Decimal("1500.00"),
                                                                                      Decimal("700.00"))
    assert (days[D2].JOURNAL_COUNT, days[D2].JOURNAL_SUMMA) == (3, Decimal("1300.00"))
    assert (days[D2].BILLING_COUNT, days[D2].BILLING_SUMMA, days[D2].OTHER_SUMMA) == (2, Decimal("801.00"),
                                                                                      Decimal("0.00"))


def test_one_subscriber_and_the_limits(period: Any) -> None:
    gw, made, _ = period
    report = gw.service.GatewayReconcile(FROM=at(D1, 0), TO=at(D1, 23), USER_ID=1001)
    (payment,) = report.PAYMENTS.Payment
    assert payment.IDEMPOTENCY_KEY == made["plain"]["key"] and payment.KIND == "matched"
    with pytest.raises(zeep.exceptions.Fault, match="at most 92 days"):
        gw.service.GatewayReconcile(FROM=at(D1, 0), TO=at(D1 + dt.timedelta(days=100), 0), USER_ID=1001)


def test_the_command_says_what_the_operation_says(period: Any, gateway_settings: Any, billing: Any,
                                                  tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    gw, _, journal = period
    settings = dataclasses.replace(gateway_settings, billing=dataclasses.replace(gateway_settings.billing,
                                                                                 url=billing.url))
    config = write_config(tmp_path / "gateway.toml", settings, listen="127.0.0.1:0",
                          journal={"path": journal.path})
    period_args = ["--config", str(config), "--from", D1.isoformat(), "--to", D2.isoformat(), "--group", str(GROUP)]
    assert main(["reconcile", *period_args, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    report = gw.service.GatewayReconcile(FROM=at(D1, 0), TO=dt.datetime.combine(D2, dt.time(23, 59, 59)),
                                         USER_ID=GROUP)
    assert rows == [{name: _text(getattr(p, name)) for name in rows[0]} for p in report.PAYMENTS.Payment]
    assert main(["reconcile", *period_args, "--format", "csv", "--days"]) == 0
    days = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert days == [{name: _text(getattr(d, name)) for name in days[0]} for d in report.DAYS.Day]
    assert main(["reconcile", *period_args]) == 0
    table = capsys.readouterr().out
    assert "matched: 4, journal_only: 1, billing_only: 1, disagree: 1" in table


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)
