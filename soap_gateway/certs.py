"""The certificate tool: a test CA, the billing's server certificate and cashier .pfx files,
mirroring the billing's "create client certificate". No TLS client code: that is backend/tls.py."""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from soap_gateway.errors import ConfigurationError

PathLike = str | os.PathLike[str]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

# The billing's own rules for "create client certificate" (DESIGN §2); 64 is X.509's CN limit.
_CN_RULE = re.compile(r"[A-Za-z0-9]{1,64}")
_PASSWORD_RULE = re.compile(r"[A-Za-z0-9]*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_RULE = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
# Tolerate clocks a few minutes behind the machine that issued the certificate.
_BACKDATE = dt.timedelta(minutes=5)
_USAGE = {"digital_signature": True} | dict.fromkeys((
    "content_commitment key_encipherment data_encipherment key_agreement "
    "key_cert_sign crl_sign encipher_only decipher_only").split(), False)


@dataclass(frozen=True)
class DemoPKI:
    """Everything `create_demo_pki` wrote; the client CA is the same CA as the server's."""

    directory: Path
    domain: str
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_ca: Path
    clients: Mapping[str, Path]


def create_ca(out_dir: PathLike, name: str = "soap-gateway test CA", days: int = 3650, *,
              rsa_key: bool = False, overwrite: bool = False) -> tuple[Path, Path]:
    """Create a self-signed CA; return the paths of ``ca.pem`` and ``ca.key``."""
    cert_path, key_path = _targets(out_dir, ("ca.pem", "ca.key"), overwrite)
    key = _new_key(rsa_key)
    cert = _issue(name, key, None, days)
    _write_pair(cert_path, cert, key_path, key)
    return cert_path, key_path


def create_server_cert(ca_cert: PathLike, ca_key: PathLike, domain: str, out_dir: PathLike,
                       ip_addresses: Iterable[str] = ("127.0.0.1",), days: int = 825, *,
                       rsa_key: bool = False, overwrite: bool = False) -> tuple[Path, Path]:
    """Issue the billing's ``<domain>.pem``/``.key``: SAN DNS=domain (may be fictional) + IPs, serverAuth."""
    names = list(dict.fromkeys([_san(domain, host=True)] + [_san(ip) for ip in ip_addresses]))
    issuer, issuer_key = _load_issuer(ca_cert, ca_key)
    cert_path, key_path = _targets(out_dir, (f"{domain}.pem", f"{domain}.key"), overwrite)
    key = _new_key(rsa_key)
    cert = _issue(domain, key, (issuer, issuer_key), days, ExtendedKeyUsageOID.SERVER_AUTH, names)
    _write_pair(cert_path, cert, key_path, key)
    return cert_path, key_path


def create_client_pfx(ca_cert: PathLike, ca_key: PathLike, cn: str, out_dir: PathLike,
                      password: str = "", days: int = 825, legacy: bool = False, *,
                      rsa_key: bool = False, overwrite: bool = False) -> Path:
    """Issue a cashier's ``<CN>.pfx`` (key, certificate, CA chain), clientAuth.

    ``legacy``: PBES1 SHA1/3DES as older billings and OpenSSL 1.x produce, else
    AES-256 (PBES2). An empty password gives an unencrypted archive.
    """
    check_client_names(cn, password)
    issuer, issuer_key = _load_issuer(ca_cert, ca_key)
    (pfx_path,) = _targets(out_dir, (f"{cn}.pfx",), overwrite)
    key = _new_key(rsa_key)
    cert = _issue(cn, key, (issuer, issuer_key), days, ExtendedKeyUsageOID.CLIENT_AUTH)
    data = pkcs12.serialize_key_and_certificates(
        cn.encode("ascii"), key, cert, [issuer], _pfx_encryption(password, legacy),
    )
    _write(pfx_path, data, private=True)
    return pfx_path


def create_demo_pki(out_dir: PathLike, domain: str = "billing.local",
                    cashiers: Iterable[tuple[str, str]] = (("cashier1", ""),),
                    ip_addresses: Iterable[str] = ("127.0.0.1",), *,
                    rsa_key: bool = False, overwrite: bool = False) -> DemoPKI:
    """Create a CA, the billing's server certificate and one .pfx per (CN, password)."""
    cashiers, ip_addresses = tuple(cashiers), tuple(ip_addresses)
    # Refuse bad input before anything is written.
    _san(domain, host=True)
    for cn, password in cashiers:
        check_client_names(cn, password)
    opts: dict[str, Any] = {"rsa_key": rsa_key, "overwrite": overwrite}
    ca_cert, ca_key = create_ca(out_dir, **opts)
    server_cert, server_key = create_server_cert(ca_cert, ca_key, domain, out_dir, ip_addresses, **opts)
    clients = {cn: create_client_pfx(ca_cert, ca_key, cn, out_dir, pw, **opts) for cn, pw in cashiers}
    return DemoPKI(Path(out_dir), domain, ca_cert, ca_key, server_cert, server_key,
                   client_ca=ca_cert, clients=MappingProxyType(clients))


def check_client_names(cn: str, password: str) -> None:
    """Apply the billing's rules to a cashier certificate's CN and password."""
    if not _CN_RULE.fullmatch(cn):
        raise ConfigurationError(f"client certificate CN {cn!r} is not allowed: the billing "
                                 "accepts 1-64 latin letters (A-Z, a-z) and digits (0-9) only")
    if not _PASSWORD_RULE.fullmatch(password):  # never echo the password itself
        raise ConfigurationError("client certificate password is not allowed: the billing accepts "
                                 "an empty password or latin letters (A-Z, a-z) and digits (0-9) only")


def _new_key(rsa_key: bool) -> PrivateKey:
    if rsa_key:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _issue(
    cn: str, key: PrivateKey, issuer: tuple[x509.Certificate, PrivateKey] | None, days: int,
    usage: x509.ObjectIdentifier | None = None, names: Sequence[x509.GeneralName] = (),
) -> x509.Certificate:
    """Sign a self-signed CA (no ``usage``) or a leaf; SKI/AKI always, for strict verifiers."""
    if days < 1:
        raise ConfigurationError(f"certificate validity must be at least 1 day, not {days}")
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    issuer_name, issuer_key = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
    extensions: list[x509.ExtensionType]
    if usage is None:
        extensions = [x509.BasicConstraints(ca=True, path_length=0),
                      x509.KeyUsage(**_USAGE | {"key_cert_sign": True, "crl_sign": True})]
    else:
        # RSA key exchange needs keyEncipherment; EC certificates only sign.
        encipher = {"key_encipherment": isinstance(key, rsa.RSAPrivateKey)}
        extensions = [x509.BasicConstraints(ca=False, path_length=None),
                      x509.KeyUsage(**_USAGE | encipher), x509.ExtendedKeyUsage([usage])]
    extensions += [x509.SubjectAlternativeName(names)] if names else []
    extensions += [x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                   x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())]
    now = dt.datetime.now(dt.UTC)
    builder = x509.CertificateBuilder(
        issuer_name=issuer_name, subject_name=subject, public_key=key.public_key(),
        serial_number=x509.random_serial_number(),
        not_valid_before=now - _BACKDATE, not_valid_after=now + dt.timedelta(days=days),
    )
    for ext in extensions:
        builder = builder.add_extension(ext, critical=isinstance(ext, (x509.BasicConstraints, x509.KeyUsage)))
    return builder.sign(issuer_key, hashes.SHA256())


