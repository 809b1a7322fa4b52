"""The BillingSession header: a SUID is accepted only from the caller it was issued to through the gateway.

Pass-through mode, two cashiers with their own billing logins; a role that
may open a billing session (CLN_AUTH_LOGIN) through the gateway.  Another
caller's SUID, or one the gateway never issued, is refused before the
billing is asked, so the gateway is no oracle for guessing SUIDs.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterator

import pytest
import zeep

from securing import CASHIERS, passthrough_auth, secured_gateway, soap_client

TNS = "urn:soap-gateway:billing"


@pytest.fixture(scope="module")
def server(gateway_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    auth = passthrough_auth(tmp_path_factory.mktemp("auth"), '["session_cashier"]', """
[auth.roles.session_cashier]
operations = ["mode:read", "tag:payment", "CLN_AUTH_LOGIN"]
""")
    with secured_gateway(gateway_settings, auth) as running:
        yield running


def clients(server: Any) -> dict[str, Any]:
    return {login: soap_client(server, login, password) for login, password in CASHIERS.items()}


def header(server: Any, suid: int) -> Any:
    client = zeep.Client(f"{server.url}/soap?wsdl", settings=zeep.Settings(strict=True, force_https=False))
    return client.get_element(f"{{{TNS}}}BillingSession")(SUID=suid)


def billing_calls(emulator: Any) -> int:
    """The calls of these tests the billing received (not the pass-through logins of the cashiers themselves)."""
    return len([r for r in emulator.requests() if r.proc in ("CLN_USR_GET", "CLN_FIN_OPER_ADD")])


def test_a_suid_works_for_the_caller_it_was_issued_to(server: Any, emulator: Any) -> None:
    kassir1 = clients(server)["kassir1"]
    suid = kassir1.CLN_AUTH_LOGIN(LOGIN="kassir1", PASSWORD="pass1").SUID
    emulator.reset_stats()
    assert kassir1.CLN_USR_GET(SELECT_ID=101, _soapheaders=[header(server, suid)]).USER_ID == 101
    assert [r.login for r in emulator.requests()] == ["kassir1"]


def test_another_cashiers_suid_is_refused_without_asking_the_billing(server: Any, emulator: Any) -> None:
    services = clients(server)
    suid = services["kassir1"].CLN_AUTH_LOGIN(LOGIN="kassir1", PASSWORD="pass1").SUID
    balance, sent = emulator.balance(104), billing_calls(emulator)
    with pytest.raises(zeep.exceptions.Fault) as caught:
        services["kassir2"].CLN_FIN_OPER_ADD(USER_ID=104, OP_DATE=dt.datetime(2026, 3, 4, 9, 0),
                                             SUMMA=Decimal("1.00"), _soapheaders=[header(server, suid)])
    assert caught.value.code.endswith("Client.PermissionDenied") and "not issued to it" in caught.value.message
    assert billing_calls(emulator) == sent and emulator.balance(104) == balance


@pytest.mark.parametrize("suid", [12345, 999999999999])
def test_a_suid_the_gateway_never_issued_is_refused_without_asking_the_billing(server: Any, emulator: Any,
                                                                              suid: int) -> None:
    sent = billing_calls(emulator)
    for _ in range(3):  # guessing gets no answer from the billing
        with pytest.raises(zeep.exceptions.Fault) as caught:
            clients(server)["kassir2"].CLN_USR_GET(SELECT_ID=101, _soapheaders=[header(server, suid)])
        assert caught.value.code.endswith("Client.PermissionDenied")
    assert billing_calls(emulator) == sent
