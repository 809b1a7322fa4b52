"""The fast path's reading of the operations whose arguments are Spyne models: arrays of complex lines.

The gateway's own accounting operations (accounting.py) take arrays of
complex lines (GatewayPostPayments) or typed values (GatewayReconcile), and
the generic EXECUTE (execute.py) an array of text, that the catalogue does not
describe; their published types are the Spyne models of the WSDL.  A reader
is compiled once per operation from those models, and reads an operation
element the schema already accepted as Spyne's deserializer does: a complex
value as a mapping by field name (an absent or nil field None), an array as
the list of its members (a nil member None), a simple value by the
converters of fastpath.py.  The same run then serves both request paths.
"""

from __future__ import annotations

import decimal
from typing import Any, Callable

from lxml import etree
from spyne import Array, ComplexModelBase
from spyne.model.primitive import Date, DateTime, Decimal, Integer, Unicode

from ..operations import Reply
from ..web import CallContext
from .fastpath import NIL, not_valid, unvalidated, read_date, read_datetime, session_id
from .writer import ReplyWriter

Reader = Callable[[etree._Element], Any]
# An operation's run, for both request paths: the call, its arguments by element name (a line as a
# mapping by field name, a nil one as None) and the BillingSession header's SUID.
Run = Callable[[CallContext, dict[str, Any], str | None], Reply]


def _simple(cls: Any) -> Callable[[str | None], Any]:
    """The Python value Spyne reads for the text of a schema-valid element of a simple type."""
    if issubclass(cls, Integer):
        return int  # type: ignore[return-value]
    if issubclass(cls, Decimal):
        return decimal.Decimal  # type: ignore[return-value]
    if issubclass(cls, Unicode):
        return lambda text: text or ""
    if issubclass(cls, DateTime):
        return read_datetime  # type: ignore[return-value]
    if issubclass(cls, Date):
        return read_date  # type: ignore[return-value]
    raise LookupError(f"no conversion for {cls.__name__}")


def reader(cls: Any) -> Reader:
    """How an element of the Spyne type ``cls`` is read (it is not nil: the caller looks first)."""
    if issubclass(cls, Array):
        ((_, member),) = cls.get_flat_type_info(cls).items()
        item = reader(member)
        return lambda element: [None if child.get(NIL) else item(child)
                                for child in element if isinstance(child.tag, str)]
    if issubclass(cls, ComplexModelBase):
        fields = {name: reader(sub) for name, sub in cls.get_flat_type_info(cls).items()}
        return lambda element: read_fields(element, fields)
    convert = _simple(cls)

    def simple(element: etree._Element) -> Any:
        text = element.text
        try:
            return convert(text)
        except LookupError:
            raise unvalidated(text) from None
        except (ValueError, TypeError, decimal.InvalidOperation):
            raise not_valid(etree.QName(element).localname, text) from None

    return simple


def read_fields(element: etree._Element, fields: dict[str, Reader]) -> dict[str, Any]:
    """A complex value: every field by name, None when absent or nil."""
    values: dict[str, Any] = dict.fromkeys(fields)
    for child in element:
        name = etree.QName(child).localname if isinstance(child.tag, str) else ""  # a comment is no field
        read = fields.get(name)
        if read is not None:
            values[name] = None if child.get(NIL) else read(child)
    return values


class CompiledRun:
    """An operation of the gateway itself, read from its published Spyne models and run by ``run``."""

    def __init__(self, name: str, run: Run, in_message: Any, writer: ReplyWriter, session: bool) -> None:
        self.name, self.run, self.writer, self.session = name, run, writer, session
        self.fields = {field: reader(cls) for field, cls in in_message.get_flat_type_info(in_message).items()}

    def read(self, element: etree._Element) -> dict[str, Any]:
        """The arguments by element name, as the Spyne operation gets them."""
        return read_fields(element, self.fields)

    def suid(self, header: list[etree._Element]) -> str | None:
        """The BillingSession header's SUID, if the operation takes the header (Spyne reads no other)."""
        return session_id(header) if self.session else None

    def op(self, call: CallContext, args: dict[str, Any], *, key: str | None = None,
           suid: str | None = None) -> Reply:
        return self.run(call, args, suid)

