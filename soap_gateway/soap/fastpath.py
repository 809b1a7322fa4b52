"""The request path compiled from the catalogue: lxml, the published schema, the operations, our writer.

Spyne's request machinery (its contexts, events, deserializer and fault
serializer) costs several times what parsing and validating the envelope
costs.  This path reads what the guard passed (UTF-8, well-formed, one
operation in the Body) with lxml and the parser options Spyne uses,
validates the operation element against the schema of the published WSDL
(the validator Spyne built), converts each argument by its catalogue type as
Spyne reads it, and calls the operation exactly as the Spyne operation does;
the reply is written by writer.ReplyWriter and a fault by faults.py.
tests/test_fast_path.py holds it to Spyne's path, request by request.

Each operation is compiled once at start: its element's tag, its arguments'
tags and converters, whether it takes the session header, its writer.  The
gateway's own accounting operations, whose inputs are arrays of complex lines,
and the generic EXECUTE are read by fastpath_models.py from their published
Spyne models.  An element that is none of our operations is answered by
Spyne, whatever its answer is.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol

from lxml import etree
from spyne import Fault

from ..catalogue.types import ValueType
from ..errors import GatewayError
from ..operations import Operation, Reply
from ..web import CallContext
from .faults import request_fault, schema_fault, stamp_correlation_id, to_fault
from .idempotency import KEY_ELEMENT
from .models import TNS, BillingSession
from .writer import XSI, ReplyWriter

log = logging.getLogger("soap_gateway.soap")
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NIL = f"{{{XSI}}}nil"
_HEADER, _BODY = f"{{{SOAP_ENV}}}Header", f"{{{SOAP_ENV}}}Body"
_SESSION = f"{{{TNS}}}{BillingSession.get_type_name()}"
(_SESSION_ID,) = BillingSession.get_flat_type_info(BillingSession)  # the header's one field, named in models.py

# xs:date and xs:dateTime as Spyne's SOAP protocol reads them (its patterns, matched at the start).
_DATE = r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
_TIME = r"(?P<hr>\d{2}):(?P<min>\d{2}):(?P<sec>\d{2})(?P<sec_frac>\.\d+)?"
_OFFSET = r"(?P<tz_hr>[+-]\d{2}):(?P<tz_min>\d{2})"
_DATETIME_UTC = re.compile(_DATE + "[T ]" + _TIME + "Z")
_DATETIME_OFFSET = re.compile(_DATE + "[T ]" + _TIME + _OFFSET)
_DATETIME_LOCAL = re.compile(_DATE + "[T ]" + _TIME)
_DATE_OFFSET = re.compile(_DATE + "(" + _OFFSET + "|Z)")


class Refused(Exception):
    """A value the schema let through and the conversion does not: the fault Spyne answers it with."""

    def __init__(self, fault: Fault) -> None:
        super().__init__(fault.faultstring)
        self.fault = fault


def not_valid(field: str, text: str | None) -> Refused:
    # what GatewaySoap11.base_from_element answers when Python refuses a value the schema accepted
    return Refused(schema_fault(f"Element '{field}': {text!r} is not a valid value"))


def unvalidated(text: str | None, message: str = "The value %r could not be validated.") -> Refused:
    # what Spyne's own conversions raise (spyne.error.ValidationError), in our vocabulary
    return Refused(request_fault(Fault("Client.ValidationError", message % (text,))))


def _datetime(match: re.Match[str], tz: dt.tzinfo | None) -> dt.datetime:
    fraction = match["sec_frac"]
    micro = min(999999, int(round(float(fraction) * 1e6))) if fraction else 0
    return dt.datetime(int(match["year"]), int(match["month"]), int(match["day"]), int(match["hr"]),
                       int(match["min"]), int(match["sec"]), micro, tz)


def read_datetime(text: str) -> dt.datetime:
    """An xs:dateTime: aware with a Z or an offset, naive (the billing's wall clock) without."""
    if match := _DATETIME_UTC.match(text):
        return _datetime(match, dt.timezone.utc)
    if match := _DATETIME_OFFSET.match(text):
        hours, minutes = int(match["tz_hr"]), int(match["tz_min"])
        offset = dt.timedelta(hours=hours, minutes=-minutes if match["tz_hr"][0] == "-" else minutes)
        return _datetime(match, dt.timezone(offset))
    if match := _DATETIME_LOCAL.match(text):
        return _datetime(match, None)
    raise LookupError(text)


def read_date(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        match = _DATE_OFFSET.match(text)
        if match is None:
            raise LookupError(text) from None
        return dt.date(int(match["year"]), int(match["month"]), int(match["day"]))


def converter(value_type: ValueType) -> Callable[[str | None], Any]:
    """The Python value of a schema-valid element's text, for a catalogue type."""
    kind = value_type.kind
    if kind in ("short", "int", "long"):
        return int  # type: ignore[return-value]
    if kind == "decimal":
        return decimal.Decimal  # type: ignore[return-value]
    if kind in ("string", "ipv4"):
        return lambda text: text or ""
    if kind == "datetime":
        return read_datetime  # type: ignore[return-value]
    if kind == "date":
        return read_date  # type: ignore[return-value]
    raise LookupError(f"no conversion for value kind {kind!r}")


@dataclass(frozen=True)
class _Argument:
    name: str
    convert: Callable[[str | None], Any]


class CompiledOperation:
    """One operation's request, read and run without Spyne."""

    def __init__(self, op: Operation, writer: ReplyWriter) -> None:
        self.op, self.name, self.writer = op, op.name, writer
        self.session = op.proc.session
        self.arguments = {a.name: _Argument(a.name, converter(a.type)) for a in op.params}
        if op.proc.idempotent:
            self.arguments[KEY_ELEMENT] = _Argument(KEY_ELEMENT, lambda text: text or "")

    def read(self, element: etree._Element) -> dict[str, Any]:
        """The arguments given (a nil or absent one is not given), as the Spyne operation gets them."""
        args: dict[str, Any] = {}
        for child in element:
            argument = self.arguments.get(etree.QName(child).localname)
            if argument is None:
                continue
            if child.get(NIL):  # as Spyne: any value of xsi:nil, "false" too, reads as nil
                args.pop(argument.name, None)
                continue
            text = child.text
            try:
                args[argument.name] = argument.convert(text)
            except LookupError:
                raise unvalidated(text) from None
            except (ValueError, TypeError, decimal.InvalidOperation):
                raise not_valid(argument.name, text) from None
        return args

    def suid(self, header: list[etree._Element]) -> str | None:
        """The SUID of the BillingSession header, if the operation takes one and it is there."""
        return session_id(header) if self.session else None


def session_id(header: list[etree._Element]) -> str | None:
    """The SUID of the BillingSession header, read as Spyne reads it."""
    session = None
    for element in header:
        if element.tag == _SESSION:
            session = element  # as Spyne: the last one counts
    if session is None or session.get(NIL):
        return None
    value: int | None = None
    for child in session:
        if not isinstance(child.tag, str) or etree.QName(child).localname != _SESSION_ID:
            continue
        if child.get(NIL) or child.text is None:  # as Spyne: an empty SUID is none
            value = None
            continue
        try:
            value = int(child.text)
        except (ValueError, TypeError):  # the header is not in the schema Spyne validates
            raise unvalidated(child.text, "Could not cast %r to integer") from None
    return str(value) if value is not None else None


class Compiled(Protocol):
    """What the fast path needs of a compiled operation (CompiledOperation, fastpath_models.CompiledRun)."""

    name: str
    writer: ReplyWriter

    def read(self, element: etree._Element) -> dict[str, Any]: ...

    def suid(self, header: list[etree._Element]) -> str | None: ...

    def op(self, call: CallContext, args: dict[str, Any], *, key: str | None = None,
           suid: str | None = None) -> Reply: ...


@dataclass
class Answer:
    """What the facade sends: a status, a complete body or the chunks of a streamed one."""

    status: str
    body: bytes = b""
    chunks: Any = None  # an iterator of bytes when the reply streams


class FastPath:
    """Answers a guarded request body for the compiled operations; ``None`` for any other."""

    def __init__(self, operations: Mapping[str, Compiled], schema: etree.XMLSchema,
                 parser_options: dict[str, Any]) -> None:
        self.by_tag = {f"{{{TNS}}}{name}": compiled for name, compiled in operations.items()}
        self.schema = schema
        self.parser_options = parser_options
        self._local = threading.local()  # an lxml parser serves one thread at a time

    def _parser(self) -> etree.XMLParser:
        parser = getattr(self._local, "parser", None)
        if parser is None:
            parser = self._local.parser = etree.XMLParser(**self.parser_options)
        return parser

    def answer(self, text: bytes, call: CallContext) -> Answer | None:
        try:
            root = etree.fromstring(text, self._parser())
        except etree.XMLSyntaxError as exc:
            return self._fault(request_fault(Fault("Client.XMLSyntaxError", str(exc))), call)
        header: list[etree._Element] = []
        body = None
        for part in root:
            if part.tag == _HEADER and not header:
                header = list(part)
            elif part.tag == _BODY and body is None:
                body = part[0] if len(part) else None
        if body is None:  # the guard lets no such envelope through; Spyne answers what is left
            return None
        compiled = self.by_tag.get(body.tag)
        if compiled is None:  # none of ours: Spyne's answer, whatever it is
            return None
        call.operation = compiled.name
        try:
            self.schema.assertValid(body)
        except etree.DocumentInvalid as exc:
            return self._fault(schema_fault(str(exc)), call)
        try:
            args = compiled.read(body)
            suid = compiled.suid(header)
        except Refused as refused:
            return self._fault(refused.fault, call)
        key = args.pop(KEY_ELEMENT, None)
        try:
            reply = compiled.op(call, args, key=key, suid=suid)
        except GatewayError as exc:
            fault = to_fault(exc, call.correlation_id)
            if fault.faultcode.startswith("Server"):  # the caller's own mistakes are in the request line
                log.warning("%s answered %s: %s", compiled.name, fault.faultcode, exc)
            return self._fault(fault, call)
        except Exception:
            log.exception("unexpected error in %s", compiled.name)
            return self._fault(to_fault(GatewayError("internal error"), call.correlation_id), call)
        chunks = compiled.writer.chunks(reply)
        if reply.complete:
            return Answer("200 OK", b"".join(chunks))
        call.on_close.append(chunks.close)  # the server closes the body it abandons; that ends the billing call
        return Answer("200 OK", chunks=chunks)

    @staticmethod
    def _fault(fault: Fault, call: CallContext) -> Answer:
        stamp_correlation_id(fault, call.correlation_id)
        call.outcome = str(fault.faultcode)
        return Answer("500 Internal Server Error", fault_document(fault))


def fault_document(fault: Fault) -> bytes:
    """A fault as Spyne's serializer writes it: the same bytes, prefixes and empty faultactor included."""
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap11env": SOAP_ENV, "tns": TNS})
    element = etree.SubElement(etree.SubElement(root, _BODY), f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(element, "faultcode").text = f"soap11env:{fault.faultcode}"
    etree.SubElement(element, "faultstring").text = fault.faultstring
    etree.SubElement(element, "faultactor").text = fault.faultactor or ""
    _copy(fault.detail, etree.SubElement(element, "detail"))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _copy(source: etree._Element, parent: etree._Element) -> None:
    """``source`` rebuilt under ``parent``, so it takes the envelope's prefixes as Spyne's copy does."""
    element = etree.SubElement(parent, source.tag, {str(k): str(v) for k, v in source.attrib.items()})
    element.text = source.text
    for child in source:
        _copy(child, element)
