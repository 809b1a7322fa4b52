"""Successful replies written by us, row by row, as the same elements Spyne writes for the same types.

Spyne's SOAP 1.1 serializer builds the whole lxml tree of a reply before its first byte (≈12 KB and
≈170 µs a row; a 100,000-row CLN_FIN_OPER would take seconds and a gigabyte), so operations return
a ``Reply`` of plain values and ``StreamingSoap11`` writes it.  The element layout is compiled once
per operation from the published Spyne types into the text of each start tag, end tag and nil
element (the envelope's prefixes resolved), values are formatted by Spyne's own rules and escaped
as lxml escapes text, and a reply is joined from those strings: per value, no element object and no
serializer call.  Requests, validation and faults stay Spyne's; tests/test_reply_writer.py checks
the output against Spyne's serializer for every operation.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Generator

from lxml import etree
from spyne import Array, ComplexModelBase
from spyne.model.primitive import Date, DateTime, Decimal, Integer, Unicode
from spyne.protocol.soap import Soap11

from ..operations import Reply

log = logging.getLogger("soap_gateway.soap")
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CHUNK = 64 * 1024  # bytes handed to the server at a time
_FLUSH_EVERY = 64  # rows between looks at the buffer
# What lxml refuses in text ("All strings must be XML compatible"); tab, newline and CR are text.
_MARK = "\ue000"  # where the result goes in the envelope written once (a private-use character)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def escape(text: str) -> str:
    """Element text as lxml writes it: &, <, > and CR escaped; a control character refused as lxml does."""
    if _NOT_XML.search(text):
        raise ValueError("All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control characters")
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


@dataclass
class _Field:
    """One element of a published type, compiled: its tags as text, occurrence, how to write its value."""

    name: str
    start: str
    end: str
    nil: str  # the whole element, nil
    min_occurs: int
    many: bool
    text: Callable[[Any], str] | None = None  # a simple type: the escaped text of a value
    members: list[_Field] | None = None  # a complex type
    array_member: str | None = None  # an Array: its value is the list of its one member


class ReplyWriter:
    """Writes the response of one operation; built once per operation at start."""

    def __init__(self, protocol: Soap11, out_message: type[ComplexModelBase], nsmap: dict[str, str]) -> None:
        self.protocol = protocol
        self.prefixes = {namespace: prefix for prefix, namespace in nsmap.items()}
        nil_prefix = self.prefixes[XSI]
        self.nil_attribute = f' {nil_prefix}:nil="true"'
        # the declaration and the open elements around the result, as lxml's incremental writer writes them
        buffer = io.BytesIO()
        with etree.xmlfile(buffer, encoding="UTF-8") as xf:
            xf.write_declaration()
            with xf.element(f"{{{protocol.ns_soap_env}}}Envelope", nsmap=nsmap), \
                    xf.element(f"{{{protocol.ns_soap_env}}}Body"), \
                    xf.element(f"{{{out_message.get_namespace()}}}{out_message.get_type_name()}"):
                xf.write(_MARK)
        self.head, _, self.tail = buffer.getvalue().partition(_MARK.encode())
        (self.result,) = self._members(out_message)

    def chunks(self, reply: Reply) -> Generator[bytes, None, None]:
        """The reply's bytes in pieces of about CHUNK; ``reply.close`` runs however it ends."""
        written = sent = 0
        outcome = "Abandoned"
        out: list[str] = []
        try:
            result = self.result
            if result.array_member is None:
                self._write(out, result, reply.value)
                yield self.head + "".join(out).encode() + self.tail
                return
            (item,) = result.members or []
            out.append(result.start)
            first = True
            for values in reply.rows or ():
                self._element(out, item, values)
                written += 1
                if written % _FLUSH_EVERY == 0:
                    pending = "".join(out)  # characters: close enough to bytes for a chunk's size
                    out[:] = (pending,)
                    if len(pending) >= CHUNK:
                        out.clear()
                        sent = written
                        yield self.head + pending.encode() if first else pending.encode()
                        first = False
            out.append(result.end)
            data = "".join(out).encode() + self.tail
            yield self.head + data if first else data
        except GeneratorExit:
            log.warning("reply abandoned by the client after %d rows", sent)
            raise
        except Exception as exc:
            outcome = type(exc).__name__
            if sent:  # the status line went out: all that is left is not to finish the envelope
                log.error("reply cut after %d rows sent: %s", sent, exc)
            raise
        finally:
            reply.close(outcome)  # a no-op for rows read to their end

    def _write(self, out: list[str], spec: _Field, value: Any) -> None:
        if value is None:
            if spec.min_occurs > 0:  # as Spyne: a required element is written nil, an optional one left out
                out.append(spec.nil)
            return
        for item in (value if spec.many else (value,)):
            self._element(out, spec, item)

    def _element(self, out: list[str], spec: _Field, value: Any) -> None:
        if value is None:
            out.append(spec.nil)
        elif spec.text is not None:
            out += (spec.start, spec.text(value), spec.end)
        else:
            values = {spec.array_member: value} if spec.array_member else value
            out.append(spec.start)
            for member in spec.members or ():
                given = values.get(member.name)
                if member.text is not None and not member.many and given is not None:
                    out += (member.start, member.text(given), member.end)  # the common case, inline
                else:
                    self._write(out, member, given)
            out.append(spec.end)

    def _members(self, cls: type[ComplexModelBase]) -> list[_Field]:
        namespace = cls.get_namespace()
        found = []
        for name, sub in cls.get_flat_type_info(cls).items():
            attrs = self.protocol.get_cls_attrs(sub)
            if attrs.exc:
                continue
            tag = f"{self.prefixes[attrs.sub_ns or namespace]}:{attrs.sub_name or name}"
            spec = _Field(name, f"<{tag}>", f"</{tag}>", f"<{tag}{self.nil_attribute}></{tag}>",
                          attrs.min_occurs, attrs.max_occurs > 1)
            if issubclass(sub, Array):
                spec.members = self._members(sub)
                spec.array_member = spec.members[0].name
            elif issubclass(sub, ComplexModelBase):
                spec.members = self._members(sub)
            else:
                spec.text = self._formatter(sub, attrs)
            found.append(spec)
        return found

    def _formatter(self, cls: Any, attrs: Any) -> Callable[[Any], str]:
        """Spyne's text for a value of ``cls``, escaped; the common cases without its per-value dispatch."""
        plain = attrs.str_format is None and attrs.format is None
        if plain and issubclass(cls, (Integer, Decimal)):
            return str  # what Spyne prints for an int or a (quantized) Decimal without a format: no markup
        if plain and issubclass(cls, Unicode) and attrs.encoding is None:
            return escape
        iso = plain and attrs.serialize_as is None and attrs.string_format is None and attrs.interp_format is None
        if iso and issubclass(cls, DateTime) and attrs.as_timezone is None and attrs.timezone and \
                self.protocol._get_datetime_format(attrs) is None:
            return _isoformat  # what Spyne writes then: ASCII digits and signs, no markup
        if iso and issubclass(cls, Date) and attrs.date_format is None:
            return _date_isoformat
        to_unicode = self.protocol.to_unicode
        return lambda value: escape(to_unicode(cls, value))


