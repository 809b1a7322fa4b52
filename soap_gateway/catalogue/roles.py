"""The procedures, arguments and columns the gateway calls and reads by itself, found by role.

Checked once a site's files and ``arg_counts`` are applied, so a site may
rename what it likes as long as the roles stay: each procedure role is held
by exactly one procedure, which has the arguments and columns that role
needs.  Errors name the file, the procedure and the field.
"""

from __future__ import annotations

from typing import Mapping

from ..errors import ConfigurationError
from .model import PROCEDURE_ROLES, Procedure
from .types import Text


def check_roles(procedures: Mapping[str, Procedure]) -> None:
    for role in PROCEDURE_ROLES:
        holders = [p for p in procedures.values() if role in p.roles]
        if len(holders) != 1:
            found = ", ".join(f"{p.name} in {p.source}" for p in holders) or "none"
            raise ConfigurationError(f"catalogue: exactly one procedure must have roles = [{role!r}]; found {found}")
    held = {role: next(p for p in procedures.values() if role in p.roles) for role in PROCEDURE_ROLES}
    _login(held["login"])
    _probe(held["probe"])
    _payment(held["payment"], procedures)
    _subscriber(held["subscriber"])
    _contract_search(held["contract_search"])


def _fail(proc: Procedure, where: str, why: str) -> ConfigurationError:
    return ConfigurationError(f"catalogue {proc.source}: {proc.name}.{where}: {why}")


def _supplied(proc: Procedure, *roles: str) -> None:
    """Each role held by an argument the caller supplies."""
    for role in roles:
        arg = proc.argument(role)
        if arg is None or arg.fixed:
            raise _fail(proc, "args", f"no argument the caller supplies has role = {role!r}")


def _columns(proc: Procedure, *roles: str) -> None:
    for role in roles:
        if proc.role_column(role) is None:
            raise _fail(proc, "columns", f"no column has role = {role!r}")


def _login(login: Procedure) -> None:
    if login.mode != "login" or login.session:
        raise _fail(login, "roles", "the login procedure needs mode = \"login\" and session = false")
    _supplied(login, "login", "password")
    if login.role_column("session") is None:
        raise _fail(login, "columns", "no column has role = 'session' (the session id it returns)")


def _probe(probe: Procedure) -> None:
    if probe.mode != "read":
        raise _fail(probe, "roles", "a probe must be a read")
    params = {a.name: a for a in probe.params}
    for arg_name in probe.probe:
        if arg_name not in params:  # dropped by arg_counts
            raise _fail(probe, f"probe.{arg_name}", "is not an argument the procedure takes here")
    missing = [a.name for a in probe.params if a.required and a.name not in probe.probe]
    if missing:
        raise _fail(probe, "probe", f"required argument(s) {missing} not given")


def _payment(payment: Procedure, procedures: Mapping[str, Procedure]) -> None:
    """The accounting operations post it line by line and list its postings by its lookup."""
    if payment.mode != "write" or payment.reconcile != "posting":
        raise _fail(payment, "roles", "the payment must be an idempotent write reconciled by its postings "
                                      "(reconcile = \"posting\")")
    _supplied(payment, "subscriber")
    _columns(payment, "record")
    kind = payment.argument("kind")
    if kind is not None and (not kind.fixed or kind.value is None):
        raise _fail(payment, f"args ({kind.name}).role", "the payment's kind is a fixed argument (the operation "
                                                         "type it posts)")
    listing = procedures[payment.lookup.procedure]  # type: ignore[union-attr]  # posting: checked by the loader
    by_kind = listing.argument("kind")
    if by_kind is not None and kind is None:
        raise _fail(listing, f"args ({by_kind.name}).role", f"lists operations by kind, but the payment "
                                                            f"{payment.name} has no fixed argument with role = 'kind'")


def _subscriber(read: Procedure) -> None:
    if read.mode != "read" or read.result != "row":
        raise _fail(read, "roles", "reading a subscriber needs mode = \"read\" and result = \"row\"")
    _supplied(read, "subscriber")
    _columns(read, "contract", "parent")


def _contract_search(search: Procedure) -> None:
    if search.mode != "read" or search.result != "rows":
        raise _fail(search, "roles", "a contract search needs mode = \"read\" and result = \"rows\"")
    _supplied(search, "contract")
    if not isinstance(search.argument("contract").type, Text):  # type: ignore[union-attr]
        raise _fail(search, "args", "the argument with role = 'contract' must be text")
    _columns(search, "subscriber")
