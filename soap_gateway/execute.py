"""The generic EXECUTE: a procedure outside the catalogue, run only when the configuration lists it.

Off by default.  Nothing is known about such a procedure, so its arguments are
sent as text in the order given, its reply comes back as name/value pairs, and
it is treated as a write: never repeated, not even after an expired session.
Like every operation it is authorized (a role must name ``EXECUTE``; of the
built-in roles only admin does), and every call is audited in the journal,
before it is sent and after.
"""

from __future__ import annotations

from typing import Sequence

from .backend import BillingClient, Credentials, PreparedCall, Row
from .catalogue import Argument, Catalogue, Procedure
from .catalogue.types import parse_type
from .errors import ConfigurationError, InvalidArgument, PermissionDenied
from .journal.guard import WriteGuard
from .journal.model import Who, who_called
from .security.roles import Principal

OPERATION = "EXECUTE"
MAX_ARGS = 64
# Firebird's longest VARCHAR: the billing casts each text argument to its parameter's type.
_ARG_TYPE = parse_type("VARCHAR(32765)")


class Executor:
    """Runs the procedures named in ``billing.execute_procedures``, nothing else."""

    def __init__(self, client: BillingClient | None, writes: WriteGuard | None, allowed: Sequence[str],
                 catalogue: Catalogue) -> None:
        """``writes``: the gateway's journaled write path (None without a journal: EXECUTE is refused)."""
        overlap = sorted({n.upper() for n in allowed} & set(catalogue))
        if overlap:
            raise ConfigurationError(f"billing.execute_procedures: {', '.join(overlap)} is in the catalogue; "
                                     "call its own operation instead")
        self.client, self.writes = client, writes
        self.allowed = frozenset(n.upper() for n in allowed)

    def run(self, name: str, args: Sequence[str | None], *, principal: Principal | None = None,
            credentials: Credentials | None = None, correlation_id: str = "") -> list[Row]:
        """``principal`` None: a library caller, who may run it; otherwise its roles must name EXECUTE."""
        caller = principal.name if principal is not None else "anonymous"
        procedure = name.strip().upper()
        if principal is not None and OPERATION not in principal.operations:
            raise PermissionDenied(caller=caller, operation=OPERATION)
        if procedure not in self.allowed:
            raise PermissionDenied(caller=caller, operation=f"{OPERATION} {procedure or '(no procedure)'}")
        if len(args) > MAX_ARGS:
            raise InvalidArgument(OPERATION, [("ARGS", f"at most {MAX_ARGS} arguments")])
        if self.writes is None:
            raise ConfigurationError("EXECUTE needs the write journal: every call is audited")
        params = tuple(Argument(name=f"ARG{i}", type=_ARG_TYPE) for i in range(1, len(args) + 1))
        proc = Procedure(name=procedure, mode="write", result="rows", args=params, source="execute")
        values = {p.name: v for p, v in zip(params, args) if v is not None}
        client = self.client
        assert client is not None

        def send(call: PreparedCall) -> list[Row]:
            return client.send(call, credentials=credentials)

        who = Who(who_called(caller, credentials, None), correlation_id)
        try:
            prepared = client.prepare(proc, values)
        except InvalidArgument as exc:
            self.writes.refused(proc, who, exc, note=f"via {OPERATION}")
            raise
        return self.writes.audited(prepared, send, who, note=f"via {OPERATION}")
