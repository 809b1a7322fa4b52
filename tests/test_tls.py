"""Tests for soap_gateway.backend.tls: loading the client identity and real mTLS handshakes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import socket
import ssl
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from soap_gateway import certs
from soap_gateway.backend import tls
from soap_gateway.errors import ConfigurationError

DOMAIN = "billing.test"
WRONG_PASSWORD_TEXT = (
    "wrong password, or the file is not a PKCS#12 archive; "
    "legacy RC2-40 files need CRYPTOGRAPHY_OPENSSL_NO_LEGACY unset"
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> certs.DemoPKI:
    out = tmp_path_factory.mktemp("pki")
    pki = certs.create_demo_pki(out, domain=DOMAIN, cashiers=(("cashier1", ""), ("cashier2", "Secret42")))
    certs.create_client_pfx(pki.ca_cert, pki.ca_key, "legacy3des", out, password="Old1", legacy=True)
    return pki


def ca_material(pki: certs.DemoPKI) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def issue_client(pki: certs.DemoPKI, cn: str, not_before: dt.datetime, not_after: dt.datetime,
                 ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A client certificate with any validity window, signed by the test CA."""
    ca_cert, ca_key = ca_material(pki)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def write_pfx(path: Path, key: object, cert: x509.Certificate | None, password: bytes | None = None) -> str:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"t", key, cert, None, enc))  # type: ignore[arg-type]
    return str(path)


def pem_key(key: ec.EllipticCurvePrivateKey, password: bytes | None = None) -> bytes:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- loading the identity ---------------------------------------------------------------


def test_pfx_without_password_loads(pki: certs.DemoPKI) -> None:
    for password in (None, ""):
        identity = tls.load_client_identity(str(pki.clients["cashier1"]), password)
        assert identity.subject_cn == "cashier1"
        assert identity.certificate.public_key() == identity.private_key.public_key()
        assert identity.additional_certs == (x509.load_pem_x509_certificate(pki.ca_cert.read_bytes()),)
        assert identity.not_valid_after.tzinfo is not None
        assert identity.not_valid_after.utcoffset() == dt.timedelta(0)
        assert identity.path == str(pki.clients["cashier1"])


def test_pfx_with_password_loads(pki: certs.DemoPKI) -> None:
    assert tls.load_client_identity(str(pki.clients["cashier2"]), "Secret42").subject_cn == "cashier2"


def test_legacy_3des_pfx_loads(pki: certs.DemoPKI) -> None:
    assert tls.load_client_identity(str(pki.directory / "legacy3des.pfx"), "Old1").subject_cn == "legacy3des"


def test_password_given_for_an_unprotected_pfx_is_harmless(pki: certs.DemoPKI) -> None:
    assert tls.load_client_identity(str(pki.clients["cashier1"]), "Unneeded1").subject_cn == "cashier1"


@pytest.mark.parametrize(
    "name, password", [("cashier2", "Wrong99"), ("cashier2", None), ("legacy3des", "Secret42")],
)
def test_wrong_pfx_password_is_explained_without_the_password(
    pki: certs.DemoPKI, name: str, password: str | None,
) -> None:
    path = str(pki.directory / f"{name}.pfx")
    with pytest.raises(ConfigurationError) as info:
        tls.load_client_identity(path, password)
    message = str(info.value)
    assert WRONG_PASSWORD_TEXT in message and repr(path) in message
    if password:
        assert password not in message and password not in repr(info.value.context)


def test_pem_identity_loads(pki: certs.DemoPKI, tmp_path: Path) -> None:
    key, cert = issue_client(pki, "pemuser", now() - dt.timedelta(days=1), now() + dt.timedelta(days=30))
    ca_pem = pki.ca_cert.read_bytes()
    (tmp_path / "plain.pem").write_bytes(pem_key(key) + pem_cert(cert) + ca_pem)
    identity = tls.load_client_identity(str(tmp_path / "plain.pem"), None)
    assert identity.subject_cn == "pemuser" and identity.certificate == cert
    assert [c.subject for c in identity.additional_certs] == [x509.load_pem_x509_certificate(ca_pem).subject]
    # Chain first, key last: the leaf is found by its key, not by position.
    (tmp_path / "enc.pem").write_bytes(ca_pem + pem_cert(cert) + pem_key(key, b"PemPass1"))
    identity = tls.load_client_identity(str(tmp_path / "enc.pem"), "PemPass1")
    assert identity.certificate == cert and identity.private_key.public_key() == key.public_key()


