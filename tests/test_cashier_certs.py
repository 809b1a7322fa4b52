"""One certificate per cashier: a gateway user (or a pass-through login) mapped to their own .pfx reaches
the billing with it, on its own connection pool; everyone else with the gateway's certificate."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest

from probe import CASHIER_PFX_PASSWORD, Probe
from securing import auth_from_toml, secured_gateway, soap_client
from soap_gateway.core import Gateway
from soap_gateway.errors import ConfigurationError
from soap_gateway.security.passwords import hash_password

PASSWORDS = {"kassa1": "Kassa1-pw", "kassa2": "Kassa2-pw"}


def basic_auth(tmp: Path, pki: Any, cert_password: str = CASHIER_PFX_PASSWORD) -> Any:
    hashes = {user: hash_password(pw) for user, pw in PASSWORDS.items()}
    return auth_from_toml(tmp, f"""
[auth]
mode = "basic"
[auth.users.kassa1]
password_hash = "{hashes['kassa1']}"
roles = ["cashier"]
[auth.users.kassa2]
password_hash = "{hashes['kassa2']}"
roles = ["cashier"]
cert = "{pki.clients['cashier2']}"
cert_password = "{cert_password}"
""")


@pytest.fixture(scope="module")
def server(gateway_settings: Any, pki: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with secured_gateway(gateway_settings, basic_auth(tmp_path_factory.mktemp("auth"), pki)) as http:
        yield http


def test_a_cashier_with_an_own_certificate_reaches_the_billing_with_it(server: Any, emulator: Any) -> None:
    services = {user: soap_client(server, user, pw) for user, pw in PASSWORDS.items()}
    probe = Probe(emulator)
    when = dt.datetime.now().replace(microsecond=0)
    for user, service in services.items():
        assert service.CLN_USR_GET(SELECT_ID=101).USER_ID == 101
        service.CLN_FIN_OPER_ADD(USER_ID=101, OP_DATE=when, SUMMA=Decimal("1.00"), DESCR=f"касса {user}")
    seen = {(r.proc, r.cn) for r in emulator.requests()[probe.start:]}
    assert {("CLN_USR_GET", "cashier1"), ("CLN_USR_GET", "cashier2"),
            ("CLN_FIN_OPER_ADD", "cashier1"), ("CLN_FIN_OPER_ADD", "cashier2")} <= seen
    client = server.app.gateway.client
    assert set(client.transports) == {"kassa2"} and client.transports["kassa2"] is not client.transport


def test_a_pass_through_login_can_have_its_own_certificate(gateway_settings: Any, pki: Any, emulator: Any,
                                                           tmp_path: Path) -> None:
    auth = auth_from_toml(tmp_path, f"""
[auth]
mode = "pass-through"
passthrough_roles = ["cashier"]
[auth.users.kassir2]
roles = ["cashier"]
cert = "{pki.clients['cashier2']}"
cert_password = "{CASHIER_PFX_PASSWORD}"
""")
    with secured_gateway(gateway_settings, auth) as http:
        probe = Probe(emulator)
        for login, password in (("kassir1", "pass1"), ("kassir2", "pass2")):
            assert soap_client(http, login, password).CLN_USR_GET(SELECT_ID=101).USER_ID == 101
    by_login = {(r.proc, r.login, r.cn) for r in emulator.requests()[probe.start:]}
    assert ("CLN_AUTH_LOGIN", "kassir2", "cashier2") in by_login and ("CLN_USR_GET", "kassir2", "cashier2") in by_login
    assert ("CLN_USR_GET", "kassir1", "cashier1") in by_login


def test_an_unusable_cashier_certificate_stops_the_start(gateway_settings: Any, pki: Any, tmp_path: Path) -> None:
    settings = gateway_settings.replace(auth=basic_auth(tmp_path, pki, cert_password="Wrong123"))
    with pytest.raises(ConfigurationError) as caught:
        Gateway.from_settings(settings)
    assert "Wrong123" not in str(caught.value)
