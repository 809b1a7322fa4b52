"""The generic EXECUTE: a procedure outside the catalogue, run only when the configuration lists it.

Off by default.  Nothing is known about such a procedure, so its arguments are
sent as text in the order given, its reply comes back as name/value pairs, and
it is treated as a write: never repeated after a timeout.
"""

from __future__ import annotations

from typing import Sequence

from .backend import BillingClient, Credentials, Row
from .catalogue import Argument, Catalogue, Procedure
from .catalogue.types import parse_type
from .errors import ConfigurationError, InvalidArgument, PermissionDenied

OPERATION = "EXECUTE"
MAX_ARGS = 64
# Firebird's longest VARCHAR: the billing casts each text argument to its parameter's type.
_ARG_TYPE = parse_type("VARCHAR(32765)")


class Executor:
    """Runs the procedures named in ``billing.execute_procedures``, nothing else."""

    def __init__(self, client: BillingClient, allowed: Sequence[str], catalogue: Catalogue) -> None:
        overlap = sorted({n.upper() for n in allowed} & set(catalogue))
        if overlap:
            raise ConfigurationError(f"billing.execute_procedures: {', '.join(overlap)} is in the catalogue; "
                                     "call its own operation instead")
        self.client = client
        self.allowed = frozenset(n.upper() for n in allowed)

    def run(self, name: str, args: Sequence[str | None], *, caller: str = "anonymous",
            credentials: Credentials | None = None) -> list[Row]:
        procedure = name.strip().upper()
        if procedure not in self.allowed:
            raise PermissionDenied(caller=caller, operation=f"{OPERATION} {procedure or '(no procedure)'}")
        if len(args) > MAX_ARGS:
            raise InvalidArgument(OPERATION, [("ARGS", f"at most {MAX_ARGS} arguments")])
        params = tuple(Argument(name=f"ARG{i}", type=_ARG_TYPE) for i in range(1, len(args) + 1))
        proc = Procedure(name=procedure, mode="write", result="rows", args=params, source="execute")
        values = {p.name: v for p, v in zip(params, args) if v is not None}
        return self.client.call_procedure(proc, values, credentials=credentials)
