"""The REST facade stands on the same web layer as SOAP: authentication, roles, secret columns,
the allow-list, metrics with a facade label and the request log, end to end over HTTP."""

from __future__ import annotations

import logging
from typing import Any, Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from securing import PASSWORDS, basic_auth, secured_gateway

@pytest.fixture(scope="module")
def server(gateway_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with secured_gateway(gateway_settings, basic_auth(tmp_path_factory.mktemp("auth"))) as gateway:
        yield gateway


def get(server: Any, name: str, user: str | None = None, **params: Any) -> requests.Response:
    auth = (user, PASSWORDS[user]) if user else None
    return requests.get(f"{server.url}/api/v1/{name}", params=params, auth=auth, timeout=30)


def test_no_credentials_get_a_basic_challenge_as_a_problem(server: Any) -> None:
    response = get(server, "CLN_USR_GET", SELECT_ID=101)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Basic ")
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "AUTHENTICATION_REQUIRED" and problem["correlationId"]


def test_wrong_password_is_refused(server: Any) -> None:
    response = requests.get(f"{server.url}/api/v1/CLN_USR_GET", params={"SELECT_ID": 101},
                            auth=("reader1", "not-it"), timeout=30)
    assert response.status_code == 401 and "not-it" not in response.text


def test_a_role_is_refused_what_it_may_not_call(server: Any, emulator: Any) -> None:
    before = emulator.stats()["requests"]
    response = requests.post(f"{server.url}/api/v1/CLN_FIN_OPER_ADD", auth=("reader1", PASSWORDS["reader1"]),
                             json={"USER_ID": 101, "OP_DATE": "2024-01-01T10:00:00", "SUMMA": "1.00"}, timeout=30)
    assert response.status_code == 403 and response.json()["code"] == "PERMISSION_DENIED"
    assert emulator.stats()["requests"] == before


def test_secret_columns_follow_the_role(server: Any, emulator: Any) -> None:
    assert get(server, "CLN_USR_GET", "reader1", SELECT_ID=101).json()["PSW"] is None
    row = get(server, "CLN_USR_GET", "auditor", SELECT_ID=101).json()
    assert row["PSW"] == emulator.user(101)["PSW"] and row["GEN_PWD"] is None


def test_the_allow_list_applies(server: Any) -> None:
    response = requests.get(f"{server.url}/api/v1/CLN_USR_GET", params={"SELECT_ID": 101}, timeout=30,
                            auth=("reader1", PASSWORDS["reader1"]), headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 403 and response.json()["code"] == "ADDRESS_NOT_ALLOWED"


def test_the_description_is_public_like_the_wsdl(server: Any) -> None:
    assert requests.get(f"{server.url}/api/openapi.json", timeout=10).status_code == 200
    assert requests.get(f"{server.url}/api/docs", timeout=10).status_code == 200


def _samples(server: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = requests.get(f"{server.url}/metrics", auth=("reader1", PASSWORDS["reader1"]), timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_and_the_request_log_name_the_facade(server: Any, caplog: pytest.LogCaptureFixture) -> None:
    before = _samples(server)
    with caplog.at_level(logging.INFO, logger="soap_gateway.request"):
        assert get(server, "CLN_USR_GET", "reader1", SELECT_ID=101).status_code == 200
        assert get(server, "CLN_USR_GET", "reader1", SELECT_ID=999999).status_code == 404
    after = _samples(server)

    def delta(**labels: str) -> float:
        key = ("soap_gateway_requests_total", tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta(facade="rest", operation="CLN_USR_GET", outcome="ok") == 1
    assert delta(facade="rest", operation="CLN_USR_GET", outcome="NOT_FOUND") == 1
    assert delta(facade="soap", operation="CLN_USR_GET", outcome="ok") == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "soap_gateway.request"]
    assert any(m.startswith("rest CLN_USR_GET caller=reader1 outcome=ok status=200") for m in lines), lines
    assert any("outcome=NOT_FOUND status=404" in m for m in lines)
    assert all(PASSWORDS["reader1"] not in m for m in lines)
