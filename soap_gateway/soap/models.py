"""Spyne types derived from the catalogue: argument fields, row types, result types.

The contract rules of SOAP-INTEROP §7 are applied here once: xs:int/xs:long
never xs:integer, explicit minOccurs/nillable on every element, fixed-point
decimals, named array wrappers, output values checked and sanitised by us.
"""

from __future__ import annotations

import datetime as dt
import decimal
import logging
from typing import Any, Callable

from spyne import Array, ComplexModel, Date, DateTime, Decimal, Integer16, Integer32, Integer64, Unicode
from spyne.model.complex import ComplexModelMeta

from ..catalogue import Argument, Column, Procedure
from ..catalogue.types import Integer, Money, Text, ValueType
from ..errors import MalformedReply

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


def documentation(item: Argument | Column | Procedure) -> str:
    """The vendor's Russian words first, then the English ones."""
    text = "\n".join(t for t in (item.doc_ru, item.doc_en) if t)
    if isinstance(item, Argument) and item.choices:
        text += f"\nДопустимо / allowed: {', '.join(map(str, item.choices))}"
    if isinstance(item, (Argument, Column)):
        text += f"\n[{item.type.billing}]"
    return text.strip()


def argument_field(arg: Argument) -> Any:
    """Required arguments are required and not nillable; optional ones are both optional.

    A positive amount carries minExclusive 0, so typed clients know before they call.
    """
    facets: dict[str, Any] = {"gt": 0} if arg.positive else {}
    return spyne_type(arg.type, min_occurs=1 if arg.required else 0, nillable=not arg.required,
                      doc=documentation(arg), **facets)


class ExtraColumn(ComplexModel):
    """A reply column the catalogue does not know, delivered rather than dropped."""

    __namespace__ = TNS
    _type_info = [
        ("NAME", Unicode(min_occurs=1, nillable=False)),
        ("VALUE", Unicode(min_occurs=1, nillable=True)),
    ]


ExtraColumns = Array(ExtraColumn, type_name="ArrayOfExtraColumn", member_name="ExtraColumn")
EXTRA_FIELD = "EXTRA_COLUMNS"


class BillingSession(ComplexModel):
    """Optional SOAP header: run the call in the caller's own billing session."""

    __namespace__ = TNS
    _type_info = [("SUID", Integer64(min_occurs=1, nillable=False,
                                     doc="SUID из CLN_AUTH_LOGIN / session id from CLN_AUTH_LOGIN"))]


def row_model(proc: Procedure, suffix: str) -> type[ComplexModel]:
    """A complex type with one always-present (maybe nil) element per column."""
    fields = [(c.name, spyne_type(c.type, min_occurs=1, nillable=True, doc=documentation(c)))
              for c in proc.columns]
    fields.append((EXTRA_FIELD, ExtraColumns.customize(min_occurs=0, nillable=False)))
    return ComplexModelMeta(f"{proc.name}_{suffix}", (ComplexModel,), {"__namespace__": TNS, "_type_info": fields})


class OutputConverter:
    """Turns decoded rows into the plain field values of a row model, enforcing what we publish."""

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
        if isinstance(vt, Integer):
            limit = 1 << (vt.bits - 1)

            def check(v: int) -> int:
                if not -limit <= v < limit:
                    raise MalformedReply(detail=f"{self.proc.name}.{column.name} = {v} is out of range",
                                         sent=True)
                return v
            return check
        if isinstance(vt, Money):
            return lambda v: decimal.Decimal(v).quantize(vt.quantum)
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
        value = value.replace(microsecond=0)
        return value.replace(tzinfo=self.zone) if self.zone is not None else value
