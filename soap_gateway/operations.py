"""Operations as every facade offers them: a catalogue procedure (or the gateway's own), run for a call.

A facade parses its wire format into arguments, calls an ``Operation`` with
the call context, and writes the ``Reply`` in its own format; what lies
between — who may call, whose session, the journal, the published values and
when a list starts streaming — is here once, so SOAP and REST cannot differ.

The gateway's own operations (not billing procedures) are declared once as an
``OwnOperation`` — a ``Procedure`` describing their arguments and reply in
the catalogue's terms, and the function that runs them — and listed by
``own_operations``; every facade then offers them like a catalogue procedure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import logging
from dataclasses import dataclass
from itertools import chain, islice
from typing import Any, Callable, Iterable, Iterator, Mapping

from .backend import Row, RowStream
from .backend.codec import validate_args
from .catalogue import Argument, Catalogue, Column, Procedure
from .catalogue.types import Money, Text
from .core import Gateway
from .journal.marker import RESERVED
from .web import CallContext

log = logging.getLogger("soap_gateway.operations")
EXTRA_FIELD = "EXTRA_COLUMNS"
KEY_MAX_LEN = 64


def _nothing(outcome: str) -> None:
    pass


@dataclass
class Reply:
    """An operation's result as plain values: one record (a mapping by field name) or records.

    ``rows`` is consumed while the reply is written; ``complete`` says it is already all in memory
    (the reply is then written before the first byte goes out, with a Content-Length); ``close``
    releases what the rows hold open, whether or not they were consumed, told why they were not.
    """

    value: Mapping[str, Any] | None = None
    rows: Iterable[Mapping[str, Any]] | None = None
    complete: bool = True
    close: Callable[[str], None] = _nothing


@dataclass(frozen=True)
class OwnOperation:
    """An operation of the gateway itself, declared once for every facade."""

    spec: Procedure  # name, arguments, reply columns and shape, mode, words: the catalogue's vocabulary
    run: Callable[[Gateway, CallContext, dict[str, Any]], list[Row]]


Declaration = Callable[[Catalogue], Iterable[OwnOperation]]
_declared: list[Declaration] = []


def declare(declaration: Declaration) -> Declaration:
    """Offer a feature's own operations (a function of the catalogue) in every app built afterwards,
    on every facade; roles select them like procedures (by name, ``mode:``, ``tag:``)."""
    _declared.append(declaration)
    return declaration


def withdraw(declaration: Declaration) -> None:
    _declared.remove(declaration)


def own_operations(catalogue: Catalogue) -> list[OwnOperation]:
    """The gateway's own operations offered next to the catalogue's procedures."""
    return [own for declaration in _declared for own in declaration(catalogue)]


def offered(catalogue: Catalogue) -> Catalogue:
    """The catalogue with the own operations' descriptions added: what roles are resolved against."""
    return Catalogue({**catalogue, **{own.spec.name: own.spec for own in own_operations(catalogue)}})


