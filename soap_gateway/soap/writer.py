"""Successful replies written by us, row by row, as the same elements Spyne writes for the same types.

Spyne's SOAP 1.1 serializer builds the whole lxml tree of a reply before its first byte (≈12 KB and
≈170 µs a row; a 100,000-row CLN_FIN_OPER would take seconds and a gigabyte), so operations return
a ``Reply`` of plain values and ``StreamingSoap11`` writes it with lxml's incremental writer: the
element layout is compiled once per operation from the published Spyne types, values are formatted
by Spyne's own rules.  Requests, validation and faults stay Spyne's; tests/test_reply_writer.py
checks the output against Spyne's serializer for every operation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Generator

from lxml import etree
from spyne import Array, ComplexModelBase
from spyne.model.primitive import Decimal, Integer, Unicode
from spyne.protocol.soap import Soap11

from ..operations import Reply

log = logging.getLogger("soap_gateway.soap")
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NIL = {f"{{{XSI}}}nil": "true"}
CHUNK = 64 * 1024  # bytes handed to the server at a time
_FLUSH_EVERY = 64  # rows between looks at the buffer


@dataclass
class _Field:
    """One element of a published type, compiled: tag, occurrence, and how to write its value."""

    name: str
    tag: str
    min_occurs: int
    many: bool
    text: Callable[[Any], str] | None = None  # a simple type
    members: list[_Field] | None = None  # a complex type
    array_member: str | None = None  # an Array: its value is the list of its one member


class ReplyWriter:
    """Writes the response of one operation; built once per operation at start."""

    def __init__(self, protocol: Soap11, out_message: type[ComplexModelBase], nsmap: dict[str, str]) -> None:
        self.protocol, self.nsmap = protocol, nsmap
        self.envelope = f"{{{protocol.ns_soap_env}}}Envelope"
        self.body = f"{{{protocol.ns_soap_env}}}Body"
        self.tag = f"{{{out_message.get_namespace()}}}{out_message.get_type_name()}"
        (self.result,) = self._members(out_message)

    def chunks(self, reply: Reply) -> Generator[bytes, None, None]:
        """The reply's bytes in pieces of about CHUNK; ``reply.close`` runs however it ends."""
        sink = _Sink()
        written = sent = 0
        outcome = "Abandoned"
        try:
            with etree.xmlfile(sink, encoding="UTF-8") as xf:
                xf.write_declaration()
                with xf.element(self.envelope, nsmap=self.nsmap), xf.element(self.body), xf.element(self.tag):
                    result = self.result
                    if result.array_member is None:
                        self._write(xf, result, reply.value)
                    else:
                        (item,) = result.members or []
                        with xf.element(result.tag):
                            for values in reply.rows or ():
                                self._element(xf, item, values)
                                written += 1
                                if written % _FLUSH_EVERY == 0:
                                    xf.flush()
                                    if sink.size >= CHUNK:
                                        sent = written
                                        yield sink.take()
            yield sink.take()
            yield sink.take()
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

    def _write(self, xf: Any, spec: _Field, value: Any) -> None:
        if value is None:
            if spec.min_occurs > 0:  # as Spyne: a required element is written nil, an optional one left out
                self._element(xf, spec, None)
            return
        for item in (value if spec.many else (value,)):
            self._element(xf, spec, item)

    def _element(self, xf: Any, spec: _Field, value: Any) -> None:
        if value is None:
            with xf.element(spec.tag, NIL):
                pass
        elif spec.text is not None:
            with xf.element(spec.tag):
                xf.write(spec.text(value))
        else:
            values = {spec.array_member: value} if spec.array_member else value
            with xf.element(spec.tag):
                for member in spec.members or ():
                    self._write(xf, member, values.get(member.name))

    def _members(self, cls: type[ComplexModelBase]) -> list[_Field]:
        namespace = cls.get_namespace()
        found = []
        for name, sub in cls.get_flat_type_info(cls).items():
            attrs = self.protocol.get_cls_attrs(sub)
            if attrs.exc:
                continue
            spec = _Field(name, f"{{{attrs.sub_ns or namespace}}}{attrs.sub_name or name}", attrs.min_occurs,
                          attrs.max_occurs > 1)
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
        """Spyne's text for a value of ``cls``; the common cases without its per-value dispatch."""
        plain = attrs.str_format is None and attrs.format is None
        if plain and issubclass(cls, (Integer, Decimal)):
            return str  # what Spyne prints for an int or a (quantized) Decimal without a format
        if plain and issubclass(cls, Unicode) and attrs.encoding is None:
            return lambda value: value
        to_unicode = self.protocol.to_unicode
        return lambda value: to_unicode(cls, value)


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


class _Sink:
    """Collects what lxml writes until it is taken."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts, self.size = [], 0
        return data
