"""The guard in front of every route: address allow-list, caller authentication.

It runs before a byte of the body is read and raises the gateway's own errors
(``AddressNotAllowed``, ``NotAuthenticated``, a pass-through login's billing
error), which the facade of the route renders; the web layer adds the Basic
challenge to a 401 (.NET only sends credentials after one: SOAP-INTEROP rule
12).  An accepted caller comes back as a ``Principal`` (and, in pass-through
mode, the cashier's billing credentials) for the call context.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from ..backend import Credentials
from ..catalogue import Catalogue
from ..core import Gateway
from ..errors import AddressNotAllowed, AuthenticationFailed, NotAuthenticated
from ..security.passwords import PasswordBook
from ..security.roles import Principal, RoleBook
from ..security.settings import AuthSettings, networks

log = logging.getLogger("soap_gateway.security")

Accepted = tuple["Principal | None", "Credentials | None"]
# Attribute names OpenSSL (so nginx) prints that cryptography's parser does not know by itself;
# the last four are the Russian INN, OGRN, SNILS and the legal entity's INN of qualified certificates.
_OPENSSL_NAMES = {
    "emailAddress": NameOID.EMAIL_ADDRESS, "serialNumber": NameOID.SERIAL_NUMBER, "SN": NameOID.SURNAME,
    "GN": NameOID.GIVEN_NAME, "title": NameOID.TITLE, "initials": NameOID.INITIALS,
    "pseudonym": NameOID.PSEUDONYM, "dnQualifier": NameOID.DN_QUALIFIER,
    "businessCategory": NameOID.BUSINESS_CATEGORY, "postalCode": NameOID.POSTAL_CODE,
    "organizationIdentifier": NameOID.ORGANIZATION_IDENTIFIER,
    "INN": x509.ObjectIdentifier("1.2.643.3.131.1.1"), "OGRN": x509.ObjectIdentifier("1.2.643.100.1"),
    "SNILS": x509.ObjectIdentifier("1.2.643.100.3"), "INNLE": x509.ObjectIdentifier("1.2.643.100.4"),
}


class AuthGuard:
    """Decides, per request, whether it goes on and as whom."""

    def __init__(self, settings: AuthSettings, catalogue: Catalogue, gateway: Gateway | None) -> None:
        self.settings = settings
        self.mode = settings.mode or "none"
        self.gateway = gateway
        self.roles = RoleBook(settings, catalogue)
        self.passwords = PasswordBook({name: user.password_hash for name, user in settings.users.items()}) \
            if self.mode == "basic" else None
        self.allow = networks(settings.allow, "auth.allow")
        self.trusted = networks(settings.trusted_proxies, "auth.trusted_proxies")
        self._cert_key = _environ_key(settings.client_cert_header) if settings.client_cert_header else ""
        self._forwarded_key = _environ_key(settings.forwarded_for_header)
        realm = settings.realm.replace("\\", "").replace('"', "")
        self.challenge = f'Basic realm="{realm}", charset="UTF-8"'

    def check(self, environ: dict[str, Any], *, public_document: bool) -> Accepted:
        """Who the caller is, or the error that refuses it; ``public_document``: a WSDL or
        OpenAPI document, which ``auth.wsdl_public`` lets anyone inside the allow-list read."""
        path = (environ.get("PATH_INFO", "") or "/").rstrip("/") or "/"
        if path in self.settings.public_paths:
            return None, None
        address = self.client_address(environ)
        if self.allow and not _within(address, self.allow):
            log.warning("refused: address %s is not in auth.allow (%s %s)", address,
                        environ.get("REQUEST_METHOD", ""), path)
            raise AddressNotAllowed(address=address)
        if public_document and self.settings.wsdl_public:
            return None, None
        return self.authenticate(environ, address)

    def authenticate(self, environ: dict[str, Any], address: str) -> tuple[Principal, Credentials | None]:
        """The caller by certificate (via a trusted proxy), Basic credentials, or none (mode "none")."""
        if self.mode == "none":
            return self.roles.principal("anonymous", "none", self.settings.anonymous_roles), None
        common_name = self.certificate_cn(environ)
        if common_name is not None and common_name in self.settings.clients:
            return self.roles.principal(common_name, "certificate", self.settings.clients[common_name].roles), None
        basic = _basic(environ)
        if basic is None:
            raise NotAuthenticated()
        user, password = basic
        if self.mode == "basic":
            assert self.passwords is not None
            if not self.passwords.check(user, password):
                log.warning("refused: wrong or unknown HTTP Basic credentials for %r from %s", user, address)
                raise NotAuthenticated()
            return self.roles.principal(user, "basic", self.settings.users[user].roles), None
        credentials = Credentials(user, password)
        try:
            assert self.gateway is not None
            self.gateway.authenticate(credentials)
        except AuthenticationFailed:
            log.warning("refused: the billing did not accept the login %r from %s", user, address)
            raise NotAuthenticated() from None
        configured = self.settings.users.get(user)
        roles = configured.roles if configured is not None else self.settings.passthrough_roles
        return self.roles.principal(user, "pass-through", roles), credentials

    def client_address(self, environ: dict[str, Any]) -> str:
        """REMOTE_ADDR, or behind trusted proxies the nearest address they did not add themselves."""
        peer = str(environ.get("REMOTE_ADDR", ""))
        if not (self.trusted and _within(peer, self.trusted)):
            return peer
        hops = [h.strip() for h in str(environ.get(self._forwarded_key, "")).split(",") if h.strip()]
        for hop in reversed(hops):
            if not _within(hop, self.trusted):
                return hop
        return hops[0] if hops else peer

    def certificate_cn(self, environ: dict[str, Any]) -> str | None:
        """The client certificate's CN as the trusted proxy reports it; a header from anyone else is ignored."""
        if not self._cert_key or not _within(environ.get("REMOTE_ADDR", ""), self.trusted):
            return None
        value = environ.get(self._cert_key, "").strip()
        return subject_common_name(value) if value else None


def subject_common_name(value: str) -> str | None:
    """The CN of an RFC 4514 distinguished name (nginx's ``$ssl_client_s_dn``), if it holds exactly one.

    Parsed by ``cryptography``, so escaped commas, multi-valued RDNs and hex
    escapes mean what they mean in the certificate; a value that is no such
    name, or with no or several CNs, names no client.
    """
    try:
        text = value.encode("latin-1").decode("utf-8")  # WSGI hands header bytes over as latin-1
    except (UnicodeEncodeError, UnicodeDecodeError):
        text = value
    try:
        name = x509.Name.from_rfc4514_string(text, attr_name_overrides=_OPENSSL_NAMES)
        names = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        log.warning("ignored: the client certificate header is not an RFC 4514 name")
        return None
    return str(names[0].value) if len(names) == 1 else None


def _basic(environ: dict[str, Any]) -> tuple[str, str] | None:
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")  # what our challenge asks for (charset="UTF-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # what clients that ignore the charset send
    user, colon, password = text.partition(":")
    return (user, password) if colon and user else None


def _within(address: str, nets: tuple[Any, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in nets)


def _environ_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")
