"""TLS toward the billing: the client identity (.pfx or PEM) and the SSLContext built from it.

Reads no environment and imports no HTTP library; backend/transport.py mounts the context.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import secrets
import ssl
import tempfile
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from soap_gateway.errors import ConfigurationError

# The key types PKCS#12 can carry; OpenSSL can present each of them as a client.
ClientKey = pkcs12.PKCS12PrivateKeyTypes
_CLIENT_KEY_TYPES = (
    rsa.RSAPrivateKey, dsa.DSAPrivateKey, ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey,
)
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_HEX_PAIRS = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){31}")
_PEM_MARK = b"-----BEGIN "
# tmpfs keeps the briefly written key off disk when the machine has one.
_SHM = "/dev/shm"


@dataclass(frozen=True)
class ClientIdentity:
    """The gateway's client certificate toward the billing, loaded once at startup."""

    private_key: ClientKey = field(repr=False)
    certificate: x509.Certificate
    additional_certs: tuple[x509.Certificate, ...]
    subject_cn: str
    not_valid_after: dt.datetime
    path: str = ""


def load_client_identity(path: str, password: str | None) -> ClientIdentity:
    """Load a PKCS#12 (.pfx/.p12) file, or a PEM file holding key and certificate.

    Raises ConfigurationError naming the file and what to check; the password
    never appears in a message.
    """
    data = _read(path, "client certificate")
    secret = password.encode("utf-8") if password else None
    if _PEM_MARK in data:
        key, cert, extra = _load_pem(path, data, secret)
    else:
        key, cert, extra = _load_pkcs12(path, data, secret)
    _check_validity(path, cert)
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = names[0].value if names else ""
    return ClientIdentity(
        private_key=key, certificate=cert, additional_certs=tuple(extra),
        subject_cn=cn.decode("utf-8", "replace") if isinstance(cn, bytes) else cn,
        not_valid_after=cert.not_valid_after_utc, path=path,
    )


