"""Amounts and dates no payment can have are refused before anything is sent (zeep against the gateway).

A payment's money is > 0, published as minExclusive so typed clients know;
0001-01-01T00:00:00 (1C's empty Дата, .NET's default(DateTime)) is refused
where a date is required and means "not given" where it is optional.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from money import NS, calls, detail_code, fault_of, new_key

EMPTY_DATE = dt.datetime(1, 1, 1, 0, 0, 0)
XS = "http://www.w3.org/2001/XMLSchema"


def fields(fault: Any) -> list[str]:
    return fault.detail.xpath("gw:GatewayFault/gw:field/text()", namespaces=NS)


@pytest.mark.parametrize("amount", ["-100.00", "0.00"])
def test_a_payment_of_no_money_is_refused_naming_the_field(zeep_client: Any, emulator: Any, amount: str) -> None:
    sent = calls(emulator, "CLN_FIN_OPER_ADD") + calls(emulator, "WEB_USER_PROMISE_PAY")
    service = zeep_client.service
    for call, name in ((lambda: service.CLN_FIN_OPER_ADD(USER_ID=101, OP_DATE=dt.datetime(2026, 3, 2, 10, 0),
                                                          SUMMA=Decimal(amount), IDEMPOTENCY_KEY=new_key()), "SUMMA"),
                       (lambda: service.WEB_USER_PROMISE_PAY(USER_ID=101, PROMISE_PAY=Decimal(amount),
                                                              IDEMPOTENCY_KEY=new_key()), "PROMISE_PAY")):
        fault = fault_of(call)
        assert fault.code.endswith("Client.ValidationError") and detail_code(fault) == "VALIDATION_ERROR"
        assert fields(fault) == [name] and name in fault.message
    assert calls(emulator, "CLN_FIN_OPER_ADD") + calls(emulator, "WEB_USER_PROMISE_PAY") == sent


def test_the_wsdl_publishes_that_payments_are_positive(gateway_server: Any) -> None:
    import requests

    wsdl = etree.fromstring(requests.get(f"{gateway_server.url}/soap?wsdl", timeout=30).content)
    for name in ("CLN_FIN_OPER_ADD_SUMMAType", "WEB_USER_PROMISE_PAY_PROMISE_PAYType"):
        (facet,) = wsdl.xpath(f"//xs:simpleType[@name='{name}']/xs:restriction/xs:minExclusive/@value",
                              namespaces={"xs": XS})
        assert facet == "0"


def test_the_empty_date_of_1c_and_dotnet_is_refused_where_a_date_is_required(zeep_client: Any,
                                                                              emulator: Any) -> None:
    sent = calls(emulator, "CLN_FIN_OPER_ADD")
    fault = fault_of(lambda: zeep_client.service.CLN_FIN_OPER_ADD(USER_ID=101, OP_DATE=EMPTY_DATE,
                                                                  SUMMA=Decimal("10.00"), IDEMPOTENCY_KEY=new_key()))
    assert fault.code.endswith("Client.ValidationError") and fields(fault) == ["OP_DATE"]
    assert "empty date of 1C" in fault.message and "default(DateTime)" in fault.message
    assert calls(emulator, "CLN_FIN_OPER_ADD") == sent


def test_the_empty_date_means_not_given_where_a_date_is_optional(zeep_client: Any, emulator: Any) -> None:
    rows = zeep_client.service.CLN_FIN_OPER(USER_ID=101, DATEL=EMPTY_DATE, DATEH=EMPTY_DATE)
    assert len(rows) == len(emulator.fin_opers(101))  # no bound at all, not "up to year 1"
    (request,) = [r for r in emulator.requests() if r.proc == "CLN_FIN_OPER"][-1:]
    assert request.args[2:4] == [None, None]  # sent as null
