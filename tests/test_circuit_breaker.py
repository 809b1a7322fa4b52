"""The circuit breaker end to end: the billing goes down, calls fail fast, /readyz tells, recovery closes it."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any, Iterator

import pytest
import requests

from money import RunningGateway, calls, detail_code, fault_of, journal_path, marked, new_key, running_gateway

FAILURES, RESET = 3, 3.0  # the pause outlasts the assertions made while the circuit is open


@pytest.fixture
def gw(gateway_settings: Any, tmp_path: Any) -> Iterator[RunningGateway]:
    with running_gateway(gateway_settings, journal_path(tmp_path), read_retries=0, read_timeout=1.0,
                         connect_timeout=1.0, breaker_failures=FAILURES, breaker_reset_seconds=RESET) as running:
        yield running


def readyz(gw: RunningGateway) -> tuple[int, str]:
    """The HTTP status and what the circuit-breaker check of /readyz says."""
    response = requests.get(f"{gw.url}/readyz", timeout=10)
    (check,) = [c for c in response.json()["checks"] if c["name"] == "circuit_breaker"]
    return response.status_code, check["detail"] if check["state"] == "ok" else check["state"]


def test_billing_down_opens_the_circuit_and_recovery_closes_it(gw: RunningGateway, emulator: Any) -> None:
    assert readyz(gw) == (200, "closed")
    emulator.add_fault("http_error", status=503)  # every procedure: the billing is down
    for _ in range(FAILURES):
        fault = fault_of(lambda: gw.service.CLN_USR_GET(SELECT_ID=101))
        assert fault.code.endswith("Server.BillingUnavailable") and detail_code(fault) == "BILLING_UNAVAILABLE"
    assert readyz(gw) == (503, "failed")  # the circuit is open
    assert gw.gateway.circuit_state() == "open"

    sent = emulator.stats()["requests"]
    key, when = new_key(), dt.datetime.now().replace(microsecond=0)
    for call in (lambda: gw.service.CLN_USR_GET(SELECT_ID=101),
                 lambda: gw.service.CLN_FIN_OPER_ADD(USER_ID=101, OP_DATE=when, SUMMA=Decimal("5.00"),
                                                     IDEMPOTENCY_KEY=key)):
        fault = fault_of(call)
        assert fault.code.endswith("Server.BillingUnavailable") and detail_code(fault) == "BILLING_CIRCUIT_OPEN"
    assert emulator.stats()["requests"] == sent  # failing fast: nothing was even tried
    assert [r.outcome for r in gw.journal.records(key=key)] == ["pending", "failed"]

    emulator.clear_faults()  # the billing is back
    time.sleep(RESET + 0.1)
    assert gw.gateway.circuit_state() == "half_open"
    assert gw.service.CLN_USR_GET(SELECT_ID=101).NAME == "Иванов Иван Иванович"  # the probe
    assert gw.gateway.circuit_state() == "closed" and readyz(gw) == (200, "closed")
    before = emulator.balance(101)
    gw.service.CLN_FIN_OPER_ADD(USER_ID=101, OP_DATE=when, SUMMA=Decimal("5.00"), IDEMPOTENCY_KEY=key)
    assert len(marked(gw.journal, emulator, 101, key)) == 1 and emulator.balance(101) == before + Decimal("5.00")


def test_a_failed_probe_opens_the_circuit_again(gw: RunningGateway, emulator: Any) -> None:
    emulator.add_fault("http_error", status=502, proc="CLN_HOME_LIST")
    for _ in range(FAILURES):
        fault_of(lambda: gw.service.CLN_HOME_LIST())
    time.sleep(RESET + 0.1)
    sent = calls(emulator, "CLN_HOME_LIST")
    assert detail_code(fault_of(lambda: gw.service.CLN_HOME_LIST())) == "BILLING_UNAVAILABLE"  # the probe
    assert calls(emulator, "CLN_HOME_LIST") == sent + 1
    assert detail_code(fault_of(lambda: gw.service.CLN_HOME_LIST())) == "BILLING_CIRCUIT_OPEN"
    assert gw.gateway.circuit_state() == "open" and readyz(gw)[0] == 503


def test_an_unreachable_billing_opens_it_too(gateway_settings: Any, tmp_path: Any) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    url = f"https://127.0.0.1:{closed}/api.php"
    with running_gateway(gateway_settings, journal_path(tmp_path), url=url, read_retries=0,
                         breaker_failures=2, breaker_reset_seconds=60) as gw:
        codes = [detail_code(fault_of(lambda: gw.service.CLN_USR_GET(SELECT_ID=101))) for _ in range(3)]
        assert codes == ["BILLING_UNAVAILABLE", "BILLING_UNAVAILABLE", "BILLING_CIRCUIT_OPEN"]
        assert gw.gateway.circuit_state() == "open" and readyz(gw) == (503, "failed")