def test_encrypted_pem_needs_the_right_password(pki: certs.DemoPKI, tmp_path: Path) -> None:
    key, cert = issue_client(pki, "pemuser", now() - dt.timedelta(days=1), now() + dt.timedelta(days=30))
    path = tmp_path / "enc.pem"
    path.write_bytes(pem_cert(cert) + pem_key(key, b"PemPass1"))
    with pytest.raises(ConfigurationError, match="is encrypted: set the certificate password"):
        tls.load_client_identity(str(path), None)
    with pytest.raises(ConfigurationError, match="wrong password") as info:
        tls.load_client_identity(str(path), "NotIt123")
    assert "NotIt123" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"'.*nope\.pfx' does not exist"):
        tls.load_client_identity(str(tmp_path / "nope.pfx"), None)


def test_unreadable_file(pki: certs.DemoPKI, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulated: the tests may run as root, who reads anything.
    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tls, "open", denied, raising=False)
    with pytest.raises(ConfigurationError, match="is not readable: give the gateway's user read access"):
        tls.load_client_identity(str(pki.clients["cashier1"]), None)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        tls.load_client_identity(str(tmp_path), None)


def test_neither_pkcs12_nor_pem(tmp_path: Path) -> None:
    (tmp_path / "junk.pfx").write_bytes(b"this is not a certificate")
    with pytest.raises(ConfigurationError, match="neither a PKCS#12 archive"):
        tls.load_client_identity(str(tmp_path / "junk.pfx"), None)


def test_pfx_without_private_key(pki: certs.DemoPKI, tmp_path: Path) -> None:
    _, cert = issue_client(pki, "nokey", now() - dt.timedelta(days=1), now() + dt.timedelta(days=30))
    with pytest.raises(ConfigurationError, match="holds no private key"):
        tls.load_client_identity(write_pfx(tmp_path / "nokey.pfx", None, cert), None)


def test_pfx_without_certificate(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ConfigurationError, match="holds no certificate"):
        tls.load_client_identity(write_pfx(tmp_path / "nocert.pfx", key, None, b"Pw1"), "Pw1")