def days_until_expiry(identity: ClientIdentity, now: dt.datetime | None = None) -> float:
    """Days (fractional, negative once expired) until the client certificate expires.

    A naive ``now`` is taken as UTC.
    """
    if now is None:
        now = dt.datetime.now(dt.UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return (identity.not_valid_after - now).total_seconds() / 86400


def build_ssl_context(
    identity: ClientIdentity, ca_file: str | None,
) -> ssl.SSLContext:
    """An SSLContext that verifies the billing and presents ``identity``.

    ``ca_file`` (PEM or DER) is the only trust anchor when given; None means the
    system store (OpenSSL's default paths; REQUESTS_CA_BUNDLE plays no part).
    The name check stays on: only urllib3 replaces it, with the pin, when one
    is configured (the chain is verified then too).
    """
    if ca_file is None:
        context = ssl.create_default_context()
    else:
        context = _context_for_ca(ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    # create_default_context() honours SSLKEYLOGFILE; session keys toward the
    # billing must not be written out because of an inherited variable.
    context.keylog_filename = None  # type: ignore[assignment]
    _load_identity(context, identity)
    return context


def normalize_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as lower-case hex without colons (urllib3's ``assert_fingerprint``).

    Accepts 64 hex digits, or 32 colon-separated pairs, in any case.
    """
    candidate = text.strip()
    if _HEX64.fullmatch(candidate) or _HEX_PAIRS.fullmatch(candidate):
        return candidate.replace(":", "").lower()
    # The value is not echoed: a misplaced secret must not reach the logs.
    raise ConfigurationError(
        f"the billing certificate pin is not a SHA-256 fingerprint ({len(candidate)} characters): "
        "expected 64 hex digits, optionally as colon-separated pairs (AB:CD:...)",
    )


def server_certificate_fingerprint(pem_or_der_path: str) -> str:
    """SHA-256 fingerprint (lower-case hex) of the first certificate in a PEM or DER file."""
    data = _read(pem_or_der_path, "certificate")
    try:
        if _PEM_MARK in data:
            cert = x509.load_pem_x509_certificates(data)[0]
        else:
            cert = x509.load_der_x509_certificate(data)
    except ValueError:
        raise ConfigurationError(f"{pem_or_der_path!r} holds no PEM or DER certificate") from None
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except FileNotFoundError:
        raise ConfigurationError(f"{what} file {path!r} does not exist: check the path") from None
    except PermissionError:
        raise ConfigurationError(
            f"{what} file {path!r} is not readable: give the gateway's user read access",
        ) from None
    except OSError as exc:
        raise ConfigurationError(f"{what} file {path!r} cannot be read: {exc.strerror}") from None


def _load_pkcs12(
    path: str, data: bytes, secret: bytes | None,
) -> tuple[ClientKey, x509.Certificate, list[x509.Certificate]]:
    if not data.startswith(b"\x30"):  # every DER archive opens with a SEQUENCE
        raise ConfigurationError(
            f"client certificate {path!r} is neither a PKCS#12 archive (.pfx/.p12) nor a PEM file",
        )
    # A password configured for an unprotected archive is harmless: retry without.
    for attempt in (secret, None) if secret else (None,):
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, attempt)
            return _checked_pair(path, key, ([cert] if cert else []) + extra)
        except ValueError:
            pass
    # cryptography says "Invalid password or PKCS12 data" for both, and the same
    # for RC2-40 files when CRYPTOGRAPHY_OPENSSL_NO_LEGACY=1 (SOAP-INTEROP §4).
    hint = "" if secret else " (no password was given)"
    raise ConfigurationError(
        f"client certificate {path!r} cannot be opened{hint}: wrong password, or the file is not "
        "a PKCS#12 archive; legacy RC2-40 files need CRYPTOGRAPHY_OPENSSL_NO_LEGACY unset",
    )


def _load_pem(
    path: str, data: bytes, secret: bytes | None,
) -> tuple[ClientKey, x509.Certificate, list[x509.Certificate]]:
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        certs = []
    if b"PRIVATE KEY-----" not in data:
        return _checked_pair(path, None, certs)
    try:
        key = serialization.load_pem_private_key(data, secret)
    except TypeError:
        if secret is None:
            raise ConfigurationError(
                f"the private key in {path!r} is encrypted: set the certificate password",
            ) from None
        # A password was configured for an unencrypted key: harmless.
        key = serialization.load_pem_private_key(data, None)
    except ValueError:
        raise ConfigurationError(
            f"the private key in {path!r} cannot be read: wrong password, or a malformed PEM key",
        ) from None
    return _checked_pair(path, key, certs)


def _checked_pair(
    path: str, key: object, certs: list[x509.Certificate],
) -> tuple[ClientKey, x509.Certificate, list[x509.Certificate]]:
    """Pick the certificate that belongs to the key; the rest are the chain."""
    if key is None:
        raise ConfigurationError(
            f"client certificate {path!r} holds no private key: export it together with the key",
        )
    if not isinstance(key, _CLIENT_KEY_TYPES):
        raise ConfigurationError(f"the private key in {path!r} is of an unsupported type")
    if not certs:
        raise ConfigurationError(f"client certificate {path!r} holds no certificate, only a key")
    public = key.public_key()
    for cert in certs:
        if cert.public_key() == public:
            return key, cert, [c for c in certs if c is not cert]
    raise ConfigurationError(f"no certificate in {path!r} belongs to its private key")


def _check_validity(path: str, cert: x509.Certificate) -> None:
    now = dt.datetime.now(dt.UTC)
    if cert.not_valid_after_utc < now:
        raise ConfigurationError(
            f"client certificate {path!r} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC: "
            "ask the billing for a new one",
        )
    if cert.not_valid_before_utc > now:
        raise ConfigurationError(
            f"client certificate {path!r} is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} "
            "UTC: check this machine's clock",
        )


def _context_for_ca(ca_file: str) -> ssl.SSLContext:
    # Read once here: clear messages for missing/unreadable files, and DER works too.
    data = _read(ca_file, "billing CA")
    cadata: str | bytes = data.decode("ascii", "replace") if _PEM_MARK in data else data
    problem = f"billing CA file {ca_file!r} holds no usable certificate: expected PEM or DER"
    if not data.strip():  # ssl accepts empty cadata and would then trust nothing, silently
        raise ConfigurationError(problem)
    try:
        return ssl.create_default_context(cadata=cadata)
    except ssl.SSLError:
        raise ConfigurationError(problem) from None


def _load_identity(context: ssl.SSLContext, identity: ClientIdentity) -> None:
    """Feed the identity to ``load_cert_chain``, which only reads files.

    The key goes to a 0600 temporary file encrypted with a one-time password,
    is unlinked at once, and afterwards lives only in the context's memory.
    """
    one_time = secrets.token_bytes(32)
    pem = b"".join(
        cert.public_bytes(serialization.Encoding.PEM)
        for cert in (identity.certificate, *identity.additional_certs)
    ) + identity.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(one_time),
    )
    fd, name = tempfile.mkstemp(prefix="soap-gateway-", suffix=".pem", dir=_temp_dir())
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(pem)
        context.load_cert_chain(name, password=one_time)
    except ssl.SSLError as exc:
        raise ConfigurationError(
            f"client certificate {identity.path!r} was refused by the TLS library: {exc.reason or exc}",
        ) from None
    finally:
        os.unlink(name)


def _temp_dir() -> str | None:
    if os.path.isdir(_SHM) and os.access(_SHM, os.W_OK | os.X_OK):
        return _SHM
    return None
