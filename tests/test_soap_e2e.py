"""End to end: zeep (strict) -> gateway over HTTP -> emulator over mutual TLS.

Every response body is also validated with lxml against the schema taken
from our own WSDL, because zeep is lenient (it accepts ``1E+2`` decimals).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any, Iterator

import pytest
import requests
import zeep
from lxml import etree

from serving import gateway_in_thread
from envelopes import ENV, envelope, operation

NS = {"wsdl": "http://schemas.xmlsoap.org/wsdl/", "xs": "http://www.w3.org/2001/XMLSchema",
      "soap": ENV, "gw": "urn:soap-gateway:billing"}
IVANOV, GROUP_FIZ = 101, 2


@pytest.fixture(scope="module")
def response_schema(gateway_server: Any) -> etree.XMLSchema:
    wsdl = etree.fromstring(requests.get(f"{gateway_server.url}/soap?wsdl", timeout=10).content)
    (schema,) = wsdl.xpath("wsdl:types/xs:schema", namespaces=NS)
    return etree.XMLSchema(etree.fromstring(etree.tostring(schema)))  # keeps the in-scope tns


@pytest.fixture
def soap(zeep_client: Any, response_schema: etree.XMLSchema) -> Iterator[Any]:
    """zeep's service proxy; after the test every body it received is schema-checked."""
    seen: list[bytes] = []
    plugin = _Recorder(seen)
    zeep_client.plugins.append(plugin)
    yield zeep_client.service
    zeep_client.plugins.remove(plugin)
    for raw in seen:
        body = etree.fromstring(raw).find(f"{{{ENV}}}Body")[0]
        if body.tag != f"{{{ENV}}}Fault":
            response_schema.assertValid(body)


class _Recorder(zeep.Plugin):
    def __init__(self, seen: list[bytes]) -> None:
        self.seen = seen

    def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> Any:
        self.seen.append(etree.tostring(envelope))
        return envelope, http_headers


def fault_of(call: Any) -> zeep.exceptions.Fault:
    with pytest.raises(zeep.exceptions.Fault) as caught:
        call()
    return caught.value


def detail_code(fault: zeep.exceptions.Fault) -> str:
    return fault.detail.findtext("gw:GatewayFault/gw:code", namespaces=NS)


# -- every operation -------------------------------------------------------------------------------

def test_usr_get_is_typed_with_cyrillic_intact(soap: Any) -> None:
    user = soap.CLN_USR_GET(SELECT_ID=IVANOV)
    assert user.NAME == "Иванов Иван Иванович"
    assert user.CONTRACT_NUMBER == "Д-2024/001"
    assert isinstance(user.BALANCE, Decimal) and user.BALANCE == user.BALANCE.quantize(Decimal("0.01"))
    assert user.CREATE_DATE == dt.date(2019, 3, 20)
    assert isinstance(user.NEXT_AUTO_ACOUNT, dt.datetime) and user.NEXT_AUTO_ACOUNT.tzinfo is None
    assert user.IP == "10.0.1.15" and user.NAS_IP == "10.255.0.1"


def test_find_2_by_contract_number_and_by_name(soap: Any) -> None:
    (row,) = soap.CLN_USR_FIND_2(CONTRACT_NUMBER_IN="Д-2024/002")
    assert (row.ID, row.IDENTIFY, row.IP) == (102, "Петрова Мария Сергеевна", "192.168.10.20")
    assert isinstance(row.BALANCE, Decimal)
    names = {r.IDENTIFY for r in soap.CLN_USR_FIND_2(NAME_IN="ов")}
    assert {"Иванов Иван Иванович", "Сидоров Алексей Петрович"} <= names


def test_home_list_many_and_exactly_one(soap: Any) -> None:
    homes = soap.CLN_HOME_LIST()
    assert len(homes) >= 5 and {h.CITY for h in homes} >= {"Москва", "Санкт-Петербург", "Казань"}
    (kazan,) = soap.CLN_HOME_LIST(P_ID=5)
    assert (kazan.CITY, kazan.STREET, kazan.S_NUMBER) == ("Казань", "ул. Баумана", 7)
    assert kazan.CONNECT_DATE == dt.datetime(2021, 4, 1)


