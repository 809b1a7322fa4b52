"""Fault switches (Python API and the HTTPS control endpoint) and what each does to commits and replies."""
from __future__ import annotations

import json
import re
import time
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

import pytest
import requests

from soap_gateway.emulator import FAULTS, SESSION_EXPIRED


def _pay(billing: Any, amount: str = "100.00", timeout: float = 10) -> requests.Response:
    return billing.raw([("cmd", "execute"), ("proc", "CLN_FIN_OPER_ADD"), ("arg1", billing.suid), ("arg2", "101"),
                        ("arg3", "2024-04-01 10:00:00"), ("arg4", amount), ("arg5", "Оплата"), ("arg6", "Ф-1"),
                        ("arg7", "2"), ("arg8", "null")], timeout=timeout)


def test_latency_delays_the_matching_procedure_only(emu: Any, emu_billing: Any) -> None:
    emu.add_fault("latency", ms=300, proc="CLN_USR_GET", count=1)
    started = time.monotonic()
    assert emu_billing.call("CLN_USR_GET", 101)[0]["login"] == "ivanov"
    assert time.monotonic() - started >= 0.3
    assert emu.faults() == []  # its count is spent
    assert emu.stats()["faults"] == {"latency": 1}
    emu.add_fault("latency", ms=5000, proc="CLN_USR_GET")
    assert len(emu_billing.call("CLN_HOME_LIST")) == 5  # another procedure: not delayed
    assert emu.stats()["faults"] == {"latency": 1}


def test_http_error_does_not_execute(emu: Any, emu_billing: Any) -> None:
    emu.add_fault("http_error", status=503, proc="CLN_FIN_OPER_ADD")
    response = _pay(emu_billing)
    assert response.status_code == 503 and "Fatal error" in response.text
    emu.apply_faults({"fault": "http_error", "status": 502, "body": "Bad Gateway from nginx"})
    response = _pay(emu_billing)
    assert response.status_code == 503  # the first matching fault wins
    emu.clear_faults()
    emu.add_fault("http_error", status=502, body="Bad Gateway from nginx", count=1)
    response = _pay(emu_billing)
    assert (response.status_code, response.text) == (502, "Bad Gateway from nginx")
    assert emu.balance(101) == Decimal("1250.50") and emu.stats()["commits"] == 0


