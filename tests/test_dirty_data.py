"""Dirty data in the billing never fails a reply, and never trips the circuit breaker.

A billing that prints year 1 as '1-01-01 00:00:00' (glibc/PHP strftime), NaN money or an integer out of range
in one row of CLN_FIN_OPER: the read answers, that row's unreadable columns are nil with their raw text in
EXTRA_COLUMNS, the value is counted in /metrics and logged once; a reply that is not XML at all is still a
fault, but it is neither retried nor counted as the billing being down.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Iterator

import pytest
import requests

from money import RunningGateway, calls, detail_code, fault_of, journal_path, running_gateway
from soap_gateway.backend import dirty
from soap_gateway.emulator import Emulator


@pytest.fixture(scope="module")
def dirty_billing(pki: Any) -> Iterator[Emulator]:
    with Emulator(str(pki.server_cert), str(pki.server_key), str(pki.client_ca), dialect="dirty-values") as emu:
        yield emu


@pytest.fixture
def gw(gateway_settings: Any, dirty_billing: Emulator, tmp_path: Any) -> Iterator[RunningGateway]:
    with running_gateway(gateway_settings, journal_path(tmp_path), url=dirty_billing.url, read_retries=2,
                         breaker_failures=2, breaker_reset_seconds=60) as running:
        yield running


def extra(row: Any) -> dict[str, Any]:
    return {c.NAME: c.VALUE for c in (row.EXTRA_COLUMNS.ExtraColumn if row.EXTRA_COLUMNS else [])}


def test_an_unreadable_value_is_nil_with_its_raw_text_and_the_gateway_stays_up(
        gw: RunningGateway, dirty_billing: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    dirty._SEEN.clear()  # this process may have met these columns in another test
    caplog.set_level(logging.WARNING, "soap_gateway.billing")
    sent = calls(dirty_billing, "CLN_FIN_OPER")
    for _ in range(3):
        rows = gw.service.CLN_FIN_OPER(USER_ID=101)
        assert [r.ID for r in rows] == [1, 2, 3]
        clean, year_one, decimal_comma = rows
        assert clean.OP_DATE is not None and clean.SUMMA is not None and not extra(clean)
        assert year_one.OP_DATE is None and year_one.SUMMA is None and year_one.OP_TYPE is None
        assert extra(year_one) == {"OP_DATE": "1-01-01 00:00:00", "SUMMA": "NaN", "OP_TYPE": "4294967296",
                                   "FINANCE": "4294967296"}
        assert decimal_comma.SUMMA is None and extra(decimal_comma)["SUMMA"] == "350,50"
        assert decimal_comma.OP_DATE is None and "OP_DATE" not in extra(decimal_comma)  # empty: plain nil
    assert calls(dirty_billing, "CLN_FIN_OPER") == sent + 3  # nothing was retried
    assert gw.gateway.circuit_state() == "closed"
    assert gw.service.CLN_USR_GET(SELECT_ID=101).NAME == "Иванов Иван Иванович"

    warnings = [r.getMessage() for r in caplog.records if "CLN_FIN_OPER.OP_DATE" in r.getMessage()]
    assert len(warnings) == 1 and "'1-01-01 00:00:00'" in warnings[0]
    metrics = requests.get(f"{gw.url}/metrics", timeout=10).text
    counted = re.search(r'soap_gateway_billing_unreadable_values_total\{column="OP_DATE",procedure="CLN_FIN_OPER"\} '
                        r'(\S+)', metrics)
    assert counted and float(counted[1]) >= 3


def test_a_reply_that_is_not_xml_is_a_fault_neither_retried_nor_counted_by_the_breaker(
        gw: RunningGateway, dirty_billing: Emulator) -> None:
    dirty_billing.add_fault("malformed", proc="CLN_HOME_LIST")
    sent = calls(dirty_billing, "CLN_HOME_LIST")
    for _ in range(4):  # twice the breaker's threshold
        assert detail_code(fault_of(lambda: gw.service.CLN_HOME_LIST())) == "BILLING_MALFORMED_REPLY"
    assert calls(dirty_billing, "CLN_HOME_LIST") == sent + 4
    assert gw.gateway.circuit_state() == "closed"
    assert gw.service.CLN_USR_GET(SELECT_ID=101).USER_ID == 101


def test_a_4xx_answer_is_not_the_billing_being_down(gw: RunningGateway, dirty_billing: Emulator) -> None:
    dirty_billing.add_fault("http_error", status=404, proc="CLN_HOME_LIST")
    for _ in range(3):
        fault_of(lambda: gw.service.CLN_HOME_LIST())
    assert gw.gateway.circuit_state() == "closed"
