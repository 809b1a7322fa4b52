"""/readyz tells an anonymous probe ready or not per check, and names, paths and errors' words only to an admin.

The gateways here have the default of ``auth.readyz_details`` (off), unlike
the shared test gateway, whose health tests read every detail.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest
import requests

from securing import auth_from_toml, secured_gateway
from soap_gateway.security.passwords import hash_password
from soap_gateway.security.settings import AuthSettings

ADMIN, READER = ("boss", "Ready-admin-pw1"), ("reader1", "Ready-reader-pw1")


@pytest.fixture(scope="module")
def basic_auth(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return auth_from_toml(tmp_path_factory.mktemp("readyz"), f"""
[auth]
mode = "basic"
[auth.users.{ADMIN[0]}]
password_hash = "{hash_password(ADMIN[1])}"
roles = ["admin"]
[auth.users.{READER[0]}]
password_hash = "{hash_password(READER[1])}"
roles = ["reader"]
""")


@pytest.fixture(scope="module")
def server(gateway_settings: Any, basic_auth: Any) -> Iterator[Any]:
    with secured_gateway(gateway_settings, basic_auth) as http:
        yield http


def readyz(server: Any, auth: tuple[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    response = requests.get(f"{server.url}/readyz", auth=auth, timeout=30)
    return response.status_code, response.json(), response.text


def assert_anonymous(body: dict[str, Any], text: str, journal: str) -> None:
    assert all(set(check) == {"name", "state"} for check in body["checks"]), body
    assert "Administrator" not in text and "session of" not in text and journal not in text


@pytest.mark.parametrize("auth", [None, READER, (ADMIN[0], "wrong-password")], ids=["anonymous", "reader", "wrong"])
def test_without_admin_credentials_only_states(server: Any, gateway_settings: Any,
                                               auth: tuple[str, str] | None) -> None:
    status, body, text = readyz(server, auth)
    assert status == 200 and body["status"] == "ready"
    assert [c["name"] for c in body["checks"]] == ["login", "billing", "circuit_breaker", "journal"]
    assert all(c["state"] == "ok" for c in body["checks"])
    assert_anonymous(body, text, gateway_settings.journal.path)


def test_an_admin_sees_the_details(server: Any, gateway_settings: Any) -> None:
    status, body, text = readyz(server, ADMIN)
    checks = {c["name"]: c for c in body["checks"]}
    assert status == 200 and checks["login"]["detail"] == "session of Administrator"
    assert gateway_settings.journal.path in checks["journal"]["detail"] and "latency_ms" in checks["billing"]


def test_a_failure_is_a_state_without_its_words(server: Any, emulator: Any, gateway_settings: Any) -> None:
    emulator.add_fault("http_error", status=502, proc="CLN_HOME_LIST")
    status, body, text = readyz(server)
    assert status == 503 and body["status"] == "not ready"
    assert {c["name"]: c["state"] for c in body["checks"]}["billing"] == "failed" and "502" not in text
    assert_anonymous(body, text, gateway_settings.journal.path)


def test_mode_none_is_anonymous_unless_the_setting_says_otherwise(gateway_settings: Any) -> None:
    with secured_gateway(gateway_settings, AuthSettings(mode="none")) as http:
        _, body, text = readyz(http, ADMIN)
        assert_anonymous(body, text, gateway_settings.journal.path)
    with secured_gateway(gateway_settings, AuthSettings(mode="none", readyz_details=True)) as http:
        _, body, _ = readyz(http)
        assert {c["name"]: c for c in body["checks"]}["login"]["detail"] == "session of Administrator"