def _pfx_encryption(password: str, legacy: bool) -> serialization.KeySerializationEncryption:
    if not password:
        # cryptography refuses an empty PKCS#12 password; loaders accept both forms alike.
        return serialization.NoEncryption()
    if not legacy:
        return serialization.BestAvailableEncryption(password.encode("ascii"))
    # 2048 rounds: OpenSSL 1.x's default iteration count.
    builder = serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(2048)
    builder = builder.key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1())
    return builder.build(password.encode("ascii"))


def _san(text: str, *, host: bool = False) -> x509.GeneralName:
    """An IP address, or (when ``host``) a DNS name, as a subjectAltName entry."""
    try:
        return x509.IPAddress(ipaddress.ip_address(text))
    except ValueError:
        if not host:
            raise ConfigurationError(f"{text!r} is not an IPv4 or IPv6 address") from None
    if not _HOSTNAME_RULE.fullmatch(text):
        raise ConfigurationError(
            f"server domain {text!r} is not a host name: use latin letters, digits, "
            "hyphens and dots (it may be fictional, e.g. billing.local)",
        )
    return x509.DNSName(text.lower())


def _load_issuer(cert_path: PathLike, key_path: PathLike) -> tuple[x509.Certificate, PrivateKey]:
    cert_name, key_name = os.fspath(cert_path), os.fspath(key_path)
    try:
        cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    except OSError as exc:
        raise ConfigurationError(f"cannot read {exc.filename!r}: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"{cert_name!r} and {key_name!r} must be a PEM CA certificate and its unencrypted PEM key",
        ) from None
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise ConfigurationError(f"CA key {key_name!r} must be an EC or RSA key")
    if key.public_key() != cert.public_key():
        raise ConfigurationError(f"CA key {key_name!r} does not belong to CA certificate {cert_name!r}")
    return cert, key