def test_drop_after_commit_posts_the_payment_but_never_answers(emu: Any, emu_billing: Any) -> None:
    emu.add_fault("drop_after_commit", proc="CLN_FIN_OPER_ADD", count=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        _pay(emu_billing)
    assert emu.balance(101) == Decimal("1350.50") and emu.stats()["commits"] == 1
    assert emu.stats()["dropped"] == 1
    assert ElementTree.fromstring(_pay(emu_billing).content).findtext("id")  # the next one is answered


def test_delay_after_commit_is_a_read_timeout_on_a_committed_write(emu: Any, emu_billing: Any) -> None:
    emu.add_fault("delay_after_commit", ms=1500, proc="CLN_FIN_OPER_ADD", count=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        _pay(emu_billing, timeout=0.3)
    assert emu.balance(101) == Decimal("1350.50") and len(emu.fin_opers(101)) == 4


def test_hang_no_commit_is_a_timeout_on_a_write_that_did_not_happen(emu: Any, emu_billing: Any) -> None:
    emu.add_fault("hang_no_commit", ms=800, proc="CLN_FIN_OPER_ADD", count=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        _pay(emu_billing, timeout=0.3)
    emu.add_fault("hang_no_commit", ms=50, count=1)
    with pytest.raises(requests.exceptions.ConnectionError):  # after the hang: closed without an answer
        _pay(emu_billing)
    time.sleep(0.6)  # let the first hang finish: it still must not commit
    assert emu.balance(101) == Decimal("1250.50") and emu.stats()["commits"] == 0


@pytest.mark.parametrize("variant", ["xml", "php"])
def test_malformed_replies(emu: Any, emu_billing: Any, variant: str) -> None:
    emu.add_fault("malformed", variant=variant, count=1)
    response = _pay(emu_billing)
    assert response.status_code == 200
    with pytest.raises(ElementTree.ParseError):
        ElementTree.fromstring(response.content)
    if variant == "php":
        assert "Fatal error" in response.text and response.headers["Content-Type"].startswith("text/html")
    else:
        assert response.headers["Content-Type"] == "text/xml; charset=windows-1251"
    assert emu.balance(101) == Decimal("1250.50")


def test_expire_sessions_and_clear_are_immediate_actions(emu: Any, emu_billing: Any) -> None:
    emu.add_fault("latency", ms=10)
    emu.add_fault("malformed", proc="CLN_SWITCH_LIST")
    assert [f["fault"] for f in emu.faults()] == ["latency", "malformed"]
    assert emu.apply_faults([{"fault": "clear"}, {"fault": "expire_sessions"}]) == []
    assert emu_billing.error("CLN_HOME_LIST") == SESSION_EXPIRED
    emu_billing.login()
    assert len(emu_billing.call("CLN_SWITCH_LIST")) == 4


def test_rate_uses_a_seeded_rng(make_emu: Any, emu_client: Any) -> None:
    patterns = []
    for _ in range(2):
        emulator = make_emu(fault_seed=7)
        client = emu_client(emulator)
        emulator.add_fault("http_error", rate=0.5, proc="CLN_HOME_LIST")
        patterns.append([client.raw(f"cmd=execute&proc=CLN_HOME_LIST&arg1={client.suid}").status_code
                         for _ in range(30)])
    assert patterns[0] == patterns[1]  # replayable
    assert 0 < patterns[0].count(500) < 30


def test_invalid_fault_descriptions_are_refused(emu: Any) -> None:
    for spec in ({"fault": "explode"}, {"fault": "latency", "ms": -1}, {"fault": "latency", "count": 0},
                 {"fault": "latency", "rate": 2}, {"fault": "http_error", "status": 200},
                 {"fault": "latency", "colour": "red"}, {"fault": "malformed", "variant": "html"},
                 {"fault": "odd_reply", "variant": "xml"}, {"fault": "reshape", "column": "DESCR"},
                 {"fault": "reshape", "column": "DESCR", "max_len": -1}):
        with pytest.raises(ValueError):
            emu.apply_faults(spec)
    assert emu.faults() == []
    assert set(FAULTS) == {"latency", "http_error", "drop_after_commit", "delay_after_commit", "hang_no_commit",
                           "malformed", "odd_reply", "reshape"}


@pytest.mark.parametrize("variant, shape", [("errors", "<errors>1</errors><error_text>Ошибка"),
                                            ("text", "<result>Ошибка")])
def test_odd_replies_of_other_billings_commit_only_when_asked(emu: Any, emu_billing: Any, variant: str,
                                                             shape: str) -> None:
    emu.add_fault("odd_reply", proc="CLN_FIN_OPER_ADD", variant=variant, count=1)
    response = _pay(emu_billing)
    assert shape in response.content.decode("cp1251") and emu.stats()["commits"] == 0
    emu.add_fault("odd_reply", proc="CLN_FIN_OPER_ADD", variant=variant, commit=True, count=1)
    assert shape in _pay(emu_billing).content.decode("cp1251") and emu.stats()["commits"] == 1


def test_reshape_renames_a_column_and_cuts_its_values(emu: Any, emu_billing: Any) -> None:
    emu.add_fault("reshape", proc="CLN_FIN_OPER", column="DESCR", rename_to="COMMENT", max_len=3)
    text = emu_billing.raw([("cmd", "execute"), ("proc", "CLN_FIN_OPER"), ("arg1", emu_billing.suid),
                            ("arg2", "101")]).content.decode("cp1251")
    assert "<comment>" in text and "<descr>" not in text
    assert all(len(value) <= 3 for value in re.findall(r"<comment>([^<]*)</comment>", text))


def test_control_endpoint(emu: Any, emu_billing: Any, emu_client: Any) -> None:
    http, base = emu_billing.http, f"{emu.base_url}/_emulator"
    reply = http.post(f"{base}/faults", data=json.dumps(
        [{"fault": "latency", "ms": 20, "proc": "CLN_USR_GET"}, {"fault": "http_error", "status": 502,
                                                                 "count": 1}]), timeout=5)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("application/json")
    assert [f["fault"] for f in reply.json()["faults"]] == ["latency", "http_error"]
    assert http.get(f"{base}/faults", timeout=5).json()["faults"][1]["count"] == 1
    assert emu_billing.raw(f"cmd=execute&proc=CLN_HOME_LIST&arg1={emu_billing.suid}").status_code == 502

    stats = http.get(f"{base}/stats", timeout=5).json()
    assert (stats["requests"], stats["logins"], stats["calls"], stats["faults"]) == (
        2, 1, {"CLN_AUTH_LOGIN": 1, "CLN_HOME_LIST": 1}, {"http_error": 1})
    logged = http.get(f"{base}/requests", timeout=5).json()["requests"]
    assert [(r["proc"], r["args"], r["login"], r["cn"]) for r in logged] == [
        ("CLN_AUTH_LOGIN", ["Administrator", "***", "0"], "Administrator", "cashier1"),
        ("CLN_HOME_LIST", ["***"], "Administrator", "cashier1")]

    assert http.post(f"{base}/reset-stats", timeout=5).json() == {"ok": True}
    assert http.get(f"{base}/stats", timeout=5).json()["requests"] == 0
    assert emu.requests() == []

    assert http.post(f"{base}/faults", json={"fault": "clear"}, timeout=5).json() == {"ok": True, "faults": []}
    assert http.post(f"{base}/faults", json={"fault": "expire_sessions"}, timeout=5).status_code == 200
    assert emu_billing.error("CLN_HOME_LIST") == SESSION_EXPIRED

    assert http.post(f"{base}/accounts", json={"login": "kassa9", "password": "k9"}, timeout=5).json()["ok"]
    assert emu_client(emu, login=False).login("kassa9", "k9")

    bad = http.post(f"{base}/faults", data=b"{not json", timeout=5)
    assert bad.status_code == 400 and bad.json()["ok"] is False
    assert http.post(f"{base}/faults", json={"fault": "nope"}, timeout=5).status_code == 400
    assert http.get(f"{base}/nothing", timeout=5).status_code == 404
    assert http.get(f"{base}/reset-stats", timeout=5).status_code == 405


def test_control_endpoint_needs_the_client_certificate(emu: Any, emu_client: Any, emu_pki: Any) -> None:
    intruder = emu_client(emu, client=emu_pki.foreign, login=False)
    with pytest.raises(requests.exceptions.ConnectionError):
        intruder.http.post(f"{emu.base_url}/_emulator/faults", json={"fault": "clear"}, timeout=5)
