"""Spyne types derived from the catalogue: argument fields, row types, result types.

The contract rules of SOAP-INTEROP §7 are applied here once: xs:int/xs:long
never xs:integer, explicit minOccurs/nillable on every element, fixed-point
decimals, named array wrappers; output values are checked and sanitised for every facade alike
by ``soap_gateway.operations.OutputConverter``.
"""

from __future__ import annotations

import logging
from typing import Any

from spyne import Array, ComplexModel, Date, DateTime, Decimal, Integer16, Integer32, Integer64, Unicode
from spyne.model.complex import ComplexModelMeta

from ..catalogue import Argument, Procedure
from ..catalogue.types import Money, Text, ValueType
from ..operations import EXTRA_FIELD, documentation

TNS = "urn:soap-gateway:billing"
log = logging.getLogger("soap_gateway.soap")

_IPV4_PATTERN = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"


def spyne_type(value_type: ValueType, **attributes: Any) -> Any:
    """The Spyne model for a catalogue value type, facets and ``attributes`` applied at once.

    One customisation only: customising twice makes Spyne emit a second,
    oddly named "ParentType" simple type for every field.
    """
    kind = value_type.kind
    if kind in ("short", "int", "long"):
        base = {"short": Integer16, "int": Integer32, "long": Integer64}[kind]
        return base.customize(**attributes) if attributes else base
    if kind == "decimal":
        assert isinstance(value_type, Money)
        # No str_format: Spyne would also print the totalDigits facet with it
        # ("15.000000", an invalid schema).  Values are quantized to the scale
        # by OutputConverter, and a quantized Decimal prints fixed-point.
        return Decimal(total_digits=value_type.precision, fraction_digits=value_type.scale, **attributes)
    if kind == "string":
        assert isinstance(value_type, Text)
        return Unicode(max_len=value_type.max_len, **attributes)
    if kind == "ipv4":
        return Unicode(max_len=15, pattern=_IPV4_PATTERN, **attributes)
    if kind in ("datetime", "date"):
        base = DateTime if kind == "datetime" else Date
        return base.customize(**attributes) if attributes else base
    raise LookupError(f"no SOAP type for value kind {kind!r}")


def argument_field(arg: Argument) -> Any:
    """Required arguments are required and not nillable; optional ones are both optional.

    A positive amount carries minExclusive 0, so typed clients know before they call.
    """
    facets: dict[str, Any] = {"gt": 0} if arg.positive else {}
    return spyne_type(arg.type, min_occurs=1 if arg.required else 0, nillable=not arg.required,
                      doc=documentation(arg), **facets)


class ExtraColumn(ComplexModel):
    """A reply column the catalogue does not know, delivered rather than dropped; or, NAMEd exactly as one of
    the row's own columns, the raw text of that column, which its type could not read (that column is nil)."""

    __namespace__ = TNS
    _type_info = [
        ("NAME", Unicode(min_occurs=1, nillable=False)),
        ("VALUE", Unicode(min_occurs=1, nillable=True)),
    ]


ExtraColumns = Array(ExtraColumn, type_name="ArrayOfExtraColumn", member_name="ExtraColumn")
EXTRA_DOC = ("Столбцы ответа, которых нет в каталоге; элемент с NAME, равным имени столбца этой строки, несёт "
             "исходный текст значения, которое не удалось прочитать (сам столбец тогда nil).\n"
             "Reply columns the catalogue does not know; an item NAMEd like one of this row's columns carries "
             "the raw text of a value its type could not read (that column is then nil).")


class BillingSession(ComplexModel):
    """Optional SOAP header: run the call in the caller's own billing session."""

    __namespace__ = TNS
    _type_info = [("SUID", Integer64(min_occurs=1, nillable=False,
                                     doc="SUID из CLN_AUTH_LOGIN / session id from CLN_AUTH_LOGIN"))]


def row_model(proc: Procedure, suffix: str) -> type[ComplexModel]:
    """A complex type with one always-present (maybe nil) element per column."""
    fields = [(c.name, spyne_type(c.type, min_occurs=1, nillable=True, doc=documentation(c)))
              for c in proc.columns]
    fields.append((EXTRA_FIELD, ExtraColumns.customize(min_occurs=0, nillable=False, doc=EXTRA_DOC)))
    model: type[ComplexModel] = ComplexModelMeta(f"{proc.name}_{suffix}", (ComplexModel,),
                                                 {"__namespace__": TNS, "_type_info": fields})
    return model