def _isoformat(value: dt.datetime) -> str:
    return value.isoformat()


def _date_isoformat(value: dt.date) -> str:
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()


class StreamingSoap11(Soap11):
    """Soap11 whose successful responses are ``Reply`` objects written by ``ReplyWriter``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._writers: dict[type, ReplyWriter] = {}

    def prepare(self) -> None:
        """Compile a writer for every operation of the application (after its interface is built)."""
        interface = self.app.interface
        nsmap = {prefix: ns for prefix, ns in interface.nsmap.items()
                 if ns in (self.ns_soap_env, interface.get_tns(), XSI)}
        for descriptors in interface.service_method_map.values():
            for descriptor in descriptors:
                out_message = descriptor.out_message
                self._writers[out_message] = ReplyWriter(self, out_message, nsmap)

    def writer(self, out_message: type[ComplexModelBase]) -> ReplyWriter:
        return self._writers[out_message]

    def serialize(self, ctx: Any, message: Any) -> Any:
        if message is self.RESPONSE and ctx.out_error is None and _reply(ctx) is not None:
            ctx.out_document = None  # create_out_string writes it
            return None
        return super().serialize(ctx, message)

    def create_out_string(self, ctx: Any, charset: Any = None) -> None:
        reply = _reply(ctx) if ctx.out_error is None else None
        if reply is None:
            super().create_out_string(ctx, charset)
            return None
        chunks = self.writer(ctx.descriptor.out_message).chunks(reply)
        if reply.complete:
            ctx.out_string = [b"".join(chunks)]  # small: Spyne sets Content-Length
        else:
            ctx.out_string = chunks
            if ctx.udc is not None:  # the server closes the body it abandons; that ends the billing call
                ctx.udc.on_close.append(chunks.close)
        return None


def _reply(ctx: Any) -> Reply | None:
    out = ctx.out_object
    return out[0] if out and isinstance(out[0], Reply) else None
