"""Money safety end to end: zeep -> gateway -> emulator with its fault switches (issue #5).

The gateway here has a 1 s read timeout, so lost answers and hung calls
show within a test; every test checks the billing's own state (balance,
operations, commits), not only the answer.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal
from typing import Any, Iterator

import pytest
import requests

from money import (NS, RunningGateway, calls, commits, detail_code, fault_of, journal_path, marked, new_key,
                   running_gateway)
from soap_gateway.journal.model import Who


@pytest.fixture(scope="module")
def gw(gateway_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    journal = journal_path(tmp_path_factory.mktemp("money"))
    with running_gateway(gateway_settings, journal, read_timeout=1.0, connect_timeout=1.0, read_retries=2,
                         breaker_failures=1000) as running:
        yield running


def now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def pay(gw: RunningGateway, key: str | None, user: int = 102, amount: str = "500.00", when: dt.datetime | None = None,
        descr: str = "Оплата по счёту") -> Any:
    return gw.service.CLN_FIN_OPER_ADD(USER_ID=user, OP_DATE=when or PAY_DATE, SUMMA=Decimal(amount), DESCR=descr,
                                       NUMBER="PP-1", IDEMPOTENCY_KEY=key)


PAY_DATE = now()


def outcomes(gw: RunningGateway, key: str) -> list[str]:
    return [r.outcome for r in gw.journal.records(key=key)]


# -- lost answers ------------------------------------------------------------------------------------

def test_drop_after_commit_is_reported_done_and_a_retry_posts_nothing(gw: RunningGateway, emulator: Any) -> None:
    key, before = new_key(), emulator.balance(102)
    emulator.add_fault("drop_after_commit", proc="CLN_FIN_OPER_ADD", count=1)
    posted = pay(gw, key)
    (operation,) = marked(gw.journal, emulator, 102, key)
    assert posted.ID == operation["ID"]  # the truth, found in CLN_FIN_OPER
    assert emulator.balance(102) == before + Decimal("500.00")
    sent = calls(emulator, "CLN_FIN_OPER_ADD")
    again = pay(gw, key)
    assert again.ID == posted.ID
    assert calls(emulator, "CLN_FIN_OPER_ADD") == sent and emulator.balance(102) == before + Decimal("500.00")
    assert outcomes(gw, key) == ["pending", "done", "replayed"]
    assert gw.journal.records(key=key)[1].detail.startswith("reconciled: found in CLN_FIN_OPER")


def test_read_timeout_on_a_payment_that_committed(gw: RunningGateway, emulator: Any) -> None:
    key, before = new_key(), emulator.balance(103)
    emulator.add_fault("delay_after_commit", proc="CLN_FIN_OPER_ADD", count=1, ms=2500)
    posted = pay(gw, key, user=103, amount="75.10")
    (operation,) = marked(gw.journal, emulator, 103, key)
    assert posted.ID == operation["ID"] and emulator.balance(103) == before + Decimal("75.10")
    assert pay(gw, key, user=103, amount="75.10").ID == posted.ID
    assert len(marked(gw.journal, emulator, 103, key)) == 1


def test_read_timeout_on_a_payment_that_did_not_commit(gw: RunningGateway, emulator: Any) -> None:
    key, before, committed = new_key(), emulator.balance(104), commits(emulator)
    emulator.add_fault("hang_no_commit", proc="CLN_FIN_OPER_ADD", count=1, ms=2500)
    fault = fault_of(lambda: pay(gw, key, user=104, amount="12.34"))
    assert fault.code.endswith("Server.OutcomeUnknown") and detail_code(fault) == "OUTCOME_UNKNOWN"
    assert "retry later with the same key" in fault.message
    # Not found is no proof that it was not posted: the gateway never posts it again on its own.
    time.sleep(3.0)
    fault = fault_of(lambda: pay(gw, key, user=104, amount="12.34"))
    assert fault.code.endswith("Server.OutcomeUnknown") and "until it is found or an operator resolves it" in fault.message
    assert calls(emulator, "CLN_FIN_OPER_ADD") >= 1 and commits(emulator) == committed
    # An operator checked the billing: not there.  Now a retry posts it, once.
    gw.journal.resolve(key, "failed", "not in CLN_FIN_OPER", Who("operator"), time.time())
    posted = pay(gw, key, user=104, amount="12.34")
    (operation,) = marked(gw.journal, emulator, 104, key)
    assert posted.ID == operation["ID"] and emulator.balance(104) == before + Decimal("12.34")
    assert outcomes(gw, key) == ["pending", "unknown", "reconciling", "unknown", "resolved", "pending", "done"]


def test_keyless_payment_still_gets_the_truth_after_a_drop(gw: RunningGateway, emulator: Any) -> None:
    before = emulator.balance(105)
    emulator.add_fault("drop_after_commit", proc="CLN_FIN_OPER_ADD", count=1)
    posted = pay(gw, None, user=105, amount="1.00")
    assert posted.ID == emulator.fin_opers(105)[-1]["ID"] and emulator.balance(105) == before + Decimal("1.00")


def test_promise_pay_drop_is_reconciled_from_the_subscriber_state(gw: RunningGateway, emulator: Any) -> None:
    key = new_key()
    emulator.add_fault("drop_after_commit", proc="WEB_USER_PROMISE_PAY", count=1)
    gw.service.WEB_USER_PROMISE_PAY(USER_ID=103, PROMISE_PAY=Decimal("250.00"), HOST="1c", IDEMPOTENCY_KEY=key)
    assert emulator.user(103)["PROMISE_PAY"] == Decimal("250.00")
    sent = calls(emulator, "WEB_USER_PROMISE_PAY")
    gw.service.WEB_USER_PROMISE_PAY(USER_ID=103, PROMISE_PAY=Decimal("250.00"), HOST="1c", IDEMPOTENCY_KEY=key)
    assert calls(emulator, "WEB_USER_PROMISE_PAY") == sent  # a blind repeat would be refused by the billing
    (done,) = [r for r in gw.journal.records(key=key) if r.outcome == "done"]
    assert done.detail.startswith("reconciled: PROMISE_PAY became 250.00")


# -- retries only where safe -------------------------------------------------------------------------

def test_reads_are_retried_a_bounded_number_of_times(gw: RunningGateway, emulator: Any) -> None:
    emulator.apply_faults({"fault": "http_error", "status": 502, "proc": "CLN_USR_GET"})
    sent = calls(emulator, "CLN_USR_GET")
    failure = fault_of(lambda: gw.service.CLN_USR_GET(SELECT_ID=101))
    assert failure.code.endswith("Server.BillingUnavailable") and detail_code(failure) == "BILLING_UNAVAILABLE"
    assert calls(emulator, "CLN_USR_GET") - sent == 1 + 2  # the first try and read_retries = 2
    emulator.clear_faults()
    emulator.apply_faults({"fault": "http_error", "status": 502, "proc": "CLN_USR_GET", "count": 2})
    assert gw.service.CLN_USR_GET(SELECT_ID=101).NAME == "Иванов Иван Иванович"  # recovered within the bound


def test_a_read_reply_that_cannot_be_decoded_is_not_retried(gw: RunningGateway, emulator: Any) -> None:
    """The billing answered: the same request would get the same answer (issue #13)."""
    emulator.apply_faults({"fault": "malformed", "variant": "xml", "proc": "CLN_USR_GET", "count": 1})
    sent = calls(emulator, "CLN_USR_GET")
    failure = fault_of(lambda: gw.service.CLN_USR_GET(SELECT_ID=101))
    assert failure.code.endswith("Server.BillingUnavailable") and detail_code(failure) == "BILLING_MALFORMED_REPLY"
    assert calls(emulator, "CLN_USR_GET") - sent == 1


@pytest.mark.parametrize("fault", [{"fault": "http_error", "status": 500}, {"fault": "malformed", "variant": "php"}],
                         ids=["http-5xx", "malformed"])
def test_writes_are_never_repeated_automatically(gw: RunningGateway, emulator: Any, fault: dict[str, Any]) -> None:
    key, before = new_key(), emulator.balance(101)
    emulator.apply_faults(dict(fault, proc="CLN_FIN_OPER_ADD"))
    sent = calls(emulator, "CLN_FIN_OPER_ADD")
    failure = fault_of(lambda: pay(gw, key, user=101, amount="9.99"))
    # The billing answered garbage: it may have run the call, so the gateway neither repeats nor guesses.
    assert failure.code.endswith("Server.OutcomeUnknown")
    assert calls(emulator, "CLN_FIN_OPER_ADD") - sent == 1 and emulator.balance(101) == before


def test_an_expired_session_on_a_write_is_repeated_once(gw: RunningGateway, emulator: Any) -> None:
    key, before, committed = new_key(), emulator.balance(102), commits(emulator)
    gw.service.CLN_USR_GET(SELECT_ID=102)  # a session exists
    emulator.expire_sessions()
    pay(gw, key, amount="3.00")
    assert emulator.balance(102) == before + Decimal("3.00") and commits(emulator) == committed + 1


# -- keys and payloads -------------------------------------------------------------------------------

def test_same_key_with_another_amount_is_a_client_fault(gw: RunningGateway, emulator: Any) -> None:
    key = new_key()
    pay(gw, key, user=103, amount="10.00")
    before, sent = emulator.balance(103), calls(emulator, "CLN_FIN_OPER_ADD")
    fault = fault_of(lambda: pay(gw, key, user=103, amount="10.01"))
    assert fault.code.endswith("Client.IdempotencyConflict") and detail_code(fault) == "IDEMPOTENCY_CONFLICT"
    assert key in fault.message
    assert emulator.balance(103) == before and calls(emulator, "CLN_FIN_OPER_ADD") == sent
    assert outcomes(gw, key) == ["pending", "done", "conflict"]


def test_concurrent_duplicates_post_once(gw: RunningGateway, emulator: Any) -> None:
    key, before = new_key(), emulator.balance(101)
    emulator.add_fault("latency", proc="CLN_FIN_OPER_ADD", count=1, ms=400)
    answers: list[Any] = []

    def submit() -> None:
        answers.append(pay(gw, key, user=101, amount="42.00").ID)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == 6 and len(set(answers)) == 1
    assert len(marked(gw.journal, emulator, 101, key)) == 1 and emulator.balance(101) == before + Decimal("42.00")
    assert outcomes(gw, key).count("replayed") == 5


@pytest.mark.parametrize("key", ["", "with space", "k" * 65], ids=["empty", "space", "too-long"])
def test_a_malformed_key_is_a_validation_fault(gw: RunningGateway, emulator: Any, key: str) -> None:
    sent = calls(emulator, "CLN_FIN_OPER_ADD")
    fault = fault_of(lambda: pay(gw, key))
    assert fault.code.endswith("Client.ValidationError")
    assert "IDEMPOTENCY_KEY" in fault.detail.xpath("gw:GatewayFault/gw:field/text()", namespaces=NS)
    assert calls(emulator, "CLN_FIN_OPER_ADD") == sent


def test_a_description_without_room_for_the_marker_is_refused_by_the_schema(gw: RunningGateway) -> None:
    fault = fault_of(lambda: pay(gw, new_key(), descr="x" * 234))
    assert fault.code.endswith("Client.ValidationError") and "DESCR" in fault.message
    pay(gw, new_key(), descr="x" * 233, amount="0.01")


def test_every_write_is_audited_without_secrets(gw: RunningGateway, emulator: Any) -> None:
    started = time.time()
    added = gw.service.CLN_SWITCH_EDIT(P_OP=1, NAME="sw-audit", IP="10.9.8.7", HOME_ID=1, PORTS_CNT=8,
                                       PSW_SNMP="snmp-Secret-1", PSW_SSH="ssh-Secret-2")
    gw.service.CLN_SWITCH_EDIT(P_OP=2, ID=added.ID)
    records = gw.journal.records(since=started, procedure="CLN_SWITCH_EDIT")
    assert [r.outcome for r in records] == ["pending", "done", "pending", "done"]
    assert records[1].detail == f"billing id {added.ID}" and records[0].key is None
    assert records[0].caller == "anonymous"
    dumped = repr(gw.journal.records()) + repr(gw.journal.entries())
    assert "Secret" not in dumped and "servicemode" not in dumped


def journal_check(gw: RunningGateway) -> tuple[str, str]:
    response = requests.get(f"{gw.url}/readyz", timeout=10)
    (check,) = [c for c in response.json()["checks"] if c["name"] == "journal"]
    return check["state"], check["detail"]


def test_no_journal_no_write(gateway_settings: Any, emulator: Any, tmp_path: Any) -> None:
    import shutil

    directory = tmp_path / "journal"
    directory.mkdir()
    with running_gateway(gateway_settings, journal_path(directory)) as broken:
        assert journal_check(broken) == ("ok", f"SQLite {directory / 'journal.sqlite3'}: 0 write(s) of unknown outcome")
        shutil.rmtree(directory)  # the journal's disk is gone
        assert journal_check(broken)[0] == "failed"
        sent = calls(emulator, "CLN_FIN_OPER_ADD")
        for key in (new_key(), None):
            fault = fault_of(lambda key=key: pay(broken, key, amount="1.00"))
            assert fault.code.endswith("Server.JournalUnavailable") and detail_code(fault) == "JOURNAL_UNAVAILABLE"
        assert calls(emulator, "CLN_FIN_OPER_ADD") == sent


def test_the_audit_names_the_authenticated_caller(gateway_settings: Any, emulator: Any, tmp_path: Any) -> None:
    import dataclasses

    from securing import auth_from_toml, soap_client
    from soap_gateway.security.passwords import hash_password

    auth = auth_from_toml(tmp_path, f'[auth]\nmode = "basic"\n[auth.users.buh1c]\n'
                                    f'password_hash = "{hash_password("Buh-pass-1")}"\nroles = ["cashier"]\n')
    with running_gateway(dataclasses.replace(gateway_settings, auth=auth), journal_path(tmp_path)) as gw:
        key = new_key()
        service = soap_client(gw.server, "buh1c", "Buh-pass-1")
        service.CLN_FIN_OPER_ADD(USER_ID=101, OP_DATE=PAY_DATE, SUMMA=Decimal("2.00"), IDEMPOTENCY_KEY=key)
        service.CLN_FIN_OPER_ADD(USER_ID=101, OP_DATE=PAY_DATE, SUMMA=Decimal("2.00"), IDEMPOTENCY_KEY=key)
        records = gw.journal.records(key=key)
    assert [(r.outcome, r.caller) for r in records] == [("pending", "buh1c"), ("done", "buh1c"), ("replayed", "buh1c")]
    assert all(r.correlation_id for r in records)