def test_pem_key_and_certificate_must_match(pki: certs.DemoPKI, tmp_path: Path) -> None:
    _, cert = issue_client(pki, "a", now() - dt.timedelta(days=1), now() + dt.timedelta(days=30))
    (tmp_path / "mix.pem").write_bytes(pem_cert(cert) + pem_key(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(ConfigurationError, match="belongs to its private key"):
        tls.load_client_identity(str(tmp_path / "mix.pem"), None)


def test_expired_certificate(pki: certs.DemoPKI, tmp_path: Path) -> None:
    key, cert = issue_client(pki, "old", now() - dt.timedelta(days=400), now() - dt.timedelta(days=1))
    with pytest.raises(ConfigurationError, match="expired on .* UTC: ask the billing for a new one"):
        tls.load_client_identity(write_pfx(tmp_path / "old.pfx", key, cert, b"Pw1"), "Pw1")


def test_not_yet_valid_certificate(pki: certs.DemoPKI, tmp_path: Path) -> None:
    key, cert = issue_client(pki, "early", now() + dt.timedelta(days=2), now() + dt.timedelta(days=30))
    with pytest.raises(ConfigurationError, match="not valid before .* check this machine's clock"):
        tls.load_client_identity(write_pfx(tmp_path / "early.pfx", key, cert), None)


def test_days_until_expiry(pki: certs.DemoPKI) -> None:
    identity = tls.load_client_identity(str(pki.clients["cashier1"]), None)
    at = identity.not_valid_after - dt.timedelta(days=10, hours=12)
    assert tls.days_until_expiry(identity, at) == pytest.approx(10.5)
    assert tls.days_until_expiry(identity, at.replace(tzinfo=None)) == pytest.approx(10.5)
    after = identity.not_valid_after + dt.timedelta(days=1)
    assert tls.days_until_expiry(identity, after) == pytest.approx(-1)
    assert 824 < tls.days_until_expiry(identity) <= 825


# --- fingerprints -----------------------------------------------------------------------

HEX = "ab" * 32


@pytest.mark.parametrize(
    "text", [HEX, HEX.upper(), ":".join(["AB"] * 32), ":".join(["ab"] * 32), f"  {HEX}\n"],
)
def test_fingerprint_forms_are_normalised(text: str) -> None:
    assert tls.normalize_fingerprint(text) == HEX


@pytest.mark.parametrize("text", [
    "", HEX[:-1], HEX + "a", "g" * 64, "ab" * 20, "a:" + HEX[2:], HEX[:2] + ":" + HEX[2:],
    "sha256:" + HEX, ":".join(["ab"] * 31) + ":", "ab cd" * 8,
])
def test_bad_fingerprints_are_refused(text: str) -> None:
    with pytest.raises(ConfigurationError, match="expected 64 hex digits") as info:
        tls.normalize_fingerprint(text)
    if text.strip():
        assert text.strip() not in str(info.value)


def test_server_certificate_fingerprint_pem_and_der(pki: certs.DemoPKI, tmp_path: Path) -> None:
    cert = x509.load_pem_x509_certificate(pki.server_cert.read_bytes())
    der = cert.public_bytes(serialization.Encoding.DER)
    (tmp_path / "server.der").write_bytes(der)
    expected = hashlib.sha256(der).hexdigest()
    assert tls.server_certificate_fingerprint(str(pki.server_cert)) == expected
    assert tls.server_certificate_fingerprint(str(tmp_path / "server.der")) == expected
    colons = ":".join(expected[i:i + 2] for i in range(0, 64, 2)).upper()
    assert tls.normalize_fingerprint(colons) == expected


def test_server_certificate_fingerprint_of_junk(tmp_path: Path) -> None:
    (tmp_path / "junk").write_bytes(b"\x00\x01")
    with pytest.raises(ConfigurationError, match="holds no PEM or DER certificate"):
        tls.server_certificate_fingerprint(str(tmp_path / "junk"))


# --- the SSLContext and real handshakes -------------------------------------------------


class MTLSServer:
    """A one-connection TLS server on 127.0.0.1 that requires a client certificate."""

    def __init__(self, cert: Path, key: Path, client_ca: Path) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.context.load_verify_locations(client_ca)
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(5)
        self.port = self.listener.getsockname()[1]
        self.peer_cn: str | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
            with conn, self.context.wrap_socket(conn, server_side=True) as tls_conn:
                peer: Any = tls_conn.getpeercert()
                self.peer_cn = dict(pair for rdn in peer["subject"] for pair in rdn)["commonName"]
                tls_conn.sendall(b"pong:" + tls_conn.recv(64))
        except (OSError, KeyError) as exc:  # a refused handshake lands here
            self.error = exc

    def __enter__(self) -> MTLSServer:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.thread.join(10)
        self.listener.close()


def exchange(context: ssl.SSLContext, port: int, server_hostname: str = DOMAIN) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=server_hostname) as conn:
            conn.sendall(b"ping")
            return conn.recv(64)


@pytest.fixture()
def identity(pki: certs.DemoPKI) -> tls.ClientIdentity:
    return tls.load_client_identity(str(pki.clients["cashier2"]), "Secret42")


def test_context_settings(identity: tls.ClientIdentity, pki: certs.DemoPKI) -> None:
    context = tls.build_ssl_context(identity, str(pki.ca_cert))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is True


def test_handshake_with_client_certificate(identity: tls.ClientIdentity, pki: certs.DemoPKI) -> None:
    context = tls.build_ssl_context(identity, str(pki.ca_cert))
    with MTLSServer(pki.server_cert, pki.server_key, pki.client_ca) as server:
        assert exchange(context, server.port) == b"pong:ping"
    assert server.error is None and server.peer_cn == "cashier2"


def test_legacy_pfx_identity_handshakes(pki: certs.DemoPKI) -> None:
    identity = tls.load_client_identity(str(pki.directory / "legacy3des.pfx"), "Old1")
    context = tls.build_ssl_context(identity, str(pki.ca_cert))
    with MTLSServer(pki.server_cert, pki.server_key, pki.client_ca) as server:
        assert exchange(context, server.port) == b"pong:ping"
    assert server.peer_cn == "legacy3des"


def test_der_ca_file_works(identity: tls.ClientIdentity, pki: certs.DemoPKI, tmp_path: Path) -> None:
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    (tmp_path / "ca.der").write_bytes(ca.public_bytes(serialization.Encoding.DER))
    context = tls.build_ssl_context(identity, str(tmp_path / "ca.der"))
    with MTLSServer(pki.server_cert, pki.server_key, pki.client_ca) as server:
        assert exchange(context, server.port) == b"pong:ping"


def test_server_from_another_ca_is_refused(
    identity: tls.ClientIdentity, pki: certs.DemoPKI, other_ca: certs.DemoPKI,
) -> None:
    context = tls.build_ssl_context(identity, str(pki.ca_cert))
    with MTLSServer(other_ca.server_cert, other_ca.server_key, pki.client_ca) as server:
        with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
            exchange(context, server.port)


def test_wrong_server_name_is_refused(
    identity: tls.ClientIdentity, pki: certs.DemoPKI,
) -> None:
    context = tls.build_ssl_context(identity, str(pki.ca_cert))
    with MTLSServer(pki.server_cert, pki.server_key, pki.client_ca) as server:
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            exchange(context, server.port, server_hostname="other.test")


def test_environment_does_not_widen_trust(
    identity: tls.ClientIdentity, pki: certs.DemoPKI, other_ca: certs.DemoPKI,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, str(other_ca.ca_cert))
    monkeypatch.setenv("SSL_CERT_DIR", str(other_ca.directory))
    monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "keys.log"))
    context = tls.build_ssl_context(identity, str(pki.ca_cert))
    assert context.keylog_filename is None
    with MTLSServer(other_ca.server_cert, other_ca.server_key, pki.client_ca) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            exchange(context, server.port)
    with MTLSServer(pki.server_cert, pki.server_key, pki.client_ca) as server:
        assert exchange(context, server.port) == b"pong:ping"
    # create_default_context() opens the file and writes a header; no secret follows.
    keys = tmp_path / "keys.log"
    assert "SECRET" not in (keys.read_text() if keys.exists() else "")


