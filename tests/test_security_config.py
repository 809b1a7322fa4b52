"""The [auth] section: parsing, its cross-checks, roles resolved against the catalogue, password hashes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from soap_gateway.catalogue import load_catalogue
from soap_gateway.config import Settings
from soap_gateway.errors import ConfigurationError
from soap_gateway.security.passwords import PasswordBook, hash_password
from soap_gateway.security.roles import RoleBook
from soap_gateway.security.settings import AuthSettings, RoleSettings

REPO = Path(__file__).parent.parent
HASH = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo"


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return Settings.load(path, {})


def test_a_full_auth_section(tmp_path: Path) -> None:
    auth = load(tmp_path, f"""
[auth]
mode = "basic"
realm = "billing"
wsdl_public = false
allow = ["10.0.0.0/8", "192.168.1.7"]
trusted_proxies = ["127.0.0.1"]
client_cert_header = "X-Client-Cert-DN"
[auth.users.buh]
password_hash = "{HASH}"
roles = ["cashier", "auditor"]
[auth.clients.erp01]
roles = ["reader"]
[auth.roles.auditor]
operations = ["CLN_USR_GET"]
secrets = ["PSW"]
""").auth
    assert (auth.mode, auth.realm, auth.wsdl_public) == ("basic", "billing", False)
    assert auth.users["buh"].roles == ("cashier", "auditor") and auth.users["buh"].password_hash == HASH
    assert auth.clients["erp01"].roles == ("reader",)
    assert auth.roles["auditor"] == RoleSettings(operations=("CLN_USR_GET",), secrets=("PSW",))
    assert HASH not in repr(auth)


def test_without_a_section_nothing_is_decided(tmp_path: Path) -> None:
    assert load(tmp_path, "").auth == AuthSettings()


@pytest.mark.parametrize("text, key", [
    ('[auth]\nmode = "basic"\n', "auth.mode"),
    ('[auth]\nmode = "basic"\n[auth.users.x]\npassword_hash = "plain-text"\nroles = ["reader"]\n',
     "auth.users.x.password_hash"),
    (f'[auth]\nmode = "basic"\n[auth.users.x]\npassword_hash = "{HASH}"\nroles = ["boss"]\n', "auth.users.x.roles"),
    ('[auth]\nmode = "basic"\n[auth.users.x]\npasword_hash = "a"\n', "auth.users.x.pasword_hash"),
    ('[auth]\nallow = ["10.0.0.300"]\n', "auth.allow"),
    ('[auth]\nclient_cert_header = "X-Client-Cert-DN"\n', "auth.client_cert_header"),
    ('[auth]\nmode = "ldap"\n', "auth.mode"),
    ('[auth]\npassthrough_roles = ["nobody"]\n', "auth.passthrough_roles"),
], ids=["basic-without-users", "clear-text-password", "unknown-role", "typo-in-user-key", "bad-network",
        "cert-header-without-proxy", "unknown-mode", "unknown-passthrough-role"])
def test_mistakes_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigurationError, match=key.replace(".", r"\.")) as caught:
        load(tmp_path, text)
    assert "plain-text" not in str(caught.value)


def test_roles_are_derived_from_the_catalogue(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[SITE_DEBT_LIST]\nmode = "read"\nresult = "rows"\n'
                    'columns = [{ name = "ID", type = "INTEGER" }]\n', encoding="utf-8")
    catalogue = load_catalogue([site])
    book = RoleBook(AuthSettings(), catalogue)
    reader = book.principal("r", "basic", ["reader"])
    cashier = book.principal("c", "basic", ["cashier"])
    admin = book.principal("a", "basic", ["admin"])
    reads = {name for name, proc in catalogue.items() if proc.mode == "read"}
    assert reader.operations == reads and "SITE_DEBT_LIST" in reader.operations
    assert cashier.operations == reads | {"CLN_FIN_OPER_ADD", "WEB_USER_PROMISE_PAY"}
    assert admin.operations == set(catalogue) | {"EXECUTE"} and not admin.secrets  # only "*" includes EXECUTE
    assert book.secret_names == {"SUID", "PSW", "GEN_PWD", "AD_PASS", "PSW_SNMP", "PSW_SSH", "PSW_TELNET"}


@pytest.mark.parametrize("role, match", [
    (RoleSettings(operations=("tag:nothing",)), "selects no procedure"),
    (RoleSettings(operations=("CLN_NO_SUCH",)), "selects no procedure"),
    (RoleSettings(operations=("mode:delete",)), "selects no procedure"),
    (RoleSettings(operations=("*",), secrets=("NAME",)), "not a secret column"),
])
def test_role_mistakes_stop_the_start(role: RoleSettings, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        RoleBook(AuthSettings(roles={"custom": role}), load_catalogue())


def test_password_book_checks_hashes_and_refuses_garbled_ones() -> None:
    book = PasswordBook({"buh": hash_password("right-pw")})
    assert book.check("buh", "right-pw") and book.check("buh", "right-pw")  # the second from the cache
    assert not book.check("buh", "wrong-pw") and not book.check("nobody", "right-pw")
    assert not book.check("buh", "right-pw ")
    with pytest.raises(ConfigurationError, match="auth.users.buh.password_hash"):
        PasswordBook({"buh": "$argon2id$garbled"})


def test_hash_password_command_reads_standard_input() -> None:
    result = subprocess.run([sys.executable, "-m", "soap_gateway", "hash-password"], input="Kassa-Secret-1\n",
                            capture_output=True, text=True, env={"PYTHONPATH": str(REPO)}, timeout=60, check=True)
    encoded = result.stdout.strip()
    assert encoded.startswith("$argon2id$") and "Kassa-Secret-1" not in result.stdout + result.stderr
    assert PasswordHasher().verify(encoded, "Kassa-Secret-1")
