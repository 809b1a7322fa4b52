"""Caller authentication and authorization end to end: zeep over HTTP -> gateway -> emulator over mTLS.

Each mode (HTTP Basic with argon2 hashes, a client certificate reported by a
trusted proxy, the address allow-list, pass-through) with right and wrong
credentials, and each built-in role against operations it may and may not call.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any, Iterator

import pytest
import requests
import zeep

import securing
from securing import PASSWORDS, faultcode, post, secured_gateway, soap_client

GET_101 = "<b:CLN_USR_GET><b:SELECT_ID>101</b:SELECT_ID></b:CLN_USR_GET>"


@pytest.fixture(scope="module")
def basic_auth(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return securing.basic_auth(tmp_path_factory.mktemp("auth"))


@pytest.fixture(scope="module")
def basic_server(gateway_settings: Any, basic_auth: Any) -> Iterator[Any]:
    with secured_gateway(gateway_settings, basic_auth) as server:
        yield server


@pytest.fixture(scope="module")
def clients(basic_server: Any) -> dict[str, Any]:
    return {user: soap_client(basic_server, user, pw) for user, pw in PASSWORDS.items()}


def fault_of(call: Any) -> zeep.exceptions.Fault:
    with pytest.raises(zeep.exceptions.Fault) as caught:
        call()
    return caught.value


# -- HTTP Basic ------------------------------------------------------------------------------------

def test_no_credentials_get_a_basic_challenge(basic_server: Any) -> None:
    response = post(basic_server, GET_101)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="soap-gateway", charset="UTF-8"'
    assert faultcode(response).endswith("Client.AuthenticationRequired")


@pytest.mark.parametrize("user, password", [
    ("boss", "wrong-password"), ("nobody", "B0ss-pw-99"), ("boss", ""), ("", "B0ss-pw-99"),
], ids=["wrong-password", "unknown-user", "empty-password", "empty-user"])
def test_wrong_credentials_are_refused_without_saying_why(basic_server: Any, emulator: Any, user: str,
                                                          password: str, caplog: pytest.LogCaptureFixture) -> None:
    before = emulator.stats()["requests"]
    with caplog.at_level(logging.DEBUG):
        response = post(basic_server, GET_101, auth=(user, password))
    assert response.status_code == 401 and "WWW-Authenticate" in response.headers
    assert faultcode(response).endswith("Client.AuthenticationRequired")
    assert "nobody" not in response.text and "password" not in response.text.lower()
    assert emulator.stats()["requests"] == before
    assert all("B0ss-pw-99" not in r.getMessage() for r in caplog.records)


def test_garbled_authorization_headers_are_a_challenge(basic_server: Any) -> None:
    for header in ("Basic !!!not-base64!!!", "Basic " + "Ym9zcw==", "Bearer abc", "Basic"):
        response = post(basic_server, GET_101, headers={"Authorization": header})
        assert response.status_code == 401, header


def test_right_credentials_call_through_zeep(clients: dict[str, Any]) -> None:
    assert clients["boss"].CLN_USR_GET(SELECT_ID=101).NAME == "Иванов Иван Иванович"


def test_wsdl_and_health_need_no_credentials(basic_server: Any) -> None:
    assert requests.get(f"{basic_server.url}/soap?wsdl", timeout=10).status_code == 200
    assert requests.get(f"{basic_server.url}/healthz", timeout=10).status_code == 200


def test_wsdl_can_require_credentials(gateway_settings: Any, basic_auth: Any) -> None:
    import dataclasses

    with secured_gateway(gateway_settings, dataclasses.replace(basic_auth, wsdl_public=False)) as server:
        assert requests.get(f"{server.url}/soap?wsdl", timeout=10).status_code == 401
        granted = requests.get(f"{server.url}/soap?wsdl", auth=("reader1", PASSWORDS["reader1"]), timeout=10)
        assert granted.status_code == 200 and b"CLN_USR_GET" in granted.content


# -- roles -----------------------------------------------------------------------------------------

def _pay(service: Any) -> Any:
    return service.CLN_FIN_OPER_ADD(USER_ID=104, OP_DATE=dt.datetime(2024, 3, 1, 10, 0), SUMMA=Decimal("10.00"),
                                    NUMBER="ROLE-T")


def _home(service: Any) -> Any:
    return service.CLN_HOME_EDIT(P_OP=1, CITY="Проверка ролей", STREET="Тестовая", S_NUMBER=1)


ALLOWED = [
    ("reader1", lambda s: s.CLN_USR_GET(SELECT_ID=101)),
    ("reader1", lambda s: s.CLN_FIN_OPER(USER_ID=101)),
    ("reader1", lambda s: s.CLN_SWITCH_LIST()),
    ("kassa", lambda s: s.CLN_USR_FIND_2(CONTRACT_NUMBER_IN="Д-2024/001")),
    ("kassa", _pay),
    ("kassa", lambda s: s.WEB_USER_PROMISE_PAY(USER_ID=104, PROMISE_PAY=Decimal("5.00"))),
    ("boss", _home),
    ("boss", lambda s: s.CLN_AUTH_LOGIN(LOGIN="kassir1", PASSWORD="pass1")),
    ("auditor", lambda s: s.CLN_USR_GET(SELECT_ID=101)),
]
DENIED = [
    ("reader1", "CLN_FIN_OPER_ADD", _pay),
    ("reader1", "WEB_USER_PROMISE_PAY", lambda s: s.WEB_USER_PROMISE_PAY(USER_ID=104, PROMISE_PAY=Decimal("5.00"))),
    ("reader1", "CLN_HOME_EDIT", _home),
    ("kassa", "CLN_HOME_EDIT", _home),
    ("kassa", "CLN_SWITCH_EDIT", lambda s: s.CLN_SWITCH_EDIT(P_OP=2, ID=4)),
    ("kassa", "CLN_AUTH_LOGIN", lambda s: s.CLN_AUTH_LOGIN(LOGIN="kassir1", PASSWORD="pass1")),
    ("auditor", "CLN_FIN_OPER", lambda s: s.CLN_FIN_OPER(USER_ID=101)),
]


@pytest.mark.parametrize("user, call", ALLOWED, ids=[f"{u}-{i}" for i, (u, _) in enumerate(ALLOWED)])
def test_each_role_may_call_its_operations(clients: dict[str, Any], user: str, call: Any) -> None:
    call(clients[user])  # no fault


@pytest.mark.parametrize("user, operation, call", DENIED, ids=[f"{u}-{o}" for u, o, _ in DENIED])
def test_each_role_is_refused_other_operations(clients: dict[str, Any], emulator: Any, user: str, operation: str,
                                               call: Any, caplog: pytest.LogCaptureFixture) -> None:
    before = emulator.stats()["requests"]
    with caplog.at_level(logging.INFO, logger="soap_gateway"):
        fault = fault_of(lambda: call(clients[user]))
    assert fault.code.endswith("Client.PermissionDenied") and fault.message.startswith("[PERMISSION_DENIED]")
    assert operation in fault.message
    assert emulator.stats()["requests"] == before  # refused before the billing is asked
    logged = [r.getMessage() for r in caplog.records if r.name == "soap_gateway.security"]
    assert any("permission denied" in m and user in m and operation in m for m in logged)
    assert all(PASSWORDS[user] not in m for m in logged)


# -- secret columns --------------------------------------------------------------------------------

def test_secret_columns_are_blank_even_for_admin(clients: dict[str, Any], emulator: Any) -> None:
    assert emulator.user(101)["PSW"] and emulator.user(104)["AD_PASS"]
    for user_id in (101, 104):
        row = clients["boss"].CLN_USR_GET(SELECT_ID=user_id)
        assert row.NAME and (row.PSW, row.GEN_PWD, row.AD_PASS) == (None, None, None)
    for switch in clients["reader1"].CLN_SWITCH_LIST():
        assert switch.NAME and (switch.PSW_SNMP, switch.PSW_SSH, switch.PSW_TELNET) == (None, None, None)


def test_a_role_sees_exactly_the_secrets_the_config_allows(clients: dict[str, Any], emulator: Any) -> None:
    row = clients["auditor"].CLN_USR_GET(SELECT_ID=101)
    assert row.PSW == emulator.user(101)["PSW"]
    assert row.GEN_PWD is None and row.AD_PASS is None
    (switch,) = [s for s in clients["auditor"].CLN_SWITCH_LIST() if s.ID == 1]
    assert switch.PSW_SNMP == "snmpTv12ro" and switch.PSW_SSH is None and switch.PSW_TELNET is None


def test_a_login_returns_its_own_session(clients: dict[str, Any]) -> None:
    assert clients["boss"].CLN_AUTH_LOGIN(LOGIN="kassir1", PASSWORD="pass1").SUID > 0


# -- client certificate via a trusted reverse proxy ------------------------------------------------

@pytest.mark.parametrize("value", [
    "CN=erp01,OU=integration,O=ISP",
    "serialNumber=7+CN=erp01,O=ISP",  # a multi-valued RDN
    "CN=касса-1,O=ISP".encode(),  # UTF-8 as it comes
    r"CN=\D0\BA\D0\B0\D1\81\D1\81\D0\B0-1,O=ISP",  # UTF-8 hex-escaped, as nginx escapes it
], ids=["dn", "multi-valued-rdn", "utf8", "utf8-escaped"])
def test_a_known_certificate_from_the_trusted_proxy_is_a_caller(basic_server: Any, value: str | bytes) -> None:
    service = soap_client(basic_server, headers={"X-Client-Cert-DN": value})
    assert service.CLN_USR_GET(SELECT_ID=101).NAME == "Иванов Иван Иванович"
    assert fault_of(lambda: _pay(service)).code.endswith("Client.PermissionDenied")  # a reader


@pytest.mark.parametrize("value", [
    r"OU=a\,CN=erp01,CN=intruder",  # the escaped comma is part of the OU: the CN is intruder
    r"CN=erp01\,O=ISP",  # one CN, "erp01,O=ISP"
    "CN=erp01,CN=erp02",  # two CNs: no one
    "CN=erp01+CN=erp02,O=ISP",
    "O=ISP",
    "/O=ISP/CN=erp01",  # not an RFC 4514 name
    "erp01",
    "CN=erp01,,O=ISP",
], ids=["escaped-comma", "escaped-comma-in-cn", "two-cns", "two-cns-one-rdn", "no-cn", "legacy-slashes",
        "bare-cn", "malformed"])
def test_a_certificate_subject_is_read_as_an_rfc4514_name(basic_server: Any, value: str) -> None:
    assert post(basic_server, GET_101, headers={"X-Client-Cert-DN": value}).status_code == 401


def test_an_unknown_certificate_falls_back_to_basic(basic_server: Any) -> None:
    headers = {"X-Client-Cert-DN": "CN=intruder,O=ISP"}
    assert post(basic_server, GET_101, headers=headers).status_code == 401
    assert post(basic_server, GET_101, headers=headers, auth=("reader1", PASSWORDS["reader1"])).status_code == 200


def test_the_certificate_header_from_an_untrusted_peer_is_ignored(gateway_settings: Any, basic_auth: Any) -> None:
    import dataclasses

    auth = dataclasses.replace(basic_auth, trusted_proxies=("192.0.2.1",))
    with secured_gateway(gateway_settings, auth) as server:
        response = post(server, GET_101, headers={"X-Client-Cert-DN": "CN=erp01"})
    assert response.status_code == 401


# -- address allow-list ----------------------------------------------------------------------------

def test_an_address_outside_the_allow_list_is_refused(gateway_settings: Any, basic_auth: Any, emulator: Any,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    import dataclasses

    before = emulator.stats()["requests"]
    with secured_gateway(gateway_settings, dataclasses.replace(basic_auth, allow=("10.20.0.0/16",))) as server:
        with caplog.at_level(logging.WARNING, logger="soap_gateway.security"):
            response = post(server, GET_101, auth=("boss", PASSWORDS["boss"]))
        wsdl = requests.get(f"{server.url}/soap?wsdl", timeout=10)
        health = requests.get(f"{server.url}/healthz", timeout=10)
    assert response.status_code == 403 and faultcode(response).endswith("Client.AddressNotAllowed")
    assert wsdl.status_code == 403 and health.status_code == 200
    assert emulator.stats()["requests"] == before
    assert any("127.0.0.1" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("forwarded, status", [
    ("198.51.100.7", 200), ("203.0.113.9", 403), ("203.0.113.9, 198.51.100.7", 200),
    ("198.51.100.7, 203.0.113.9", 403),
], ids=["allowed", "outside", "spoofed-left-hop-ignored", "real-hop-outside"])
def test_the_allow_list_sees_through_trusted_proxies(basic_server: Any, forwarded: str, status: int) -> None:
    response = post(basic_server, GET_101, headers={"X-Forwarded-For": forwarded},
                    auth=("reader1", PASSWORDS["reader1"]))
    assert response.status_code == status