def test_home_edit_add_update_delete(soap: Any) -> None:
    added = soap.CLN_HOME_EDIT(P_OP=1, CITY="Новосибирск", STREET="Красный проспект", S_NUMBER=1,
                               COUNTRY="Россия", CONNECT_DATE=dt.datetime(2024, 5, 6, 7, 8, 9))
    assert isinstance(added.ID, int)
    soap.CLN_HOME_EDIT(P_OP=0, ID=added.ID, CITY="Новосибирск", STREET="Красный проспект", S_NUMBER=2)
    (home,) = soap.CLN_HOME_LIST(P_ID=added.ID)
    assert (home.CITY, home.S_NUMBER) == ("Новосибирск", 2)
    soap.CLN_HOME_EDIT(P_OP=2, ID=added.ID)
    assert soap.CLN_HOME_LIST(P_ID=added.ID) in (None, [])  # zeep renders an empty array as None


def test_switch_edit_and_list_with_high_ip(soap: Any) -> None:
    added = soap.CLN_SWITCH_EDIT(P_OP=1, NAME="sw-nsk-1", IP="192.168.77.1", SWITCH_TYPE="Eltex MES2324",
                                 HOME_ID=1, PORTS_CNT=24, PSW_SNMP="public1")
    (switch,) = soap.CLN_SWITCH_LIST(P_ID=added.ID)
    assert (switch.NAME, switch.IP, switch.PORTS_CNT) == ("sw-nsk-1", "192.168.77.1", 24)
    soap.CLN_SWITCH_EDIT(P_OP=2, ID=added.ID)
    assert soap.CLN_SWITCH_LIST(P_ID=added.ID) in (None, [])
    assert len(soap.CLN_SWITCH_LIST(P_HOME_ID=1)) >= 1


def test_usluga_edit_add_and_delete(soap: Any, emulator: Any) -> None:
    before = len(emulator.services(103))
    added = soap.CLN_USR_USLUGA_EDIT(UK=1, USER_ID=103, USLUGA_ID=2, ENABLED=1, COUNTT=1, COMMENT="IPTV")
    assert len(emulator.services(103)) == before + 1
    soap.CLN_USR_USLUGA_EDIT(UK=2, ID=added.ID)
    assert len(emulator.services(103)) == before


def test_promise_pay_is_visible_as_decimal(soap: Any) -> None:
    soap.WEB_USER_PROMISE_PAY(USER_ID=105, PROMISE_PAY=Decimal("300.00"), HOST="1c-buh")
    user = soap.CLN_USR_GET(SELECT_ID=105)
    assert user.PROMISE_PAY == Decimal("300.00") and isinstance(user.PROMISE_DATE_END, dt.datetime)


def test_auth_login_and_own_session_header(soap: Any, zeep_client: Any, emulator: Any) -> None:
    login = soap.CLN_AUTH_LOGIN(LOGIN="kassir1", PASSWORD="pass1")
    assert isinstance(login.SUID, int) and login.SUID > 0
    header = zeep_client.get_element("{urn:soap-gateway:billing}BillingSession")(SUID=login.SUID)
    emulator.reset_stats()
    user = soap.CLN_USR_GET(SELECT_ID=IVANOV, _soapheaders=[header])
    assert user.NAME == "Иванов Иван Иванович"
    assert [r.login for r in emulator.requests()] == ["kassir1"]


def test_auth_login_refused_is_a_client_fault(soap: Any) -> None:
    fault = fault_of(lambda: soap.CLN_AUTH_LOGIN(LOGIN="kassir1", PASSWORD="wrong"))
    assert fault.code.endswith("Client.AuthenticationFailed") and detail_code(fault) == "AUTHENTICATION_FAILED"
    assert "wrong" not in fault.message and "wrong" not in etree.tostring(fault.detail).decode()


# -- the payment scenario --------------------------------------------------------------------------

