"""Pass-through mode: each cashier's own billing login (HTTP Basic) is the billing session, one SUID each.

The billing's audit must show the real cashier, as the vendor recommends one
account per cashier; the gateway's service account is never used for them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any, Iterator

import pytest
import zeep

from securing import CASHIERS, faultcode, passthrough_auth, post, secured_gateway, soap_client
from soap_gateway.security.settings import AuthSettings



@pytest.fixture(scope="module")
def passthrough_server(gateway_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    auth = passthrough_auth(tmp_path_factory.mktemp("auth"), '["cashier"]', """
[auth.users.kassir2]
roles = ["admin"]
""")
    with secured_gateway(gateway_settings, auth) as server:
        yield server


def test_two_cashiers_each_reach_the_billing_as_themselves(passthrough_server: Any, emulator: Any) -> None:
    services = {login: soap_client(passthrough_server, login, pw) for login, pw in CASHIERS.items()}
    emulator.reset_stats()
    for round_ in range(2):
        for login, service in services.items():
            service.CLN_FIN_OPER_ADD(USER_ID=103, OP_DATE=dt.datetime(2024, 4, 1, 9, round_), SUMMA=Decimal("1.00"),
                                     DESCR=f"касса {login}", NUMBER=f"PT-{login[-1]}{round_}")
            assert service.CLN_USR_GET(SELECT_ID=103).NAME
    records = emulator.requests()
    for login in CASHIERS:
        payments = [r for r in records if r.proc == "CLN_FIN_OPER_ADD" and r.login == login]
        assert len(payments) == 2
        logins = [r for r in records if r.proc == "CLN_AUTH_LOGIN" and r.login == login]
        assert len(logins) == 1  # one SUID per cashier, cached across calls
    # never the service account for the cashiers' calls; only the gateway's own lookup of a payment
    # (calibration, docs/money-safety.md) logs in with it and reads CLN_FIN_OPER
    assert {r.login for r in records if r.proc in ("CLN_FIN_OPER_ADD", "CLN_USR_GET")} == set(CASHIERS)
    assert {r.proc for r in records if r.login not in CASHIERS} <= {"CLN_AUTH_LOGIN", "CLN_FIN_OPER"}
    mine = [op for op in emulator.fin_opers(103) if str(op.get("NUMBER", "")).startswith("PT-")]
    assert len(mine) == 4


def test_a_wrong_cashier_password_is_a_challenge_and_caches_nothing(passthrough_server: Any, emulator: Any) -> None:
    client = passthrough_server.app.gateway.client
    sessions_before = len(client._sessions)
    for attempt in range(3):
        response = post(passthrough_server, "<b:CLN_USR_GET><b:SELECT_ID>101</b:SELECT_ID></b:CLN_USR_GET>",
                        auth=("kassir1", f"guess-{attempt}"))
        assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Basic ")
        assert faultcode(response).endswith("Client.AuthenticationRequired")
    assert len(client._sessions) == sessions_before
    assert post(passthrough_server, "<b:CLN_USR_GET><b:SELECT_ID>101</b:SELECT_ID></b:CLN_USR_GET>",
                auth=("unknown-cashier", "x")).status_code == 401


def test_cashier_roles_apply_and_can_be_raised_per_login(passthrough_server: Any) -> None:
    kassir1 = soap_client(passthrough_server, "kassir1", "pass1")
    with pytest.raises(zeep.exceptions.Fault) as caught:
        kassir1.CLN_HOME_EDIT(P_OP=1, CITY="Сквозной режим", STREET="Кассовая", S_NUMBER=3)
    assert caught.value.code.endswith("Client.PermissionDenied")
    kassir2 = soap_client(passthrough_server, "kassir2", "pass2")
    added = kassir2.CLN_HOME_EDIT(P_OP=1, CITY="Сквозной режим", STREET="Кассовая", S_NUMBER=3)
    kassir2.CLN_HOME_EDIT(P_OP=2, ID=added.ID)


def test_a_cashier_whose_billing_session_expires_is_logged_in_again(passthrough_server: Any, emulator: Any) -> None:
    service = soap_client(passthrough_server, "kassir1", "pass1")
    service.CLN_USR_GET(SELECT_ID=102)
    emulator.expire_sessions()
    emulator.reset_stats()
    assert service.CLN_USR_GET(SELECT_ID=102).NAME == "Петрова Мария Сергеевна"
    assert [r.login for r in emulator.requests() if r.proc == "CLN_AUTH_LOGIN"] == ["kassir1"]


def test_an_unreachable_billing_is_a_fault_not_a_challenge(gateway_settings: Any) -> None:
    billing = dataclasses.replace(gateway_settings.billing, url="https://127.0.0.1:9/api.php", read_retries=0)
    settings = dataclasses.replace(gateway_settings, billing=billing)
    with secured_gateway(settings, AuthSettings(mode="pass-through")) as server:
        response = post(server, "<b:CLN_USR_GET><b:SELECT_ID>101</b:SELECT_ID></b:CLN_USR_GET>",
                        auth=("kassir1", "pass1"))
    assert response.status_code == 503 and "WWW-Authenticate" not in response.headers
    assert faultcode(response).endswith("Server.BillingUnavailable")
