"""Helpers for the security tests: a gateway with an [auth] section, and zeep clients with credentials."""

from __future__ import annotations

import base64
import dataclasses
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import requests
import zeep
from lxml import etree

from serving import gateway_in_thread
from envelopes import ENV, HEADERS, envelope
from soap_gateway.config import Settings
from soap_gateway.devserver import BackgroundServer

NS = {"gw": "urn:soap-gateway:billing", "soap": ENV}


# HTTP Basic callers, one per built-in role (and an auditor who may see PSW): the SOAP and REST tests of
# authentication share them.
PASSWORDS = {"reader1": "Read-0nly-pw", "kassa": "Kassa-pw-77", "boss": "B0ss-pw-99", "auditor": "Aud1t-pw"}
ROLES = {"reader1": "reader", "kassa": "cashier", "boss": "admin", "auditor": "auditor"}
# The emulator's cashier accounts (conftest): each one's own billing login, for pass-through mode.
CASHIERS = {"kassir1": "pass1", "kassir2": "pass2"}


def basic_auth(tmp_dir: Path) -> Any:
    """HTTP Basic for PASSWORDS' users (argon2 hashes), an allow-list, a trusted proxy at 127.0.0.1 that
    reports client certificates in X-Client-Cert-DN (callers erp01 and касса-1, readers)."""
    from soap_gateway.security.passwords import hash_password

    users = "".join(f'[auth.users.{user}]\npassword_hash = "{hash_password(pw)}"\nroles = ["{ROLES[user]}"]\n'
                    for user, pw in PASSWORDS.items())
    return auth_from_toml(tmp_dir, f"""
[auth]
mode = "basic"
allow = ["127.0.0.0/8", "198.51.100.0/24"]
trusted_proxies = ["127.0.0.1"]
client_cert_header = "X-Client-Cert-DN"

{users}
[auth.clients.erp01]
roles = ["reader"]
[auth.clients."касса-1"]
roles = ["reader"]

[auth.roles.auditor]
operations = ["CLN_USR_GET", "CLN_SWITCH_LIST"]
secrets = ["PSW", "PSW_SNMP"]
""")


def passthrough_auth(tmp_dir: Path, roles: str, more: str = "") -> Any:
    """Pass-through mode: each cashier's own billing login is its session; ``roles`` (a TOML list) are
    its roles, ``more`` further TOML (users, roles)."""
    return auth_from_toml(tmp_dir, f'[auth]\nmode = "pass-through"\npassthrough_roles = {roles}\n{more}')


def auth_from_toml(tmp_dir: Path, text: str) -> Any:
    """The [auth] section as the settings loader reads it from a file."""
    path = tmp_dir / "auth.toml"
    path.write_text(text, encoding="utf-8")
    return Settings.load(path, {}).auth


@contextmanager
def secured_gateway(base: Settings, auth: Any, **server: Any) -> Iterator[BackgroundServer]:
    """A real HTTP gateway in front of the emulator, with ``auth`` and server overrides."""
    with gateway_in_thread(dataclasses.replace(base, auth=auth), **server) as http:  # with its journal
        yield http


def soap_client(server: BackgroundServer, user: str | None = None, password: str | None = None,
                headers: dict[str, str] | None = None, plugins: list[Any] | None = None) -> Any:
    """zeep (strict) with HTTP Basic credentials; the WSDL is fetched with the same session."""
    session = requests.Session()
    session.trust_env = False
    if user is not None:
        session.auth = (user, password or "")
    session.headers.update(headers or {})
    transport = zeep.transports.Transport(session=session, operation_timeout=30)
    return zeep.Client(f"{server.url}/soap?wsdl", transport=transport, plugins=plugins or [],
                       settings=zeep.Settings(strict=True, force_https=False)).service


def post(server: BackgroundServer, body: str, headers: dict[str, str] | None = None,
         auth: tuple[str, str] | None = None) -> requests.Response:
    sent = {**HEADERS, **(headers or {})}
    if auth is not None:
        sent["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    return requests.post(f"{server.url}/soap", data=envelope(body).encode(), headers=sent, timeout=30)


def faultcode(response: requests.Response) -> str:
    fault = etree.fromstring(response.content).find(f".//{{{ENV}}}Fault")
    return fault.findtext("faultcode") if fault is not None else ""