def test_find_read_pay_read_list(soap: Any) -> None:
    (found,) = soap.CLN_USR_FIND_2(CONTRACT_NUMBER_IN="Д-2024/003")
    before = soap.CLN_USR_GET(SELECT_ID=found.ID).BALANCE
    when = dt.datetime.now().replace(microsecond=0)
    posted = soap.CLN_FIN_OPER_ADD(USER_ID=found.ID, OP_DATE=when, SUMMA=Decimal("1234.56"),
                                   DESCR="Оплата через 1С, п/п №17", NUMBER="PP-17")
    assert isinstance(posted.ID, int)
    after = soap.CLN_USR_GET(SELECT_ID=found.ID).BALANCE
    assert after - before == Decimal("1234.56")
    operations = soap.CLN_FIN_OPER(USER_ID=found.ID, DATEL=when - dt.timedelta(minutes=1),
                                   DATEH=when + dt.timedelta(minutes=1))
    mine = [op for op in operations if op.ID == posted.ID]
    assert len(mine) == 1
    assert (mine[0].SUMMA, mine[0].NUMBER, mine[0].OP_DATE) == (Decimal("1234.56"), "PP-17", when)
    # the gateway's reconciliation marker precedes the caller's text (docs/money-safety.md)
    assert re.fullmatch(r"\[gw:[0-9a-f]{16}\] Оплата через 1С, п/п №17", mine[0].DESCR)


def test_fin_oper_on_a_group_covers_its_subscribers(soap: Any) -> None:
    operations = soap.CLN_FIN_OPER(USER_ID=GROUP_FIZ)
    assert {op.USER_ID for op in operations} >= {101, 102}


def test_money_on_the_wire_is_fixed_point(soap: Any, zeep_client: Any) -> None:
    soap.CLN_FIN_OPER_ADD(USER_ID=104, OP_DATE=dt.datetime.now(), SUMMA=Decimal("100"), NUMBER="X1")
    raw = etree.tostring(zeep_client.history.last_sent["envelope"]).decode()
    assert "<ns0:SUMMA>100</ns0:SUMMA>" in raw or ">100<" in raw
    soap.CLN_USR_GET(SELECT_ID=104)
    received = etree.tostring(zeep_client.history.last_received["envelope"]).decode()
    balance = etree.fromstring(received.encode()).findtext(".//gw:BALANCE", namespaces=NS)
    assert "E" not in balance.upper() and len(balance.split(".")[1]) == 2


# -- faults ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, field", [
    (lambda s: s.CLN_FIN_OPER_ADD(USER_ID=101, OP_DATE=dt.datetime.now(), SUMMA=Decimal("1"),
                                  NUMBER="12345678901"), "NUMBER"),
    (lambda s: s.CLN_FIN_OPER_ADD(USER_ID=101, OP_DATE=dt.datetime.now(), SUMMA=Decimal("1.005")), "SUMMA"),
    (lambda s: s.CLN_HOME_EDIT(P_OP=7, ID=1), "P_OP"),
    (lambda s: s.CLN_HOME_EDIT(P_OP=1, ZIP_CODE="12345678901"), "ZIP_CODE"),
], ids=["too-long", "three-decimals", "bad-operation-code", "zip-too-long"])
def test_validation_faults_reach_no_billing(soap: Any, emulator: Any, call: Any, field: str) -> None:
    before = emulator.stats()["requests"]
    fault = fault_of(lambda: call(soap))
    assert fault.code.endswith("Client.ValidationError")
    assert detail_code(fault) == "VALIDATION_ERROR"
    assert field in fault.detail.xpath("gw:GatewayFault/gw:field/text()", namespaces=NS)
    assert fault.message.startswith("[VALIDATION_ERROR]")
    assert emulator.stats()["requests"] == before


def _post(url: str, body: str) -> requests.Response:
    return requests.post(f"{url}/soap", data=body.encode(), timeout=10,
                         headers={"Content-Type": "text/xml; charset=utf-8"})


