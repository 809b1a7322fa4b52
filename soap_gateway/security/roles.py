"""Roles resolved against the catalogue: which operations a caller may run, which secrets it may see.

Role definitions select procedures by the catalogue's own facts (``mode:read``,
``tag:payment``) rather than by hand-kept lists of names, so a site's added
read procedure is readable by readers without touching the roles.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterable

from ..catalogue import Catalogue, Procedure, Row
from ..errors import ConfigurationError, PermissionDenied
from .settings import AuthSettings, RoleSettings, role_table

log = logging.getLogger("soap_gateway.security")
_MODES = ("read", "write", "login")
EXECUTE = "EXECUTE"  # the generic operation (soap_gateway.execute), outside the catalogue


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its name, how it proved it, and what its roles allow."""

    name: str
    via: str
    roles: tuple[str, ...]
    operations: frozenset[str]
    secrets: frozenset[str]

    def authorize(self, proc: Procedure) -> None:
        """Raise PermissionDenied (and log it, without secrets) unless a role allows ``proc``."""
        if proc.name not in self.operations:
            log.warning("permission denied: caller %r (%s, roles %s) may not call %s",
                        self.name, self.via, ",".join(self.roles) or "-", proc.name)
            raise PermissionDenied(caller=self.name, operation=proc.name)


def secret_columns(catalogue: Catalogue) -> frozenset[str]:
    """Every column name the catalogue flags secret, in any procedure (upper case)."""
    return frozenset(c.name.upper() for proc in catalogue.values() for c in proc.columns if c.secret)


class RoleBook:
    """The configured roles, each resolved once to procedure names and visible secret columns."""

    def __init__(self, auth: AuthSettings, catalogue: Catalogue) -> None:
        self.secret_names = secret_columns(catalogue)
        self._roles = {name: self._resolve(name, role, catalogue) for name, role in role_table(auth).items()}

    def principal(self, name: str, via: str, roles: Iterable[str]) -> Principal:
        roles = tuple(roles)
        operations: set[str] = set()
        secrets: set[str] = set()
        for role in roles:
            allowed, visible = self._roles[role]
            operations |= allowed
            secrets |= visible
        return Principal(name, via, roles, frozenset(operations), frozenset(secrets))

    def _resolve(self, name: str, role: RoleSettings, catalogue: Catalogue) -> tuple[frozenset[str], frozenset[str]]:
        operations: set[str] = set()
        for selector in role.operations:
            chosen = _select(selector, catalogue)
            if not chosen:
                raise ConfigurationError(
                    f"auth.roles.{name}.operations: {selector!r} selects no procedure of the catalogue "
                    "(use *, mode:read, mode:write, mode:login, tag:<tag>, EXECUTE or a procedure name)")
            operations |= chosen
        secrets: set[str] = set()
        for column in role.secrets:
            if column == "*":
                secrets |= self.secret_names
            elif column.upper() in self.secret_names:
                secrets.add(column.upper())
            else:
                raise ConfigurationError(f"auth.roles.{name}.secrets: {column!r} is not a secret column "
                                         f"(known: {', '.join(sorted(self.secret_names))})")
        return frozenset(operations), frozenset(secrets)


def _select(selector: str, catalogue: Catalogue) -> set[str]:
    kind, _, value = selector.partition(":")
    if selector == "*":
        return set(catalogue) | {EXECUTE}
    if selector == EXECUTE:  # the generic operation: named on its own, never by mode or tag
        return {EXECUTE}
    if kind == "mode" and value in _MODES:
        return {n for n, p in catalogue.items() if p.mode == value}
    if kind == "tag" and value:
        return {n for n, p in catalogue.items() if value in p.tags}
    return {selector} if selector in catalogue else set()


def redact(proc: Procedure, rows: list[Row], visible: frozenset[str], secret_names: frozenset[str]) -> list[Row]:
    """Blank the secret columns ``visible`` does not include, in place; returns ``rows``."""
    hide = redaction(proc, visible, secret_names)
    for row in rows:
        hide(row)
    return rows


def redaction(proc: Procedure, visible: frozenset[str], secret_names: frozenset[str]) -> Callable[[Row], Row]:
    """What ``redact`` does to one row of ``proc``, decided once for a stream of them.

    A login's reply is the caller's own new session, asked for with its own
    password, so it is not redacted.  Unknown (extra) columns named like a
    secret column anywhere in the catalogue are blanked too.
    """
    if proc.mode == "login":
        return lambda row: row
    hidden = [c.name for c in proc.columns if c.secret and c.name.upper() not in visible]

    def hide(row: Row) -> Row:
        for name in hidden:
            row.values[name] = None
        if row.extra:
            for name in [n for n in row.extra if n.upper() in secret_names and n.upper() not in visible]:
                row.extra[name] = ""
        return row
    return hide
