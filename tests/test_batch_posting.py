"""GatewayPostPayments end to end: zeep -> gateway -> billing, a 1000-line statement with every kind of line.

Each line's answer is checked against the billing's own state (the
operations carrying the line's marker), never against the gateway's word.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, Iterator

import pytest
import requests

from batch import (BULK, SHARED_CONTRACT, accounting_emulator, accounting_gateway, contract_of, line,
                   operations_by_marker, post, posted_for)
from money import calls, commits, detail_code, fault_of, journal_path
from soap_gateway.config import AccountingSettings


@pytest.fixture(scope="module")
def billing(pki: Any) -> Iterator[Any]:  # this module's own billing: bulk subscribers, one shared contract
    with accounting_emulator(pki) as emu:
        yield emu


@pytest.fixture(autouse=True)
def _no_faults_left(billing: Any) -> Iterator[None]:
    yield
    billing.clear_faults()


@pytest.fixture(scope="module")
def gw(gateway_settings: Any, billing: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with accounting_gateway(gateway_settings, billing, journal_path(tmp_path_factory.mktemp("batch")),
                            read_timeout=1.0, connect_timeout=1.0, breaker_failures=1000) as running:
        yield running


def key(tag: str = "") -> str:
    return f"{tag}{uuid.uuid4()}"


def statement(earlier: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """1000 lines and what each should become: posted, already_posted or a refusal's detail code.

    The first 40 lines are plain payments: the billing's injected faults hit its first requests.
    """
    lines: list[dict[str, Any]] = []
    expected: list[str] = []
    duplicate = line(key("dup-"), user=1003, summa="42.00")
    conflicting = key("conflict-")

    def add(sent: dict[str, Any], outcome: str) -> None:
        lines.append(sent)
        expected.append(outcome)

    for i in range(1000):
        kind = i % 20 if i >= 40 else 0
        user = BULK[i % 28]  # not the two sharing a contract
        amount = f"{100 + i}.{i % 100:02d}"
        if kind == 1:
            add(line(key(), contract=contract_of(user), summa=amount), "posted")
        elif kind == 2:
            add(line(key(), contract=f"НЕТ-{i}", summa=amount), "VALIDATION_ERROR")
        elif kind == 3:  # two subscribers share it / only part of ten contract numbers
            add(line(key(), contract=SHARED_CONTRACT if i % 40 == 3 else "Н-2025/00001", summa=amount),
                "VALIDATION_ERROR")
        elif kind == 4:
            add(line(key(), user=user, summa="12.345" if i % 40 == 4 else "1" + "0" * 20), "VALIDATION_ERROR")
        elif kind == 5:
            add(line(key(), user=user, summa="-5.00" if i % 40 == 5 else "0.00"), "VALIDATION_ERROR")
        elif kind == 6 and i < 240:
            add(dict(duplicate), "posted" if i == 46 else "already_posted")
        elif kind == 7 and i < 140:
            add(line(conflicting, user=1004, summa="10.00" if i < 100 else "11.00"),
                "posted" if i == 47 else ("already_posted" if i < 100 else "IDEMPOTENCY_CONFLICT"))
        elif f"e{i}" in earlier:
            add(dict(earlier[f"e{i}"]), "already_posted")
        elif kind == 9 and i < 100:
            add(line(key(), user=999999, summa=amount), "NOT_FOUND")  # an unknown subscriber: Client.NotFound
        else:
            add(line(key(), user=user, summa=amount), "posted")
    return lines, expected


def outcome(result: Any) -> str:
    return result.STATUS if result.STATUS in ("posted", "already_posted") else result.CODE


def test_a_1000_line_statement_tells_every_line_the_billings_truth(gw: Any, billing: Any) -> None:
    earlier = {f"e{i}": line(key("earlier-"), user=1010, summa=f"7.{i % 100:02d}") for i in range(48, 160, 20)}
    earlier_ids = {}
    for sent in earlier.values():  # posted one by one the day before
        single = {k: v for k, v in sent.items() if k != "CONTRACT_NUMBER"}
        earlier_ids[sent["IDEMPOTENCY_KEY"]] = gw.service.CLN_FIN_OPER_ADD(**single).ID
    lines, expected = statement(earlier)
    billing.add_fault("drop_after_commit", proc="CLN_FIN_OPER_ADD", count=3)  # answers lost after the commit
    billing.add_fault("latency", proc="CLN_FIN_OPER_ADD", count=40, ms=200)  # a slow billing
    sent_before, committed = calls(billing, "CLN_FIN_OPER_ADD"), commits(billing)

    results = post(gw, lines)

    assert [r.LINE for r in results] == list(range(1, 1001))
    assert [r.IDEMPOTENCY_KEY for r in results] == [sent["IDEMPOTENCY_KEY"] for sent in lines]
    assert [outcome(r) for r in results] == expected
    found = operations_by_marker(billing)
    for result, sent in zip(results, lines):
        ops = posted_for(found, gw.journal, sent["IDEMPOTENCY_KEY"])
        if result.STATUS in ("posted", "already_posted"):
            (op,) = ops  # in the billing exactly once, with the id and subscriber the line was told
            assert result.ID == op["ID"] and result.USER_ID == op["USER_ID"], result
            assert result.FAULTCODE is None and result.CODE is None and result.MESSAGE is None
        else:
            assert result.STATUS == "refused" and result.ID is None, result
            assert result.MESSAGE.startswith(f"[{result.CODE}] ") and result.FAULTCODE.startswith(
                ("Client.", "Server."))
            if result.CODE == "IDEMPOTENCY_CONFLICT":  # the key's first payload stands, posted once
                (op,) = ops
                assert op["SUMMA"] == 1000 and op["USER_ID"] == 1004
            else:
                assert not ops, result
        if sent["CONTRACT_NUMBER"] and result.STATUS == "posted":  # resolved exactly, not by substring
            assert contract_of(result.USER_ID) == sent["CONTRACT_NUMBER"]
    for result in results:
        if result.IDEMPOTENCY_KEY in earlier_ids:
            assert result.ID == earlier_ids[result.IDEMPOTENCY_KEY]
    assert len({r.BATCH_ID for r in results}) == 1
    posted = sum(1 for r in results if r.STATUS == "posted")
    assert commits(billing) - committed == posted  # one commit per posted line, nothing else
    assert calls(billing, "CLN_FIN_OPER_ADD") - sent_before == posted + expected.count("NOT_FOUND")
    single = {"USER_ID": 1001, "OP_DATE": lines[0]["OP_DATE"], "SUMMA": Decimal("-5.00"), "DESCR": "x"}
    refusal = fault_of(lambda: gw.service.CLN_FIN_OPER_ADD(**single, IDEMPOTENCY_KEY=key()))
    negative = next(r for r, sent in zip(results, lines) if sent["SUMMA"] == "-5.00")
    assert (negative.FAULTCODE, negative.CODE) == (refusal.code.split(":")[-1], detail_code(refusal))
    # as a single call says it (whose schema already refuses what a line's own check refuses here)
    assert negative.MESSAGE.split(":")[0] == refusal.message.split(":")[0] == "[VALIDATION_ERROR] Неверные аргументы"
    assert "SUMMA" in negative.MESSAGE and "SUMMA" in refusal.message

    # The accountant sends the same statement again: nothing is posted, the original ids come back.
    committed = commits(billing)
    again = post(gw, lines)
    assert commits(billing) == committed
    for first, second in zip(results, again):
        if first.STATUS in ("posted", "already_posted"):
            assert second.STATUS == "already_posted" and second.ID == first.ID and second.USER_ID == first.USER_ID
        else:
            assert second.STATUS == "refused" and second.CODE == first.CODE
    assert again[0].BATCH_ID != results[0].BATCH_ID
    assert operations_by_marker(billing) == found

    # The batch is in the audit trail under its own id.
    records = gw.journal.records(key=results[0].BATCH_ID)
    assert [r.outcome for r in records] == ["pending", "done"]
    assert records[1].procedure == "GatewayPostPayments" and "1000 lines" in records[1].detail


def test_an_unknown_line_stays_unknown_on_a_resend_and_is_never_posted_blind(gw: Any, billing: Any) -> None:
    lines = [line(key(), user=1011, summa="3.00"), line(key(), user=1012, summa="4.00")]
    billing.add_fault("hang_no_commit", proc="CLN_FIN_OPER_ADD", count=1, ms=2500)
    first = post(gw, lines)  # the two lines run side by side: either may be the one that hangs
    assert sorted(r.STATUS for r in first) == ["posted", "unknown"]
    sent = calls(billing, "CLN_FIN_OPER_ADD")
    second = post(gw, lines)
    for before, after in zip(first, second):
        if before.STATUS == "posted":
            assert after.STATUS == "already_posted" and after.ID == before.ID
        else:  # the billing does not show it, which proves nothing: an operator settles it (money-safety.md)
            assert after.STATUS == "unknown" and after.CODE == "OUTCOME_UNKNOWN" and after.ID is None
    assert calls(billing, "CLN_FIN_OPER_ADD") == sent
    found = operations_by_marker(billing)
    assert sorted(len(posted_for(found, gw.journal, sent["IDEMPOTENCY_KEY"])) for sent in lines) == [0, 1]


def test_a_line_naming_a_subscriber_and_a_contract_must_agree(gw: Any, billing: Any) -> None:
    (ok, wrong) = post(gw, [line(key(), user=1005, contract=contract_of(1005)),
                            line(key(), user=1006, contract=contract_of(1005))])
    assert ok.STATUS == "posted" and ok.USER_ID == 1005
    assert wrong.STATUS == "refused" and wrong.CODE == "VALIDATION_ERROR" and "1005" in wrong.MESSAGE


def test_a_batch_over_the_limit_is_refused_whole(gateway_settings: Any, billing: Any, tmp_path: Any) -> None:
    limits = AccountingSettings(max_lines=5)
    with accounting_gateway(gateway_settings, billing, journal_path(tmp_path), limits) as small:
        sent = calls(billing, "CLN_FIN_OPER_ADD")
        fault = fault_of(lambda: post(small, [line(key(), user=1001) for _ in range(6)]))
        assert detail_code(fault) == "VALIDATION_ERROR" and "at most 5 lines" in fault.message
        assert calls(billing, "CLN_FIN_OPER_ADD") == sent
        assert [r.STATUS for r in post(small, [line(key(), user=1001) for _ in range(5)])] == ["posted"] * 5


def test_after_the_deadline_lines_are_not_attempted_and_a_resend_finishes(gateway_settings: Any, billing: Any,
                                                                         tmp_path: Any) -> None:
    limits = AccountingSettings(concurrency=1, deadline_seconds=0.5)
    lines = [line(key(), user=1020 + i % 5, summa=f"{i + 1}.00") for i in range(8)]
    with accounting_gateway(gateway_settings, billing, journal_path(tmp_path), limits) as slow:
        billing.add_fault("latency", proc="CLN_FIN_OPER_ADD", ms=400)
        first = post(slow, lines)
        billing.clear_faults()
        statuses = [r.STATUS for r in first]
        assert statuses[0] == "posted" and "not_attempted" in statuses
        assert set(statuses) <= {"posted", "not_attempted"}
        assert all(r.ID is None and r.FAULTCODE is None for r in first if r.STATUS == "not_attempted")
        results = first
        for _ in range(20):  # each resend gets further; none posts a line twice
            results = post(slow, lines)
            if all(r.STATUS == "already_posted" or r.STATUS == "posted" for r in results):
                break
        for before, after in zip(first, results):
            if before.STATUS == "posted":
                assert after.STATUS == "already_posted" and after.ID == before.ID
        found = operations_by_marker(billing)
        assert [len(posted_for(found, slow.journal, sent["IDEMPOTENCY_KEY"])) for sent in lines] == [1] * len(lines)
    assert sum(billing.balance(u) for u in range(1020, 1025)) > Decimal(0)


def test_a_full_batch_with_nil_fields_passes_the_request_guard(gw: Any, billing: Any) -> None:
    """Beyond the guard's limits for one call (1000 elements, 256 attributes): WCF sends each empty
    optional field as xsi:nil, so a batch of lines is given room by line, and only it."""
    lines = "".join(
        f'<b:Line><b:IDEMPOTENCY_KEY>{key("nil-")}</b:IDEMPOTENCY_KEY><b:USER_ID>{1001 + i % 20}</b:USER_ID>'
        f'<b:CONTRACT_NUMBER xsi:nil="true"/><b:OP_DATE>2026-03-03T10:00:00</b:OP_DATE><b:SUMMA>1.{i % 100:02d}'
        f'</b:SUMMA><b:DESCR xsi:nil="true"/><b:NUMBER xsi:nil="true"/></b:Line>' for i in range(300))
    envelope = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:b="urn:soap-gateway:billing" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><s:Body>'
                f"<b:GatewayPostPayments><b:LINES>{lines}</b:LINES></b:GatewayPostPayments></s:Body></s:Envelope>")
    reply = requests.post(f"{gw.url}/soap", data=envelope.encode(), timeout=120,
                          headers={"Content-Type": "text/xml; charset=utf-8"})
    assert reply.status_code == 200, reply.text[:500]
    assert reply.text.count("<tns:STATUS>posted</tns:STATUS>") == 300
    too_many = envelope.replace("GatewayPostPayments", "CLN_FIN_OPER_ADD")  # any other operation: the usual limits
    refused = requests.post(f"{gw.url}/soap", data=too_many.encode(), timeout=120,
                            headers={"Content-Type": "text/xml; charset=utf-8"})
    assert refused.status_code == 500 and "XML_LIMIT_EXCEEDED" in refused.text


def test_operation_names_cannot_clash_with_a_billing_procedure(tmp_path: Any) -> None:
    from soap_gateway.catalogue import load_catalogue
    from soap_gateway.errors import ConfigurationError

    site = tmp_path / "site.toml"
    site.write_text('[GatewayPostPayments]\nmode = "write"\nresult = "none"\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="gateway's own"):
        load_catalogue([str(site)])


def test_a_nil_line_refuses_the_batch_as_the_callers_mistake(gw: Any, billing: Any) -> None:
    """A <Line xsi:nil="true"/> has no key to report its result by: the batch is refused as a validation
    error naming the line, nothing is posted (it was an internal error once)."""
    sent = calls(billing, "CLN_FIN_OPER_ADD")
    envelope = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:b="urn:soap-gateway:billing" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><s:Body><b:GatewayPostPayments><b:LINES>'
                f'<b:Line><b:IDEMPOTENCY_KEY>{key("nil-line-")}</b:IDEMPOTENCY_KEY><b:USER_ID>1001</b:USER_ID>'
                '<b:OP_DATE>2026-03-03T10:00:00</b:OP_DATE><b:SUMMA>1.00</b:SUMMA></b:Line><b:Line xsi:nil="true"/>'
                "</b:LINES></b:GatewayPostPayments></s:Body></s:Envelope>")
    reply = requests.post(f"{gw.url}/soap", data=envelope.encode(), timeout=60,
                          headers={"Content-Type": "text/xml; charset=utf-8"})
    assert reply.status_code == 500 and "<faultcode>soap11env:Client.ValidationError</faultcode>" in reply.text
    assert "LINES: line 2 is nil" in reply.text
    assert calls(billing, "CLN_FIN_OPER_ADD") == sent