class Operation:
    """One operation for every facade: its published arguments, and running it for a call."""

    def __init__(self, proc: Procedure, gateway: Gateway | None, zone: dt.tzinfo | None, buffer_rows: int,
                 run: Callable[[Gateway, CallContext, dict[str, Any]], list[Row]] | None = None,
                 marked: bool = True) -> None:
        self.proc, self.name = proc, proc.name
        self.gateway = gateway
        self.params = published_arguments(proc, marked)
        # A facade may take it from a URL (REST GET): a read with no secret argument, as URLs are logged.
        self.by_query = proc.mode == "read" and not any(a.secret for a in self.params)
        published = {a.name: a for a in self.params}
        self.published = dataclasses.replace(proc, args=tuple(published.get(a.name, a) for a in proc.args))
        self.convert = OutputConverter(proc, zone)
        self.buffer_rows = buffer_rows
        self._own = run
        # a write's reply goes through the journal whole
        self.streams = proc.result == "rows" and not proc.writes and run is None

    def check(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Arguments from a facade that has no schema validator of its own, checked against what is
        published (the marker's room taken off) and made canonical; raises InvalidArgument."""
        return validate_args(self.published, args)

    def __call__(self, call: CallContext, args: dict[str, Any], *, key: str | None = None,
                 suid: str | None = None) -> Reply:
        gateway = self.gateway
        assert gateway is not None, "an operation built without a gateway only describes itself"
        if self._own is not None:
            if call.principal is not None:
                call.principal.authorize(self.proc)
            rows = self._own(gateway, call, args)
        elif self.streams:
            stream = gateway.stream(self.name, args, suid=suid, credentials=call.credentials,
                                    principal=call.principal)
            return self._rows_reply(stream)
        else:
            rows = gateway.invoke(self.name, args, suid=suid, credentials=call.credentials,
                                  principal=call.principal, idempotency_key=key, caller=call.caller,
                                  correlation_id=call.correlation_id)
        if self.proc.result == "rows":
            return Reply(rows=[self.convert(row) for row in rows])
        return Reply(value=self.convert(rows[0]) if rows else {})

    def _rows_reply(self, stream: RowStream) -> Reply:
        """Up to ``buffer_rows`` rows read before the reply starts (a failure among them is an error
        reply); the rest, if any, are read while the reply is written."""
        rows: Iterator[dict[str, Any]] = map(self.convert, stream)
        try:
            head = list(islice(rows, self.buffer_rows))
        except BaseException as exc:
            stream.close(type(exc).__name__)
            raise
        if len(head) < self.buffer_rows:
            return Reply(rows=head)
        return Reply(rows=chain(head, rows), complete=False, close=stream.close)


def operations(catalogue: Catalogue, gateway: Gateway | None, zone: dt.tzinfo | None,
               buffer_rows: int, marked: bool = True) -> dict[str, Operation]:
    """Every operation a facade offers: the catalogue's procedures, then the gateway's own.

    ``marked``: payments carry the gateway's marker (journal.evidence = "marker"), which takes room
    in their text; otherwise their document number is required instead.
    """
    found = {name: Operation(proc, gateway, zone, buffer_rows, marked=marked) for name, proc in catalogue.items()}
    for own in own_operations(catalogue):
        found[own.spec.name] = Operation(own.spec, gateway, zone, buffer_rows, own.run)
    return found


def published_arguments(proc: Procedure, marked: bool = True) -> list[Argument]:
    """The caller's arguments: the marker argument shortened by the marker's room, or (``marked`` False:
    journal.evidence = "number") the document number required instead."""
    if not marked and proc.reconcile == "posting" and proc.lookup is not None and proc.lookup.number:
        return [dataclasses.replace(a, required=True) if a.name == proc.lookup.number else a for a in proc.params]
    return [_shortened(a) if a.name == proc.marker else a for a in proc.params]


def _shortened(arg: Argument) -> Argument:
    assert isinstance(arg.type, Text)
    room = arg.type.max_len - RESERVED
    note = (f"Шлюз ставит в начало поля метку сверки (знаков: {RESERVED}), поэтому здесь не более {room} знаков.\n"
            f"The gateway puts its reconciliation marker in front ({RESERVED} characters): at most {room} here.")
    return dataclasses.replace(arg, type=Text(arg.type.billing, room), doc_en=f"{arg.doc_en}\n{note}".strip())


def documentation(item: Argument | Column | Procedure) -> str:
    """The vendor's Russian words first, then the English ones."""
    text = "\n".join(t for t in (item.doc_ru, item.doc_en) if t)
    if isinstance(item, Argument) and item.choices:
        text += f"\nДопустимо / allowed: {', '.join(map(str, item.choices))}"
    if isinstance(item, (Argument, Column)):
        text += f"\n[{item.type.billing}]"
    return text.strip()


class OutputConverter:
    """Turns decoded rows into the plain values every facade publishes, enforcing what we publish."""

    def __init__(self, proc: Procedure, zone: dt.tzinfo | None) -> None:
        self.proc, self.zone = proc, zone
        self._fix: dict[str, Callable[[Any], Any]] = {c.name: self._fixer(c) for c in proc.columns}

    def __call__(self, row: Any) -> dict[str, Any]:
        given = row.values
        values = {name: (fix(value) if (value := given.get(name)) is not None else None)
                  for name, fix in self._fix.items()}
        if row.extra:
            values[EXTRA_FIELD] = [{"NAME": k, "VALUE": v or None} for k, v in row.extra.items()]
        return values

    def _fixer(self, column: Column) -> Callable[[Any], Any]:
        vt = column.type
        if isinstance(vt, Text):
            return lambda v: self._clip(column, v)
        if isinstance(vt, Money):
            quantum = vt.quantum
            return lambda v: decimal.Decimal(v).quantize(quantum)
        if vt.kind == "datetime":
            return self._datetime
        return lambda v: v

    def _clip(self, column: Column, value: str) -> str:
        limit = column.type.max_len  # type: ignore[attr-defined]
        if len(value) > limit:
            log.warning("%s.%s longer than %d characters; clipped", self.proc.name, column.name, limit)
            return value[:limit]
        return value

    def _datetime(self, value: dt.datetime) -> dt.datetime:
        if self.zone is not None:
            return value.replace(microsecond=0, tzinfo=self.zone)
        return value.replace(microsecond=0)