@pytest.mark.parametrize("content", [None, b"", b"garbage", b"-----BEGIN CERTIFICATE-----\nxx\n"])
def test_bad_ca_file_is_named(identity: tls.ClientIdentity, tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "billing-ca.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ConfigurationError, match=r"billing CA file '.*billing-ca\.pem'"):
        tls.build_ssl_context(identity, str(path))


@pytest.fixture()
def recorded_temp_files(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every file tls makes with mkstemp, with its mode at creation."""
    made: list[tuple[str, int]] = []
    real = tempfile.mkstemp

    def recording(*args: object, **kwargs: object) -> tuple[int, str]:
        fd, name = real(*args, **kwargs)  # type: ignore[call-overload]
        made.append((name, stat.S_IMODE(os.fstat(fd).st_mode)))
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", recording)
    return made


def test_temporary_key_file_is_private_and_gone(
    identity: tls.ClientIdentity, pki: certs.DemoPKI, recorded_temp_files: list[tuple[str, int]],
) -> None:
    tls.build_ssl_context(identity, str(pki.ca_cert))
    assert len(recorded_temp_files) == 1
    name, mode = recorded_temp_files[0]
    assert mode == 0o600 and not os.path.exists(name)
    if os.access("/dev/shm", os.W_OK):
        assert os.path.dirname(name) == "/dev/shm"


def test_temporary_key_file_is_gone_after_a_failure(
    identity: tls.ClientIdentity, pki: certs.DemoPKI, recorded_temp_files: list[tuple[str, int]],
) -> None:
    mismatched = dataclasses.replace(identity, private_key=ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ConfigurationError, match="refused by the TLS library"):
        tls.build_ssl_context(mismatched, str(pki.ca_cert))
    assert recorded_temp_files and not any(os.path.exists(name) for name, _ in recorded_temp_files)


def test_system_store_when_no_ca_file(identity: tls.ClientIdentity, pki: certs.DemoPKI) -> None:
    context = tls.build_ssl_context(identity, None)
    assert context.verify_mode == ssl.CERT_REQUIRED
    with MTLSServer(pki.server_cert, pki.server_key, pki.client_ca) as server:
        with pytest.raises(ssl.SSLCertVerificationError):
            exchange(context, server.port)


@pytest.fixture(autouse=True)
def _no_stray_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    assert not [t for t in threading.enumerate() if t not in before and t.is_alive()]
