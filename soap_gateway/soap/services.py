"""One Spyne operation per catalogue procedure, generated, never written by hand.

Operation names are the procedure names, request parts the vendor's argument
names (minus the SUID, which the gateway owns), message parts are named
``parameters`` so .NET generators produce wrapped methods.  Operations return
plain values (soap.writer.Reply); list replies are streamed from the billing.
"""

from __future__ import annotations

import datetime as dt
from itertools import chain, islice
from typing import Any

from spyne import Array, Service, rpc

from ..backend import RowStream
from ..catalogue import Catalogue, Procedure
from ..core import Gateway
from ..web import CallContext
from .idempotency import KEY_ELEMENT, key_field, operation_note, published_arguments
from .models import TNS, BillingSession, OutputConverter, argument_field, documentation, row_model
from .writer import Reply

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


def _rows_reply(stream: RowStream, convert: OutputConverter, buffer_rows: int) -> Reply:
    """Up to ``buffer_rows`` rows read before the reply starts (a failure among them is a fault);
    the rest, if any, are read while the reply is written."""
    rows = map(convert, stream)
    try:
        head = list(islice(rows, buffer_rows))
    except BaseException as exc:
        stream.close(type(exc).__name__)
        raise
    if len(head) < buffer_rows:
        return Reply(rows=head)
    return Reply(rows=chain(head, rows), complete=False, close=stream.close)


def _operation(proc: Procedure, gateway: Gateway, zone: dt.tzinfo | None, buffer_rows: int) -> Any:
    params = published_arguments(proc)
    names = [a.name for a in params] + ([KEY_ELEMENT] if proc.idempotent else [])
    fields = [argument_field(a) for a in params] + ([key_field()] if proc.idempotent else [])
    convert = OutputConverter(proc, zone)
    streams = proc.result == "rows" and not proc.writes  # a write's reply goes through the journal whole

    def operation(ctx: Any, *values: Any) -> Reply:
        args = {name: value for name, value in zip(names, values) if value is not None}
        key = args.pop(KEY_ELEMENT, None)
        header = ctx.in_header
        suid = str(header.SUID) if header is not None and header.SUID is not None else None
        call: CallContext = ctx.udc
        if streams:
            stream = gateway.stream(proc.name, args, suid=suid, credentials=call.credentials,
                                    principal=call.principal)
            return _rows_reply(stream, convert, buffer_rows)
        rows = gateway.invoke(proc.name, args, suid=suid, credentials=call.credentials, principal=call.principal,
                              idempotency_key=key, caller=call.caller, correlation_id=call.correlation_id)
        if proc.result == "rows":
            return Reply(rows=[convert(row) for row in rows])
        return Reply(value=convert(rows[0]) if rows else {})

    operation.__name__ = proc.name
    operation.__doc__ = operation_doc(proc)
    options: dict[str, Any] = dict(
        _args=names, _returns=result_type(proc), _wsdl_part_name="parameters",
        _out_variable_name=f"{proc.name}Result", _udd={"procedure": proc.name},
    )
    if proc.session:
        options["_in_header"] = (BillingSession,)
    return rpc(*fields, **options)(operation)


def build_service(catalogue: Catalogue, gateway: Gateway, zone: dt.tzinfo | None,
                  extra: dict[str, Any] | None = None, buffer_rows: int = 1000) -> type[Service]:
    """The Service class with every catalogue procedure as an operation (and ``extra`` methods).

    ``zone`` is None to publish the billing's wall-clock times without an
    offset, or the billing's zone to publish them with its offset.  List
    replies longer than ``buffer_rows`` are streamed (soap.writer).
    """
    methods = {name: _operation(proc, gateway, zone, buffer_rows) for name, proc in catalogue.items()}
    methods.update(extra or {})
    return type(SERVICE_NAME, (Service,), {"__service_name__": SERVICE_NAME, "__namespace__": TNS, **methods})
