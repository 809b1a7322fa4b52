"""The lookup of a lost payment: declared, calibrated before "not found" means anything, run in the background.

The emulator's ``reshape`` switch makes CLN_FIN_OPER answer as another
billing might: the description column named otherwise, or stored shortened.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from money import ROOT, RunningGateway, calls, fault_of, journal_path, new_key, running_gateway, write_config

WHEN = dt.datetime(2026, 3, 3, 12, 0)


@pytest.fixture
def gw(gateway_settings: Any, tmp_path: Path) -> Iterator[RunningGateway]:
    journal = dataclasses.replace(journal_path(tmp_path), resolver_seconds=1.0)
    with running_gateway(gateway_settings, journal, read_timeout=1.0, connect_timeout=1.0,
                         breaker_failures=1000) as running:
        yield running


def pay(gw: RunningGateway, key: str, user: int, amount: str, descr: str = "Оплата") -> Any:
    return gw.service.CLN_FIN_OPER_ADD(USER_ID=user, OP_DATE=WHEN, SUMMA=Decimal(amount), DESCR=descr,
                                       IDEMPOTENCY_KEY=key)


def check(gateway_settings: Any, gw: RunningGateway, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = write_config(tmp_path / "check.toml", gateway_settings, listen="127.0.0.1:0",
                          journal={"path": gw.gateway.writes.journal.path})  # type: ignore[union-attr]
    return subprocess.run([sys.executable, "-m", "soap_gateway", "check", "--config", str(config), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_lookup_that_cannot_see_the_marker_is_never_calibrated_and_proves_nothing(
        gw: RunningGateway, emulator: Any, gateway_settings: Any, tmp_path: Path) -> None:
    emulator.add_fault("reshape", proc="CLN_FIN_OPER", column="DESCR", rename_to="COMMENT")
    pay(gw, new_key(), 103, "5.00")  # confirmed by the billing, yet the lookup cannot find it
    shown = check(gateway_settings, gw, tmp_path)
    assert "FAILED calibration: the lookup did not find the posting with ID" in shown.stdout, shown.stdout
    key, before = new_key(), emulator.balance(103)
    emulator.add_fault("drop_after_commit", proc="CLN_FIN_OPER_ADD", count=1)
    fault = fault_of(lambda: pay(gw, key, 103, "6.00"))
    assert fault.code.endswith("Server.OutcomeUnknown") and "not calibrated" in fault.message
    sent = calls(emulator, "CLN_FIN_OPER_ADD")
    assert fault_of(lambda: pay(gw, key, 103, "6.00")).code.endswith("Server.OutcomeUnknown")
    assert calls(emulator, "CLN_FIN_OPER_ADD") == sent and emulator.balance(103) == before + Decimal("6.00")
    # The catalogue (or here: the billing) fixed, an operator calibrates on demand; the retry finds the payment.
    emulator.clear_faults()
    calibrated = check(gateway_settings, gw, tmp_path, "--calibrate")
    assert calibrated.returncode == 0 and "CLN_FIN_OPER_ADD: the lookup is calibrated" in calibrated.stdout
    (operation,) = [op for op in emulator.fin_opers(103) if gw.journal.entry(key).marker in (op["DESCR"] or "")]
    assert pay(gw, key, 103, "6.00").ID == operation["ID"]


def test_a_description_stored_shortened_keeps_the_marker(gw: RunningGateway, emulator: Any) -> None:
    emulator.add_fault("reshape", proc="CLN_FIN_OPER", column="DESCR", max_len=30)
    key, before = new_key(), emulator.balance(104)
    emulator.add_fault("drop_after_commit", proc="CLN_FIN_OPER_ADD", count=1)
    posted = pay(gw, key, 104, "77.00", descr="Оплата по договору " + "x" * 150)
    assert posted.ID == emulator.fin_opers(104)[-1]["ID"] and emulator.balance(104) == before + Decimal("77.00")


def metric(gw: RunningGateway, name: str) -> float:
    text = requests.get(f"{gw.url}/metrics", timeout=10).text
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, name
    return float(match[1])


def test_the_background_resolver_finds_a_late_commit_without_a_retry(gw: RunningGateway, emulator: Any) -> None:
    key, before = new_key(), emulator.balance(105)
    emulator.add_fault("latency", proc="CLN_FIN_OPER_ADD", count=1, ms=3000)  # commits after the read timeout
    assert fault_of(lambda: pay(gw, key, 105, "250.00")).code.endswith("Server.OutcomeUnknown")
    sent = calls(emulator, "CLN_FIN_OPER_ADD")
    assert metric(gw, "soap_gateway_journal_unresolved") == 1
    wait_for(lambda: gw.journal.entry(key).state == "done")
    assert calls(emulator, "CLN_FIN_OPER_ADD") == sent and emulator.balance(105) == before + Decimal("250.00")
    (done,) = [r for r in gw.journal.records(key=key) if r.outcome == "done"]
    assert done.caller == "gateway (background resolver)" and done.detail.startswith("reconciled: found")
    assert metric(gw, "soap_gateway_journal_unresolved") == 0
    assert metric(gw, "soap_gateway_journal_unresolved_oldest_seconds") == 0
    posted = pay(gw, key, 105, "250.00")  # the caller's retry, whenever it comes, gets the billing's answer
    assert [op["ID"] for op in emulator.fin_opers(105)][-1] == posted.ID


def test_without_gateway_text_the_document_number_is_the_evidence(gateway_settings: Any, emulator: Any,
                                                                  tmp_path: Path) -> None:
    journal = dataclasses.replace(journal_path(tmp_path), evidence="number")
    with running_gateway(gateway_settings, journal, read_timeout=1.0, connect_timeout=1.0) as gw:
        wsdl = requests.get(f"{gw.url}/soap?wsdl", timeout=30).text
        assert re.search(r'name="CLN_FIN_OPER_ADD_DESCRType">\s*<xs:restriction base="xs:string">\s*'
                         r'<xs:maxLength value="255"/>', wsdl)  # the whole DESCR is the caller's
        # NUMBER required: neither minOccurs="0" nor nillable
        assert re.search(r'<xs:element name="NUMBER" type="tns:CLN_FIN_OPER_ADD_NUMBERType">', wsdl)
        key, before = new_key(), emulator.balance(106)
        emulator.add_fault("drop_after_commit", proc="CLN_FIN_OPER_ADD", count=1)
        posted = gw.service.CLN_FIN_OPER_ADD(USER_ID=106, OP_DATE=WHEN, SUMMA=Decimal("12.00"), DESCR="Оплата",
                                             NUMBER=key[:10], IDEMPOTENCY_KEY=key)
        operation = emulator.fin_opers(106)[-1]
        assert (posted.ID, operation["DESCR"], operation["NUMBER"]) == (operation["ID"], "Оплата", key[:10])
        assert emulator.balance(106) == before + Decimal("12.00")
        assert gw.journal.records(key=key)[-1].detail.startswith("reconciled: found in CLN_FIN_OPER as ID")
