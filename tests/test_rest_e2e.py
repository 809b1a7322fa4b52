"""End to end over REST: requests -> gateway /api/v1/ over HTTP -> emulator over mutual TLS.

The same operations and assertions as tests/test_soap_e2e.py; every JSON reply
is validated against the schema in the gateway's own OpenAPI document.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
import requests

IVANOV, GROUP_FIZ = 101, 2
MONEY = re.compile(r"-?\d+\.\d{2}")


class Rest:
    """Calls /api/v1/<NAME>; each 2xx body is checked against the OpenAPI response schema."""

    def __init__(self, base: str, document: dict[str, Any]) -> None:
        self.base, self.document = base, document

    def call(self, name: str, method: str = "POST", headers: dict[str, str] | None = None,
             **args: Any) -> requests.Response:
        url = f"{self.base}/api/v1/{name}"
        if method == "GET":
            return requests.get(url, params=args, headers=headers, timeout=30)
        return requests.post(url, json=args, headers=headers, timeout=30)

    def __call__(self, name: str, method: str = "POST", **args: Any) -> Any:
        response = self.call(name, method, **args)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == "application/json"
        body = response.json()
        self.check(name, method, body)
        return body

    def check(self, name: str, method: str, body: Any) -> None:
        operation = self.document["paths"][f"/{name}"][method.lower()]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        jsonschema.Draft202012Validator({**schema, "components": self.document["components"]},
                                        format_checker=jsonschema.FormatChecker()).validate(body)


@pytest.fixture(scope="module")
def rest(gateway_server: Any) -> Rest:
    document = requests.get(f"{gateway_server.url}/api/openapi.json", timeout=10).json()
    return Rest(gateway_server.url, document)


def problem_of(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code and problem["status"] == status
    assert problem["correlationId"] == response.headers["X-Correlation-ID"]
    return problem


# -- every operation -------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "POST"])
def test_usr_get_is_typed_with_cyrillic_intact(rest: Rest, method: str) -> None:
    user = rest("CLN_USR_GET", method, SELECT_ID=IVANOV)
    assert user["NAME"] == "Иванов Иван Иванович"
    assert user["CONTRACT_NUMBER"] == "Д-2024/001"
    assert isinstance(user["BALANCE"], str) and MONEY.fullmatch(user["BALANCE"])
    assert user["CREATE_DATE"] == "2019-03-20"
    assert dt.datetime.fromisoformat(user["NEXT_AUTO_ACOUNT"]).tzinfo is None
    assert user["IP"] == "10.0.1.15" and user["NAS_IP"] == "10.255.0.1"


def test_find_2_by_contract_number_and_by_name(rest: Rest) -> None:
    (row,) = rest("CLN_USR_FIND_2", "GET", CONTRACT_NUMBER_IN="Д-2024/002")
    assert (row["ID"], row["IDENTIFY"], row["IP"]) == (102, "Петрова Мария Сергеевна", "192.168.10.20")
    assert MONEY.fullmatch(row["BALANCE"])
    names = {r["IDENTIFY"] for r in rest("CLN_USR_FIND_2", NAME_IN="ов")}
    assert {"Иванов Иван Иванович", "Сидоров Алексей Петрович"} <= names


def test_home_list_many_and_exactly_one(rest: Rest) -> None:
    homes = rest("CLN_HOME_LIST", "GET")
    assert len(homes) >= 5 and {h["CITY"] for h in homes} >= {"Москва", "Санкт-Петербург", "Казань"}
    (kazan,) = rest("CLN_HOME_LIST", "GET", P_ID=5)
    assert (kazan["CITY"], kazan["STREET"], kazan["S_NUMBER"]) == ("Казань", "ул. Баумана", 7)
    assert kazan["CONNECT_DATE"] == "2021-04-01T00:00:00"


def test_home_edit_add_update_delete(rest: Rest) -> None:
    added = rest("CLN_HOME_EDIT", P_OP=1, CITY="Новосибирск", STREET="Красный проспект", S_NUMBER=1,
                 COUNTRY="Россия", CONNECT_DATE="2024-05-06T07:08:09")
    assert isinstance(added["ID"], int)
    rest("CLN_HOME_EDIT", P_OP=0, ID=added["ID"], CITY="Новосибирск", STREET="Красный проспект", S_NUMBER=2)
    (home,) = rest("CLN_HOME_LIST", "GET", P_ID=added["ID"])
    assert (home["CITY"], home["S_NUMBER"]) == ("Новосибирск", 2)
    rest("CLN_HOME_EDIT", P_OP=2, ID=added["ID"])
    assert rest("CLN_HOME_LIST", "GET", P_ID=added["ID"]) == []


def test_switch_edit_and_list_with_high_ip(rest: Rest) -> None:
    added = rest("CLN_SWITCH_EDIT", P_OP=1, NAME="sw-nsk-2", IP="192.168.77.2", SWITCH_TYPE="Eltex MES2324",
                 HOME_ID=1, PORTS_CNT=24, PSW_SNMP="public1")
    (switch,) = rest("CLN_SWITCH_LIST", P_ID=added["ID"])
    assert (switch["NAME"], switch["IP"], switch["PORTS_CNT"]) == ("sw-nsk-2", "192.168.77.2", 24)
    rest("CLN_SWITCH_EDIT", P_OP=2, ID=added["ID"])
    assert rest("CLN_SWITCH_LIST", "GET", P_ID=added["ID"]) == []
    assert len(rest("CLN_SWITCH_LIST", "GET", P_HOME_ID=1)) >= 1


def test_usluga_edit_add_and_delete(rest: Rest, emulator: Any) -> None:
    before = len(emulator.services(103))
    added = rest("CLN_USR_USLUGA_EDIT", UK=1, USER_ID=103, USLUGA_ID=2, ENABLED=1, COUNTT=1, COMMENT="IPTV")
    assert len(emulator.services(103)) == before + 1
    rest("CLN_USR_USLUGA_EDIT", UK=2, ID=added["ID"])
    assert len(emulator.services(103)) == before


def test_promise_pay_is_visible_as_decimal(rest: Rest) -> None:
    # 102: one promised payment per subscriber at a time, and the SOAP suite grants 105 one
    rest("WEB_USER_PROMISE_PAY", USER_ID=102, PROMISE_PAY="300.00", HOST="1c-buh")
    user = rest("CLN_USR_GET", "GET", SELECT_ID=102)
    assert user["PROMISE_PAY"] == "300.00" and dt.datetime.fromisoformat(user["PROMISE_DATE_END"])


def test_auth_login_and_own_session_header(rest: Rest, emulator: Any) -> None:
    login = rest("CLN_AUTH_LOGIN", LOGIN="kassir1", PASSWORD="pass1")
    assert isinstance(login["SUID"], int) and login["SUID"] > 0
    emulator.reset_stats()
    response = rest.call("CLN_USR_GET", "GET", headers={"X-Billing-SUID": str(login["SUID"])}, SELECT_ID=IVANOV)
    assert response.json()["NAME"] == "Иванов Иван Иванович"
    assert [r.login for r in emulator.requests()] == ["kassir1"]


def test_a_login_never_travels_in_a_url(rest: Rest, emulator: Any) -> None:
    before = emulator.stats()["requests"]
    response = rest.call("CLN_AUTH_LOGIN", "GET", LOGIN="kassir1", PASSWORD="pass1")
    problem_of(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["Allow"] == "POST" and "pass1" not in response.text
    assert emulator.stats()["requests"] == before


def test_auth_login_refused_is_a_problem(rest: Rest) -> None:
    problem = problem_of(rest.call("CLN_AUTH_LOGIN", LOGIN="kassir1", PASSWORD="wrong"), 403,
                         "AUTHENTICATION_FAILED")
    assert "wrong" not in str(problem)


# -- the payment scenario --------------------------------------------------------------------------

def test_find_read_pay_read_list(rest: Rest) -> None:
    (found,) = rest("CLN_USR_FIND_2", CONTRACT_NUMBER_IN="Д-2024/003")
    before = Decimal(rest("CLN_USR_GET", "GET", SELECT_ID=found["ID"])["BALANCE"])
    when = dt.datetime.now().replace(microsecond=0)
    posted = rest("CLN_FIN_OPER_ADD", USER_ID=found["ID"], OP_DATE=when.isoformat(), SUMMA="1234.56",
                  DESCR="Оплата через 1С, п/п №18", NUMBER="PP-18")
    assert isinstance(posted["ID"], int)
    after = Decimal(rest("CLN_USR_GET", "GET", SELECT_ID=found["ID"])["BALANCE"])
    assert after - before == Decimal("1234.56")
    operations = rest("CLN_FIN_OPER", "GET", USER_ID=found["ID"],
                      DATEL=(when - dt.timedelta(minutes=1)).isoformat(),
                      DATEH=(when + dt.timedelta(minutes=1)).isoformat())
    mine = [op for op in operations if op["ID"] == posted["ID"]]
    assert len(mine) == 1
    assert (mine[0]["SUMMA"], mine[0]["NUMBER"], mine[0]["OP_DATE"]) == ("1234.56", "PP-18", when.isoformat())
    assert re.fullmatch(r"\[gw:[0-9a-f]{16}\] Оплата через 1С, п/п №18", mine[0]["DESCR"])  # the marker first


def test_fin_oper_on_a_group_covers_its_subscribers(rest: Rest) -> None:
    assert {op["USER_ID"] for op in rest("CLN_FIN_OPER", "GET", USER_ID=GROUP_FIZ)} >= {101, 102}


def test_fin_oper_as_ndjson(rest: Rest) -> None:
    response = rest.call("CLN_FIN_OPER", "GET", headers={"Accept": "application/x-ndjson"}, USER_ID=GROUP_FIZ)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/x-ndjson"
    lines = response.text.splitlines()
    assert lines and all(line.startswith("{") for line in lines)
    as_array = rest("CLN_FIN_OPER", "GET", USER_ID=GROUP_FIZ)
    assert [__import__("json").loads(line) for line in lines] == as_array


def test_money_is_a_decimal_string_never_a_float(rest: Rest, emulator: Any) -> None:
    before = emulator.stats()["requests"]
    response = rest.call("CLN_FIN_OPER_ADD", USER_ID=104, OP_DATE="2024-01-01T10:00:00", SUMMA=100.5)
    problem = problem_of(response, 400, "VALIDATION_ERROR")
    assert problem["field"] == ["SUMMA"] and "float" in problem["errors"][0]["detail"]
    assert emulator.stats()["requests"] == before
    posted = rest("CLN_FIN_OPER_ADD", USER_ID=104, OP_DATE="2024-01-01T10:00:00", SUMMA="100", NUMBER="X2")
    assert isinstance(posted["ID"], int)


# -- idempotency: one key scope for REST and SOAP --------------------------------------------------

def test_a_retried_payment_posts_once(rest: Rest, emulator: Any) -> None:
    key = uuid.uuid4().hex
    args = dict(USER_ID=104, OP_DATE="2024-02-01T10:00:00", SUMMA="10.00", NUMBER="R1")
    emulator.reset_stats()
    first = rest.call("CLN_FIN_OPER_ADD", headers={"Idempotency-Key": key}, **args)
    again = rest.call("CLN_FIN_OPER_ADD", headers={"Idempotency-Key": f'"{key}"'}, **args)  # RFC 8941 form
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert len([r for r in emulator.requests() if r.proc == "CLN_FIN_OPER_ADD"]) == 1
    other = rest.call("CLN_FIN_OPER_ADD", headers={"Idempotency-Key": key}, **dict(args, SUMMA="11.00"))
    problem_of(other, 422, "IDEMPOTENCY_CONFLICT")


def test_rest_and_soap_share_one_key_scope(rest: Rest, zeep_client: Any, emulator: Any) -> None:
    key = uuid.uuid4().hex
    emulator.reset_stats()
    posted = rest.call("CLN_FIN_OPER_ADD", headers={"Idempotency-Key": key}, USER_ID=104,
                       OP_DATE="2024-03-01T10:00:00", SUMMA="20.00", NUMBER="R2").json()
    replayed = zeep_client.service.CLN_FIN_OPER_ADD(USER_ID=104, OP_DATE=dt.datetime(2024, 3, 1, 10),
                                                    SUMMA=Decimal("20.00"), NUMBER="R2", IDEMPOTENCY_KEY=key)
    assert replayed.ID == posted["ID"]
    assert len([r for r in emulator.requests() if r.proc == "CLN_FIN_OPER_ADD"]) == 1


def test_a_read_takes_no_idempotency_key(rest: Rest) -> None:
    response = rest.call("CLN_USR_GET", "GET", headers={"Idempotency-Key": "k1"}, SELECT_ID=IVANOV)
    assert problem_of(response, 400, "VALIDATION_ERROR")["field"] == ["Idempotency-Key"]


# -- errors ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, field", [
    (dict(USER_ID=101, OP_DATE="2024-01-01T10:00:00", SUMMA="1", NUMBER="12345678901"), "NUMBER"),
    (dict(USER_ID=101, OP_DATE="2024-01-01T10:00:00", SUMMA="1.005"), "SUMMA"),
    (dict(USER_ID=101, OP_DATE="2024-02-30T10:00:00", SUMMA="1"), "OP_DATE"),
    (dict(USER_ID="12x", OP_DATE="2024-01-01T10:00:00", SUMMA="1"), "USER_ID"),
    (dict(OP_DATE="2024-01-01T10:00:00", SUMMA="1"), "USER_ID"),
    (dict(USER_ID=101, OP_DATE="2024-01-01T10:00:00", SUMMA="1", NO_SUCH=1), "NO_SUCH"),
    (dict(USER_ID=101, OP_DATE="2024-01-01T10:00:00", SUMMA="0.00"), "SUMMA"),
    (dict(USER_ID=101, OP_DATE="0001-01-01T00:00:00", SUMMA="1"), "OP_DATE"),
], ids=["too-long", "three-decimals", "february-30", "not-an-integer", "missing-required", "unknown", "zero-amount",
        "empty-1c-date"])
def test_validation_problems_reach_no_billing(rest: Rest, emulator: Any, args: dict[str, Any], field: str) -> None:
    before = emulator.stats()["requests"]
    problem = problem_of(rest.call("CLN_FIN_OPER_ADD", **args), 400, "VALIDATION_ERROR")
    assert field in problem["field"] and problem["type"].endswith("VALIDATION_ERROR")
    assert emulator.stats()["requests"] == before


def test_billing_error_carries_the_billing_message(rest: Rest) -> None:
    problem = problem_of(rest.call("CLN_USR_GET", "GET", SELECT_ID=999999), 404, "NOT_FOUND")
    assert "999999" in problem["billingMessage"]


def test_billing_http_errors_become_unavailable_problems(rest: Rest, emulator: Any) -> None:
    emulator.add_fault("http_error", status=503, proc="CLN_HOME_LIST")
    problem_of(rest.call("CLN_HOME_LIST", "GET"), 503, "BILLING_UNAVAILABLE")


def test_session_expiry_is_handled_transparently(rest: Rest, emulator: Any) -> None:
    rest("CLN_USR_GET", "GET", SELECT_ID=IVANOV)
    emulator.expire_sessions()
    logins = emulator.stats()["logins"]
    assert rest("CLN_USR_GET", "GET", SELECT_ID=IVANOV)["NAME"] == "Иванов Иван Иванович"
    assert emulator.stats()["logins"] == logins + 1


@pytest.mark.parametrize("method, path, status, code", [
    ("POST", "/api/v1/NO_SUCH_PROC", 404, "UNKNOWN_OPERATION"),
    ("GET", "/api/v1/CLN_FIN_OPER_ADD", 405, "METHOD_NOT_ALLOWED"),
    ("DELETE", "/api/v1/CLN_USR_GET", 405, "METHOD_NOT_ALLOWED"),
], ids=["unknown", "write-by-get", "delete"])
def test_routing_problems(gateway_server: Any, method: str, path: str, status: int, code: str) -> None:
    problem_of(requests.request(method, f"{gateway_server.url}{path}", timeout=10), status, code)


@pytest.mark.parametrize("body, content_type", [
    (b"{not json", "application/json"), (b"[1]", "application/json"), (b"SELECT_ID=1", "text/plain"),
], ids=["not-json", "not-an-object", "not-json-content-type"])
def test_malformed_bodies(gateway_server: Any, body: bytes, content_type: str) -> None:
    response = requests.post(f"{gateway_server.url}/api/v1/CLN_USR_GET", data=body, timeout=10,
                             headers={"Content-Type": content_type})
    problem_of(response, 400, "BAD_REQUEST")


def test_correlation_id_comes_back(gateway_server: Any) -> None:
    response = requests.get(f"{gateway_server.url}/api/v1/CLN_HOME_LIST", params={"P_ID": 5},
                            headers={"X-Correlation-ID": "abc-124"}, timeout=10)
    assert response.status_code == 200 and response.headers["X-Correlation-ID"] == "abc-124"
    assert response.json()[0]["CITY"] == "Казань"
