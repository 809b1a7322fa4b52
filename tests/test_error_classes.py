"""Billing errors a caller can act on are Client faults with a small set of codes; the rest stay Server faults.

Which billing message means what is a setting (billing.error_patterns) with defaults; text the billing's
character set cannot hold is refused before anything is sent; a CLN_USR_GET of an id the billing does not
know is Client.NotFound whether the billing says so or answers a row of nils.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterator

import pytest

from money import calls, detail_code, fault_of, journal_path, running_gateway
from soap_gateway.emulator import Emulator

NS = {"gw": "urn:soap-gateway:billing"}


def billing_message(fault: Any) -> str:
    return str(fault.detail.findtext("gw:GatewayFault/gw:billingMessage", namespaces=NS))


@pytest.fixture(scope="module")
def nil_rows_billing(pki: Any) -> Iterator[Emulator]:
    with Emulator(str(pki.server_cert), str(pki.server_key), str(pki.client_ca),
                  dialect="nil-unknown-user") as emu:
        yield emu


@pytest.fixture
def gw(gateway_settings: Any, tmp_path: Any) -> Iterator[Any]:
    with running_gateway(gateway_settings, journal_path(tmp_path)) as running:
        yield running


def test_a_payment_to_an_unknown_subscriber_is_client_not_found(gw: Any) -> None:
    fault = fault_of(lambda: gw.service.CLN_FIN_OPER_ADD(USER_ID=999999, OP_DATE=dt.datetime.now(),
                                                         SUMMA=Decimal("10.00")))
    assert fault.code.endswith("Client.NotFound") and detail_code(fault) == "NOT_FOUND"
    assert "999999" in billing_message(fault)


def test_a_second_promised_payment_is_client_duplicate(
        gateway_settings: Any, nil_rows_billing: Emulator, tmp_path: Any) -> None:
    with running_gateway(gateway_settings, journal_path(tmp_path), url=nil_rows_billing.url) as gw:
        gw.service.WEB_USER_PROMISE_PAY(USER_ID=102, PROMISE_PAY=Decimal("100.00"), HOST="10.0.0.1")
        fault = fault_of(lambda: gw.service.WEB_USER_PROMISE_PAY(USER_ID=102, PROMISE_PAY=Decimal("100.00"),
                                                                 HOST="10.0.0.1"))
    assert fault.code.endswith("Client.Duplicate") and detail_code(fault) == "DUPLICATE"


def test_a_value_the_billing_refuses_is_client_invalid_argument(gw: Any) -> None:
    fault = fault_of(lambda: gw.service.CLN_HOME_EDIT(P_OP=1, PULL_ID=999999, CITY="Уфа"))  # no such IP pool
    assert fault.code.endswith("Client.InvalidArgument") and detail_code(fault) == "INVALID_ARGUMENT"


def test_a_promised_payment_to_a_group_is_client_not_permitted(gw: Any) -> None:
    fault = fault_of(lambda: gw.service.WEB_USER_PROMISE_PAY(USER_ID=2, PROMISE_PAY=Decimal("100.00"),
                                                             HOST="10.0.0.1"))
    assert fault.code.endswith("Client.NotPermitted") and detail_code(fault) == "NOT_PERMITTED"


def test_text_the_billings_charset_cannot_hold_is_refused_before_sending(gw: Any, emulator: Emulator) -> None:
    sent = calls(emulator, "CLN_FIN_OPER_ADD")
    fault = fault_of(lambda: gw.service.CLN_FIN_OPER_ADD(USER_ID=101, OP_DATE=dt.datetime.now(),
                                                         SUMMA=Decimal("10.00"), DESCR="Оплата 👍"))
    assert fault.code.endswith("Client.ValidationError") and detail_code(fault) == "VALIDATION_ERROR"
    assert fault.detail.findtext("gw:GatewayFault/gw:field", namespaces=NS) == "DESCR"
    assert "windows-1251" in fault.message and "U+1F44D" in fault.message
    assert calls(emulator, "CLN_FIN_OPER_ADD") == sent


def test_the_charset_is_a_setting(gateway_settings: Any, tmp_path: Any) -> None:
    with running_gateway(gateway_settings, journal_path(tmp_path), charset="utf-8") as gw:
        fault = fault_of(lambda: gw.service.CLN_FIN_OPER_ADD(USER_ID=101, OP_DATE=dt.datetime.now(),
                                                             SUMMA=Decimal("10.00"), DESCR="Оплата 👍"))
    # sent this time: the emulator's database is windows-1251, and says so the Firebird way
    assert fault.code.endswith("Client.InvalidArgument") and "transliterate" in billing_message(fault)


@pytest.mark.parametrize("user_id", [999999, 0])
def test_usr_get_of_an_unknown_id_is_not_found_however_the_billing_says_it(
        gateway_settings: Any, nil_rows_billing: Emulator, tmp_path: Any, user_id: int) -> None:
    with running_gateway(gateway_settings, journal_path(tmp_path), url=nil_rows_billing.url) as gw:
        assert gw.service.CLN_USR_GET(SELECT_ID=101).NAME == "Иванов Иван Иванович"
        fault = fault_of(lambda: gw.service.CLN_USR_GET(SELECT_ID=user_id))
        assert fault.code.endswith("Client.NotFound") and detail_code(fault) == "NOT_FOUND"
        assert f"SELECT_ID={user_id}" in billing_message(fault)


def test_the_patterns_are_settings(gateway_settings: Any, tmp_path: Any) -> None:
    with running_gateway(gateway_settings, journal_path(tmp_path),
                         error_patterns={"not_found": (), "not_permitted": ("(?i)не найден",)}) as gw:
        fault = fault_of(lambda: gw.service.CLN_USR_GET(SELECT_ID=999999))
    assert fault.code.endswith("Client.NotPermitted")
    with running_gateway(gateway_settings, journal_path(tmp_path), error_patterns={"not_found": ()}) as gw:
        fault = fault_of(lambda: gw.service.CLN_USR_GET(SELECT_ID=999999))
    assert fault.code.endswith("Server.BillingError") and detail_code(fault) == "BILLING_ERROR"
