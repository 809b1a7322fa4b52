"""One Spyne operation per operation (soap_gateway.operations), generated, never written by hand.

Operation names are the procedure names, request parts the vendor's argument
names (minus the SUID, which the gateway owns), message parts are named
``parameters`` so .NET generators produce wrapped methods.  Operations return
plain values (operations.Reply); list replies are streamed from the billing.
"""

from __future__ import annotations

from typing import Any

from spyne import Array, Service, rpc

from ..catalogue import Procedure
from ..operations import Operation, Reply, documentation
from .idempotency import KEY_ELEMENT, key_field, operation_note
from .models import TNS, BillingSession, argument_field, row_model

SERVICE_NAME = "BillingService"


def operation_doc(proc: Procedure) -> str:
    text = documentation(proc)
    for note in (proc.note, operation_note(proc)):
        if note:
            text += f"\n\n{note}"
    return text


def result_type(proc: Procedure) -> Any:
    """The reply type of an operation."""
    if proc.result == "rows":
        array = Array(row_model(proc, "Row"), type_name=f"ArrayOf{proc.name}_Row", member_name="Row")
        return array.customize(min_occurs=1, nillable=False)
    suffix = "Result" if proc.result == "row" else "Status"
    return row_model(proc, suffix).customize(min_occurs=1, nillable=False)


def _operation(op: Operation) -> Any:
    proc = op.proc
    names = [a.name for a in op.params] + ([KEY_ELEMENT] if proc.idempotent else [])
    fields = [argument_field(a) for a in op.params] + ([key_field()] if proc.idempotent else [])

    def operation(ctx: Any, *values: Any) -> Reply:
        args = {name: value for name, value in zip(names, values) if value is not None}
        key = args.pop(KEY_ELEMENT, None)
        header = ctx.in_header
        suid = str(header.SUID) if header is not None and header.SUID is not None else None
        return op(ctx.udc, args, key=key, suid=suid)

    operation.__name__ = proc.name
    operation.__doc__ = operation_doc(proc)
    options: dict[str, Any] = dict(
        _args=names, _returns=result_type(proc), _wsdl_part_name="parameters",
        _out_variable_name=f"{proc.name}Result", _udd={"procedure": proc.name},
    )
    if proc.session:
        options["_in_header"] = (BillingSession,)
    return rpc(*fields, **options)(operation)


def build_service(ops: dict[str, Operation], extra: dict[str, Any] | None = None) -> type[Service]:
    """The Service class with every operation (soap_gateway.operations) as a method, and ``extra`` methods."""
    methods = {name: _operation(op) for name, op in ops.items()}
    methods.update(extra or {})
    return type(SERVICE_NAME, (Service,), {"__service_name__": SERVICE_NAME, "__namespace__": TNS, **methods})
