"""One Spyne operation per catalogue procedure, generated, never written by hand.

Operation names are the procedure names, request parts the vendor's argument
names (minus the SUID, which the gateway owns), message parts are named
``parameters`` so .NET generators produce wrapped methods.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from spyne import Array, Service, rpc

from ..catalogue import Catalogue, Procedure
from ..core import Gateway
from .idempotency import KEY_ELEMENT, key_field, operation_note, published_arguments
from .models import TNS, BillingSession, OutputConverter, argument_field, documentation, row_model

SERVICE_NAME = "BillingService"


def operation_doc(proc: Procedure) -> str:
    text = documentation(proc)
    for note in (proc.note, operation_note(proc)):
        if note:
            text += f"\n\n{note}"
    return text


def _result(proc: Procedure, zone: dt.tzinfo | None) -> tuple[Any, Callable[[list[Any]], Any]]:
    """The reply type of an operation and how decoded rows become it."""
    if proc.result == "rows":
        model = row_model(proc, "Row")
        convert = OutputConverter(proc, model, zone)
        array = Array(model, type_name=f"ArrayOf{proc.name}_Row", member_name="Row")
        return array.customize(min_occurs=1, nillable=False), lambda rows: [convert(r) for r in rows]
    suffix = "Result" if proc.result == "row" else "Status"
    model = row_model(proc, suffix)
    convert = OutputConverter(proc, model, zone)
    empty = model()
    return model.customize(min_occurs=1, nillable=False), lambda rows: convert(rows[0]) if rows else empty


def _operation(proc: Procedure, gateway: Gateway, zone: dt.tzinfo | None) -> Any:
    params = published_arguments(proc)
    names = [a.name for a in params] + ([KEY_ELEMENT] if proc.idempotent else [])
    fields = [argument_field(a) for a in params] + ([key_field()] if proc.idempotent else [])
    returns, shape = _result(proc, zone)

    def operation(ctx: Any, *values: Any) -> Any:
        args = {name: value for name, value in zip(names, values) if value is not None}
        key = args.pop(KEY_ELEMENT, None)
        header = ctx.in_header
        suid = str(header.SUID) if header is not None and header.SUID is not None else None
        return shape(gateway.invoke(proc.name, args, suid=suid, credentials=getattr(ctx.udc, "credentials", None),
                                    principal=getattr(ctx.udc, "principal", None), idempotency_key=key,
                                    caller=getattr(ctx.udc, "caller", "anonymous"),
                                    correlation_id=getattr(ctx.udc, "correlation_id", "")))

    operation.__name__ = proc.name
    operation.__doc__ = operation_doc(proc)
    options: dict[str, Any] = dict(
        _args=names, _returns=returns, _wsdl_part_name="parameters",
        _out_variable_name=f"{proc.name}Result", _udd={"procedure": proc.name},
    )
    if proc.session:
        options["_in_header"] = (BillingSession,)
    return rpc(*fields, **options)(operation)


def build_service(catalogue: Catalogue, gateway: Gateway, zone: dt.tzinfo | None,
                  extra: dict[str, Any] | None = None) -> type[Service]:
    """The Service class with every catalogue procedure as an operation (and ``extra`` methods).

    ``zone`` is None to publish the billing's wall-clock times without an
    offset, or the billing's zone to publish them with its offset.
    """
    methods = {name: _operation(proc, gateway, zone) for name, proc in catalogue.items()}
    methods.update(extra or {})
    return type(SERVICE_NAME, (Service,), {"__service_name__": SERVICE_NAME, "__namespace__": TNS, **methods})