def _targets(out_dir: PathLike, names: Sequence[str], overwrite: bool) -> tuple[Path, ...]:
    """Create ``out_dir``; refuse to replace files unless asked (a lost CA key orphans every cert)."""
    directory = Path(out_dir)
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"cannot create directory {str(directory)!r}: {exc.strerror}") from None
    paths = tuple(directory / name for name in names)
    existing = [str(p) for p in paths if p.exists() or p.is_symlink()]
    if existing and not overwrite:
        raise ConfigurationError(f"refusing to replace {', '.join(existing)}: remove it, "
                                 "choose another directory or ask to overwrite (--force)")
    return paths


def _write_pair(cert_path: Path, cert: x509.Certificate, key_path: Path, key: PrivateKey) -> None:
    pem = key.private_bytes(Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write(key_path, pem, private=True)
    _write(cert_path, cert.public_bytes(Encoding.PEM), private=False)


def _write(path: Path, data: bytes, *, private: bool) -> None:
    # A fresh name with O_EXCL: the mode applies at creation, and no symlink or
    # old file with wider permissions is written through (_targets allowed the unlink).
    path.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600 if private else 0o644)
    except OSError as exc:
        raise ConfigurationError(f"cannot write {str(path)!r}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def main(argv: list[str]) -> int:
    """``soap-gateway certs ca|server|client|demo``: print the created paths; errors exit 2."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help (0) and on usage errors (2)
        return exc.code if isinstance(exc.code, int) else 2
    opts = {"rsa_key": args.rsa, "overwrite": args.force}
    try:
        if args.command == "ca":
            paths = list(create_ca(args.out, **opts))
        elif args.command == "server":
            ips = args.ip or ["127.0.0.1"]
            paths = list(create_server_cert(args.ca_cert, args.ca_key, args.domain, args.out, ips, **opts))
        elif args.command == "client":
            paths = [create_client_pfx(args.ca_cert, args.ca_key, args.cn, args.out, _password(args),
                                       legacy=args.legacy, **opts)]
        else:
            pki = create_demo_pki(args.out, **opts)
            paths = [pki.ca_cert, pki.ca_key, pki.server_cert, pki.server_key, *pki.clients.values()]
    except ConfigurationError as exc:
        print(f"soap-gateway certs: {exc}", file=sys.stderr)
        return 2
    print("\n".join(str(path) for path in paths))
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_env is None:
        return args.password or ""
    if args.password_env not in os.environ:
        raise ConfigurationError(f"environment variable {args.password_env} is not set")
    return os.environ[args.password_env]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soap-gateway certs", description="Create test certificates.")
    commands = parser.add_subparsers(dest="command", required=True)
    ca = commands.add_parser("ca", help="create a self-signed CA (ca.pem, ca.key)")
    server = commands.add_parser("server", help="issue the billing's server certificate")
    server.add_argument("--domain", required=True, help="name in the certificate; may be fictional")
    server.add_argument("--ip", action="append", help="SAN IP address, repeatable (default 127.0.0.1)")
    client = commands.add_parser("client", help="issue a cashier certificate as <CN>.pfx")
    client.add_argument("--cn", required=True, help="latin letters and digits only")
    secret = client.add_mutually_exclusive_group()
    secret.add_argument("--password", help="latin letters and digits; shows in ps, prefer --password-env")
    secret.add_argument("--password-env", metavar="VAR", help="take the password from this variable")
    client.add_argument("--legacy", action="store_true", help="3DES/SHA1, as older billings produce")
    demo = commands.add_parser("demo", help="CA, server certificate for billing.local, cashier1.pfx")
    for sub in (server, client):
        sub.add_argument("--ca-cert", required=True)
        sub.add_argument("--ca-key", required=True)
    for sub in (ca, server, client, demo):
        sub.add_argument("--out", required=True, metavar="DIR", help="output directory")
        sub.add_argument("--rsa", action="store_true", help="RSA 2048 keys instead of EC P-256")
        sub.add_argument("--force", action="store_true", help="replace existing files")
    return parser
