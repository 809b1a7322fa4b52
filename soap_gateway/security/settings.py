"""The ``[auth]`` section: how callers authenticate, which roles exist, who holds which.

Standard library only; ``config`` builds these dataclasses from the TOML file
and calls ``check_auth`` for the rules that types alone cannot express.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal, Mapping

from ..errors import ConfigurationError

# "" means not configured: fine for tests and library use, refused by `serve`.
AuthMode = Literal["", "none", "basic", "pass-through"]


@dataclass(frozen=True)
class UserSettings:
    """A gateway user (HTTP Basic); in pass-through mode (named by billing login) ``roles`` and ``cert``.

    ``cert``: this cashier's own billing certificate (.pfx; the billing issues one per cashier, its CN
    naming them); the user's calls reach the billing with it instead of the gateway's.
    """

    password_hash: str = field(default="", repr=False)
    roles: tuple[str, ...] = ()
    cert: str = ""
    cert_password: str = field(default="", repr=False)


@dataclass(frozen=True)
class ClientSettings:
    """A caller known by the common name of its client certificate."""

    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleSettings:
    """What a role may do.

    ``operations``: ``*``, ``mode:read`` / ``mode:write`` / ``mode:login``,
    ``tag:<tag>`` (catalogue tags, e.g. ``tag:payment``), ``EXECUTE`` (the
    generic operation; only ``*`` includes it otherwise) or procedure names.
    ``secrets``: secret columns the role may see in replies (``*`` for all).
    """

    operations: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthSettings:
    """Caller authentication and authorization (see SECURITY.md)."""

    mode: AuthMode = ""
    realm: str = "soap-gateway"
    # The WSDL holds no secrets and 1C's Configurator may fetch it without credentials.
    wsdl_public: bool = True
    # Probes a load balancer sends without credentials; they reveal nothing.
    public_paths: tuple[str, ...] = ("/healthz", "/readyz")
    # /readyz names the billing login, the journal's path and errors' words only to an authenticated
    # admin; true: to anyone who can reach it (a probe that needs them, on a private network).
    readyz_details: bool = False
    allow: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    forwarded_for_header: str = "X-Forwarded-For"
    client_cert_header: str = ""
    anonymous_roles: tuple[str, ...] = ("admin",)
    passthrough_roles: tuple[str, ...] = ("cashier",)
    users: Mapping[str, UserSettings] = field(default_factory=dict)
    clients: Mapping[str, ClientSettings] = field(default_factory=dict)
    roles: Mapping[str, RoleSettings] = field(default_factory=dict)


DEFAULT_ROLES: Mapping[str, RoleSettings] = {
    "reader": RoleSettings(operations=("mode:read",)),
    "cashier": RoleSettings(operations=("mode:read", "tag:payment")),
    "admin": RoleSettings(operations=("*",)),
}


def role_table(auth: AuthSettings) -> dict[str, RoleSettings]:
    """The built-in roles, overridden and extended by the configured ones."""
    return {**DEFAULT_ROLES, **auth.roles}


def networks(entries: tuple[str, ...], key: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    result = []
    for entry in entries:
        try:
            result.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ConfigurationError(f"{key}: {entry!r} is not an address or network such as 10.0.0.0/8") from None
    return tuple(result)


def check_auth(auth: AuthSettings) -> None:
    """Cross-field rules of the [auth] section."""
    networks(auth.allow, "auth.allow")
    networks(auth.trusted_proxies, "auth.trusted_proxies")
    if auth.client_cert_header and not auth.trusted_proxies:
        raise ConfigurationError("auth.client_cert_header needs auth.trusted_proxies: the header is believed "
                                 "only from the reverse proxy that verified the certificate")
    roles = role_table(auth)
    holders = [(f"auth.users.{name}.roles", user.roles) for name, user in auth.users.items()]
    holders += [(f"auth.clients.{name}.roles", client.roles) for name, client in auth.clients.items()]
    holders += [("auth.anonymous_roles", auth.anonymous_roles), ("auth.passthrough_roles", auth.passthrough_roles)]
    for key, names in holders:
        for name in names:
            if name not in roles:
                raise ConfigurationError(f"{key}: unknown role {name!r}; known: {', '.join(sorted(roles))}")
    if auth.mode == "basic":
        if not auth.users and not auth.clients:
            raise ConfigurationError("auth.mode = \"basic\" needs at least one [auth.users.<name>] "
                                     "(or [auth.clients.<certificate CN>])")
        for name, user in auth.users.items():
            if not user.password_hash.startswith("$argon2"):
                raise ConfigurationError(f"auth.users.{name}.password_hash: not an argon2 hash "
                                         "(make one with: soap-gateway hash-password)")


def require_auth_decision(auth: AuthSettings) -> None:
    """A production server starts only once someone chose how callers authenticate."""
    if not auth.mode:
        raise ConfigurationError(
            'auth.mode is not set: add an [auth] section with mode = "basic" (users with argon2 hashes), '
            '"pass-through" (cashiers\' own billing logins), or "none" (only behind a proxy that authenticates)')
