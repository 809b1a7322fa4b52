"""Fixtures for the billing emulator tests: throw-away PKI (cryptography), a running emulator, mTLS clients.

Fixture names carry an ``emu`` prefix so they never shadow the suite-wide fixtures of tests/conftest.py.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from soap_gateway.emulator import Emulator


@dataclass(frozen=True)
class Pki:
    ca: str  # signs the server certificate and the trusted client certificates
    server_cert: str
    server_key: str
    client: tuple[str, str]  # (cert, key), CN cashier1
    client2: tuple[str, str]  # (cert, key), CN cashier2
    foreign: tuple[str, str]  # signed by another CA: must be refused


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(subject: str, issuer: tuple[x509.Name, Any] | None, *, ca: bool = False,
           san: list[x509.GeneralName] | None = None) -> tuple[x509.Certificate, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_name, issuer_key = issuer if issuer else (_name(subject), key)
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def _write(directory: Path, stem: str, cert: x509.Certificate, key: Any) -> tuple[str, str]:
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture(scope="session")
def emu_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca_cert, ca_key = _issue("Billing Test CA", None, ca=True)
    ca_path, _ = _write(directory, "ca", ca_cert, ca_key)
    server = _issue("billing.test", (ca_cert.subject, ca_key), san=[
        x509.DNSName("billing.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    other_ca = _issue("Some Other CA", None, ca=True)
    return Pki(
        ca=ca_path,
        server_cert=_write(directory, "server", *server)[0],
        server_key=str(directory / "server.key"),
        client=_write(directory, "cashier1", *_issue("cashier1", (ca_cert.subject, ca_key))),
        client2=_write(directory, "cashier2", *_issue("cashier2", (ca_cert.subject, ca_key))),
        foreign=_write(directory, "intruder", *_issue("intruder", (other_ca[0].subject, other_ca[1]))),
    )


@pytest.fixture
def make_emu(emu_pki: Pki) -> Iterator[Any]:
    """Factory: ``make_emulator(**options)`` -> a started Emulator, stopped (and checked) after the test."""
    started: list[Emulator] = []

    def make(**options: Any) -> Emulator:
        emulator = Emulator(emu_pki.server_cert, emu_pki.server_key, emu_pki.ca, **options).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()
        assert emulator.stats()["internal_errors"] == 0, emulator.stats()["last_internal_error"]


@pytest.fixture
def emu(make_emu: Any) -> Emulator:
    return make_emu()


def session_for(pki: Pki, client: tuple[str, str] | None = None) -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify (see DESIGN.md)
    http.verify = pki.ca
    http.cert = client or pki.client
    return http


class Billing:
    """A tiny test client: positional calls, SUID handling, parsed replies. Deliberately not gateway code."""

    def __init__(self, emulator: Emulator, http: requests.Session) -> None:
        self.emulator, self.http = emulator, http
        self.suid: str | None = None

    def raw(self, params: str | list[tuple[str, Any]], timeout: float = 10) -> requests.Response:
        """GET api.php; a str is sent verbatim as the query string (for bare ``&argN`` and the like)."""
        if isinstance(params, str):
            return self.http.get(f"{self.emulator.url}?{params}", timeout=timeout)
        return self.http.get(self.emulator.url, params=params, timeout=timeout)

    def login(self, login: str = "Administrator", password: str = "servicemode") -> str:
        root = self.call_root("CLN_AUTH_LOGIN", login, password, 0)
        self.suid = root.findtext("suid")
        assert self.suid and self.suid.isdigit()
        return self.suid

    def call_root(self, proc: str, *args: Any) -> ElementTree.Element:
        """SUID first, except for the login itself."""
        values = ([self.suid] if proc != "CLN_AUTH_LOGIN" else []) + list(args)
        params = [("cmd", "execute"), ("proc", proc)]
        params += [(f"arg{i}", "null" if v is None else str(v)) for i, v in enumerate(values, 1)]
        response = self.raw(params)
        assert response.status_code == 200, response.text
        return ElementTree.fromstring(response.content)

    def call(self, proc: str, *args: Any) -> list[dict[str, str | None]]:
        """Rows (or the single-row columns) as dicts; raises BillingErrorReply on <error>."""
        root = self.call_root(proc, *args)
        check(root)
        rows = root.findall("row")
        if rows:
            return [_row(r) for r in rows]
        return [_row(root)] if len(root) else []

    def error(self, proc: str, *args: Any) -> str:
        root = self.call_root(proc, *args)
        message = root.findtext("error")
        assert message, ElementTree.tostring(root, encoding="unicode")
        return message


class BillingErrorReply(AssertionError):
    pass


def check(root: ElementTree.Element) -> None:
    if root.find("error") is not None:
        raise BillingErrorReply(root.findtext("error"))


def _row(element: ElementTree.Element) -> dict[str, str | None]:
    return {child.tag: child.text for child in element}


@pytest.fixture
def emu_client(emu_pki: Pki) -> Iterator[Any]:
    """Factory: ``emu_client(emulator, client=None, login=True)`` -> a Billing test client (closed afterwards)."""
    sessions: list[requests.Session] = []

    def make(emulator: Emulator, client: tuple[str, str] | None = None, login: bool = True) -> Billing:
        http = session_for(emu_pki, client)
        sessions.append(http)
        billing = Billing(emulator, http)
        if login:
            billing.login()
        return billing

    yield make
    for http in sessions:
        http.close()


@pytest.fixture
def emu_billing(emu: Emulator, emu_client: Any) -> Billing:
    return emu_client(emu)


@pytest.fixture
def wait_until() -> Any:
    """``wait_until(predicate)``: poll up to 5 s (server threads count a failed handshake after the client sees it)."""

    def wait(predicate: Any, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    return wait