@pytest.mark.parametrize("body, field", [
    ("<b:CLN_USR_GET><b:SELECT_ID>12x</b:SELECT_ID></b:CLN_USR_GET>", "SELECT_ID"),
    ("<b:CLN_USR_GET/>", None),
    ("<b:CLN_FIN_OPER_ADD><b:USER_ID>1</b:USER_ID><b:OP_DATE>2024-01-01T24:00:00</b:OP_DATE>"
     "<b:SUMMA>1</b:SUMMA></b:CLN_FIN_OPER_ADD>", "OP_DATE"),
    ("<b:CLN_FIN_OPER_ADD><b:USER_ID>1</b:USER_ID><b:OP_DATE>2024-02-30T10:00:00</b:OP_DATE>"
     "<b:SUMMA>1</b:SUMMA></b:CLN_FIN_OPER_ADD>", "OP_DATE"),
    ("<b:CLN_FIN_OPER_ADD><b:USER_ID>1</b:USER_ID><b:OP_DATE>2024-02-01T10:00:00</b:OP_DATE>"
     "<b:SUMMA>1E+2</b:SUMMA></b:CLN_FIN_OPER_ADD>", "SUMMA"),
], ids=["not-an-integer", "missing-required", "hour-24", "february-30", "exponent-decimal"])
def test_malformed_values_are_client_faults(gateway_server: Any, emulator: Any, body: str, field: str) -> None:
    before = emulator.stats()["requests"]
    response = _post(gateway_server.url, envelope(body))
    assert response.status_code == 500 and response.headers["Content-Type"].startswith("text/xml")
    fault = etree.fromstring(response.content).find(f".//{{{ENV}}}Fault")
    assert fault.findtext("faultcode").endswith("Client.ValidationError")
    if field:
        assert field in fault.findtext("faultstring")
    assert emulator.stats()["requests"] == before


def test_doctype_is_refused_with_a_soap_fault(gateway_server: Any) -> None:
    body = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            + operation("CLN_USR_GET", SELECT_ID="&e;"))
    response = _post(gateway_server.url, body)
    assert response.status_code == 500
    fault = etree.fromstring(response.content).find(f".//{{{ENV}}}Fault")
    assert fault.findtext("faultcode").endswith("Client.DTDNotAllowed")
    assert "root:" not in response.text


def test_billing_error_carries_the_billing_message(soap: Any) -> None:
    fault = fault_of(lambda: soap.CLN_USR_GET(SELECT_ID=999999))
    assert fault.code.endswith("Client.NotFound") and detail_code(fault) == "NOT_FOUND"
    assert "999999" in fault.detail.findtext("gw:GatewayFault/gw:billingMessage", namespaces=NS)


def test_session_expiry_is_handled_transparently(soap: Any, emulator: Any) -> None:
    soap.CLN_USR_GET(SELECT_ID=IVANOV)
    emulator.expire_sessions()
    logins = emulator.stats()["logins"]
    assert soap.CLN_USR_GET(SELECT_ID=IVANOV).NAME == "Иванов Иван Иванович"
    assert emulator.stats()["logins"] == logins + 1


def test_billing_http_errors_become_unavailable_faults(soap: Any, emulator: Any) -> None:
    emulator.add_fault("http_error", status=503, proc="CLN_HOME_LIST")
    fault = fault_of(lambda: soap.CLN_HOME_LIST())
    assert fault.code.endswith("Server.BillingUnavailable") and detail_code(fault) == "BILLING_UNAVAILABLE"


def test_unreachable_billing_is_an_unavailable_fault(gateway_settings: Any) -> None:
    import dataclasses
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    billing = dataclasses.replace(gateway_settings.billing, url=f"https://127.0.0.1:{closed_port}/api.php",
                                  read_retries=0)
    with gateway_in_thread(dataclasses.replace(gateway_settings, billing=billing)) as server:
        client = zeep.Client(f"{server.url}/soap?wsdl", settings=zeep.Settings(strict=True, force_https=False))
        fault = fault_of(lambda: client.service.CLN_USR_GET(SELECT_ID=IVANOV))
    assert fault.code.endswith("Server.BillingUnavailable") and detail_code(fault) == "BILLING_UNAVAILABLE"
    assert "reachable" in fault.message


def test_correlation_id_comes_back(gateway_server: Any) -> None:
    body = operation("CLN_HOME_LIST", P_ID=5)
    response = requests.post(f"{gateway_server.url}/soap", data=body, timeout=10,
                             headers={"Content-Type": "text/xml", "X-Correlation-ID": "abc-123"})
    assert response.status_code == 200 and response.headers["X-Correlation-ID"] == "abc-123"
    assert "Казань" in response.content.decode("utf-8")
