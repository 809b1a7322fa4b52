"""Tests for soap_gateway.certs: the billing's naming rules, file modes, PKCS#12 flavours, the CLI."""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from soap_gateway import certs
from soap_gateway.errors import ConfigurationError

# DER encodings of the PKCS#12 encryption algorithm OIDs, to tell the flavours apart.
OID_3DES = bytes.fromhex("060a2a864886f70d010c0103")  # pbeWithSHAAnd3-KeyTripleDES-CBC
OID_PBES2 = bytes.fromhex("06092a864886f70d01050d")  # PBES2
OID_AES256_CBC = bytes.fromhex("060960864801650304012a")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return certs.create_ca(tmp_path_factory.mktemp("ca"))


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_ca_is_a_self_signed_ca_and_its_key_is_private(ca: tuple[Path, Path]) -> None:
    cert_path, key_path = ca
    assert (cert_path.name, key_path.name) == ("ca.pem", "ca.key")
    assert mode(key_path) == 0o600
    cert = load_cert(cert_path)
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True
    cert.verify_directly_issued_by(cert)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)


def test_server_cert_names_a_fictional_domain_and_ips(ca: tuple[Path, Path], tmp_path: Path) -> None:
    cert_path, key_path = certs.create_server_cert(*ca, "billing.test", tmp_path, ("127.0.0.1", "10.1.2.3"))
    assert mode(key_path) == 0o600
    cert = load_cert(cert_path)
    cert.verify_directly_issued_by(load_cert(ca[0]))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["billing.test"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "10.1.2.3"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


@pytest.mark.parametrize("domain", ["", "bad domain", "../etc/passwd", "-x.test", "биллинг.рф"])
def test_server_cert_refuses_a_bad_domain(ca: tuple[Path, Path], tmp_path: Path, domain: str) -> None:
    with pytest.raises(ConfigurationError, match="not a host name"):
        certs.create_server_cert(*ca, domain, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_server_cert_refuses_a_bad_ip(ca: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="'300.1.1.1' is not an IPv4 or IPv6 address"):
        certs.create_server_cert(*ca, "billing.test", tmp_path, ("300.1.1.1",))


def test_client_pfx_holds_key_cert_and_ca_chain(ca: tuple[Path, Path], tmp_path: Path) -> None:
    pfx = certs.create_client_pfx(*ca, "cashier7", tmp_path)
    assert pfx == tmp_path / "cashier7.pfx"
    assert mode(pfx) == 0o600
    key, cert, chain = pkcs12.load_key_and_certificates(pfx.read_bytes(), None)
    assert key is not None and cert is not None
    assert cert.public_key() == key.public_key()
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "cashier7"
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ]
    assert chain == [load_cert(ca[0])]
    cert.verify_directly_issued_by(chain[0])


def test_modern_pfx_uses_aes_and_a_password(ca: tuple[Path, Path], tmp_path: Path) -> None:
    data = certs.create_client_pfx(*ca, "cashier2", tmp_path, password="Secret42").read_bytes()
    assert OID_PBES2 in data and OID_AES256_CBC in data and OID_3DES not in data
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(data, b"wrong")
    assert pkcs12.load_key_and_certificates(data, b"Secret42")[0] is not None


def test_legacy_pfx_uses_3des(ca: tuple[Path, Path], tmp_path: Path) -> None:
    data = certs.create_client_pfx(*ca, "old1", tmp_path, password="Old1", legacy=True).read_bytes()
    assert OID_3DES in data and OID_PBES2 not in data
    assert pkcs12.load_key_and_certificates(data, b"Old1")[1] is not None


@pytest.mark.parametrize("cn", ["cashier1", "ABC", "007", "a" * 64, "Kassa2"])
def test_cn_rule_accepts_latin_letters_and_digits(ca: tuple[Path, Path], tmp_path: Path, cn: str) -> None:
    assert certs.create_client_pfx(*ca, cn, tmp_path).name == f"{cn}.pfx"


@pytest.mark.parametrize(
    "cn", ["", "cashier-1", "cash ier", "кассир1", "café", "a" * 65, "x\n", "../x", "a_b"],
)
def test_cn_rule_refuses_anything_else(ca: tuple[Path, Path], tmp_path: Path, cn: str) -> None:
    with pytest.raises(ConfigurationError, match="latin letters .* and digits .* only"):
        certs.create_client_pfx(*ca, cn, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("password", ["", "abc123", "ABCdef", "0"])
def test_password_rule_accepts_empty_or_latin_alnum(password: str) -> None:
    certs.check_client_names("cashier1", password)


@pytest.mark.parametrize("password", ["pass word", "pässword", "p@ss", "пароль", "tab\t", "x\n"])
def test_password_rule_refuses_anything_else_without_echoing(password: str) -> None:
    with pytest.raises(ConfigurationError, match="empty password or latin letters") as info:
        certs.check_client_names("cashier1", password)
    assert password not in str(info.value)


def test_demo_pki_creates_everything(tmp_path: Path) -> None:
    pki = certs.create_demo_pki(tmp_path / "demo", cashiers=(("cashier1", ""), ("cashier2", "Pw2")))
    assert pki.domain == "billing.local" and pki.client_ca == pki.ca_cert
    for path in (pki.ca_cert, pki.ca_key, pki.server_cert, pki.server_key, *pki.clients.values()):
        assert path.is_file() and path.parent == pki.directory
    assert sorted(pki.clients) == ["cashier1", "cashier2"]
    assert {mode(p) for p in (pki.ca_key, pki.server_key, *pki.clients.values())} == {0o600}
    assert pkcs12.load_key_and_certificates(pki.clients["cashier2"].read_bytes(), b"Pw2")[0] is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        pki.domain = "x"  # type: ignore[misc]


def test_demo_pki_checks_every_input_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        certs.create_demo_pki(tmp_path, cashiers=(("good1", ""), ("bad-1", "")))
    assert list(tmp_path.iterdir()) == []


def test_existing_files_are_kept_unless_overwrite(tmp_path: Path) -> None:
    certs.create_ca(tmp_path)
    before = (tmp_path / "ca.key").read_bytes()
    with pytest.raises(ConfigurationError, match="refusing to replace"):
        certs.create_ca(tmp_path)
    assert (tmp_path / "ca.key").read_bytes() == before
    (tmp_path / "ca.key").chmod(0o644)
    certs.create_ca(tmp_path, overwrite=True)
    assert (tmp_path / "ca.key").read_bytes() != before
    assert mode(tmp_path / "ca.key") == 0o600  # re-created, not written through


def test_rsa_keys_on_request(tmp_path: Path) -> None:
    ca_cert, ca_key = certs.create_ca(tmp_path, rsa_key=True)
    cert_path, _ = certs.create_server_cert(ca_cert, ca_key, "billing.test", tmp_path, rsa_key=True)
    cert = load_cert(cert_path)
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_encipherment is True


def test_mismatched_ca_key_is_refused(tmp_path: Path) -> None:
    ca_cert, _ = certs.create_ca(tmp_path / "a")
    _, other_key = certs.create_ca(tmp_path / "b")
    with pytest.raises(ConfigurationError, match="does not belong to CA certificate"):
        certs.create_client_pfx(ca_cert, other_key, "cashier1", tmp_path / "out")


def test_missing_ca_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="nope.pem"):
        certs.create_client_pfx(tmp_path / "nope.pem", tmp_path / "nope.key", "cashier1", tmp_path)


def test_cli_demo_prints_the_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert certs.main(["demo", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == [
        "ca.pem", "ca.key", "billing.local.pem", "billing.local.key", "cashier1.pfx",
    ]


def test_cli_ca_server_client(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert certs.main(["ca", "--out", str(tmp_path)]) == 0
    ca_args = ["--ca-cert", str(tmp_path / "ca.pem"), "--ca-key", str(tmp_path / "ca.key")]
    assert certs.main(["server", *ca_args, "--domain", "billing.test", "--ip", "10.0.0.9",
                       "--out", str(tmp_path)]) == 0
    san = load_cert(tmp_path / "billing.test.pem").extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["10.0.0.9"]
    monkeypatch.setenv("PFX_PW", "Hidden77")
    assert certs.main(["client", *ca_args, "--cn", "kassa3", "--password-env", "PFX_PW", "--legacy",
                       "--out", str(tmp_path)]) == 0
    out = capsys.readouterr()
    assert str(tmp_path / "kassa3.pfx") in out.out and "Hidden77" not in out.out + out.err
    data = (tmp_path / "kassa3.pfx").read_bytes()
    assert OID_3DES in data and pkcs12.load_key_and_certificates(data, b"Hidden77")[0] is not None


@pytest.mark.parametrize("argv, expected", [
    (["client", "--cn", "bad-cn", "--password", "Secret9"], "latin letters"),
    (["client", "--cn", "ok1", "--password", "bad pw!"], "empty password or latin letters"),
    (["client", "--cn", "ok1", "--password-env", "NOT_SET_ANYWHERE"], "NOT_SET_ANYWHERE is not set"),
])
def test_cli_errors_go_to_stderr_with_exit_2(
    ca: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    argv: list[str], expected: str,
) -> None:
    ca_args = ["--ca-cert", str(ca[0]), "--ca-key", str(ca[1]), "--out", str(tmp_path)]
    assert certs.main([*argv, *ca_args]) == 2
    out = capsys.readouterr()
    assert out.out == "" and expected in out.err
    assert "Secret9" not in out.err and "bad pw!" not in out.err


def test_cli_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert certs.main(["bogus"]) == 2
    assert certs.main(["client", "--out", "x"]) == 2
    assert "usage:" in capsys.readouterr().err
