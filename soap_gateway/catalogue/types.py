"""Value types of the billing's procedures: validation and the pair of wire conversions.

Each type turns a caller's value into its canonical Python value
(``validate``), that value into one positional argument (``to_wire``), and a
column's text from a reply back into Python (``from_wire``). The SOAP side of a
type is derived from ``kind`` and the facets in ``soap_gateway.soap``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import Any, ClassVar
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class WireFormat:
    """How one installation writes timestamps and which zone its wall clock is in."""

    timestamp_format: str = "%Y-%m-%d %H:%M:%S"
    date_format: str = "%Y-%m-%d"
    zone: dt.tzinfo = ZoneInfo("Europe/Moscow")


_ISO_SECONDS = "%Y-%m-%d %H:%M:%S"
# Formats seen in Firebird/PHP output; the configured one is tried first.
_TIMESTAMP_READ_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%d.%m.%Y",
)
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class ValueType:
    """Base of all value types; ``kind`` names the SOAP-side type."""

    kind: ClassVar[str]
    billing: str

    def validate(self, value: Any) -> Any:
        raise NotImplementedError

    def to_wire(self, value: Any, fmt: WireFormat) -> str:
        return str(value)

    def from_wire(self, text: str, fmt: WireFormat) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Integer(ValueType):
    """INTEGER, SMALLINT and NUMERIC(18,0): signed integers of a fixed width."""

    billing: str
    bits: int

    @property
    def kind(self) -> str:  # type: ignore[override]
        return {16: "short", 32: "int", 64: "long"}[self.bits]

    def validate(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError(f"expected an integer, got {type(value).__name__}")
        try:
            number = int(value)
        except ValueError:
            raise ValueError("expected an integer") from None
        limit = 1 << (self.bits - 1)
        if not -limit <= number < limit:
            raise ValueError(f"out of range for {self.billing} ({-limit}..{limit - 1})")
        return number

    def from_wire(self, text: str, fmt: WireFormat) -> int:
        limit = 1 << (self.bits - 1)
        if text.isdigit() and len(text) < 19:  # the common case, without a Decimal
            number = int(text)
        else:
            exact = decimal.Decimal(text.strip())
            # never truncate "1.7" to 1; nor build a huge int from "1E+999999999"
            if not exact.is_finite() or abs(exact) >= 1 << 63 or exact != exact.to_integral_value():
                raise ValueError("not an integer")
            number = int(exact)
        if not -limit <= number < limit:
            raise ValueError(f"out of range for {self.billing}")
        return number


@dataclass(frozen=True)
class Money(ValueType):
    """NUMERIC(p,s) and DOUBLE PRECISION money: exact decimals, sent fixed-point."""

    billing: str
    precision: int = 15
    scale: int = 2
    kind: ClassVar[str] = "decimal"

    @functools.cached_property
    def quantum(self) -> decimal.Decimal:
        return decimal.Decimal(1).scaleb(-self.scale)

    def validate(self, value: Any) -> decimal.Decimal:
        if isinstance(value, float):
            raise ValueError("money must be a Decimal or a string, never a float")
        try:
            number = decimal.Decimal(value) if not isinstance(value, bool) else None
        except (decimal.InvalidOperation, TypeError, ValueError):
            number = None
        if number is None or not number.is_finite():
            raise ValueError("expected a decimal number")
        # the size first: quantizing 1E+30 would overflow the decimal context
        if abs(number) >= decimal.Decimal(10) ** (self.precision - self.scale):
            raise ValueError(f"too large for {self.billing}")
        if number != number.quantize(self.quantum, rounding=decimal.ROUND_DOWN):
            raise ValueError(f"at most {self.scale} fraction digits allowed")
        return number.quantize(self.quantum)

    def to_wire(self, value: Any, fmt: WireFormat) -> str:
        return f"{decimal.Decimal(value).quantize(self.quantum):f}"

    def from_wire(self, text: str, fmt: WireFormat) -> decimal.Decimal:
        # DOUBLE PRECISION columns may come as "1.5E2"; round half-even to the scale.
        number = decimal.Decimal(text.strip())
        if not number.is_finite():  # "NaN", "Infinity": not an amount
            raise ValueError("not a finite amount")
        return number.quantize(self.quantum)


@dataclass(frozen=True)
class Text(ValueType):
    """VARCHAR(n): a string of at most ``max_len`` characters."""

    billing: str
    max_len: int
    kind: ClassVar[str] = "string"

    def validate(self, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {type(value).__name__}")
        if len(value) > self.max_len:
            raise ValueError(f"longer than {self.max_len} characters ({len(value)})")
        if _ILLEGAL_XML.search(value):
            raise ValueError("contains control characters")
        return value

    def from_wire(self, text: str, fmt: WireFormat) -> str:
        return _ILLEGAL_XML.sub("", text)


@dataclass(frozen=True)
class Timestamp(ValueType):
    """TIMESTAMP: a wall-clock time in the billing's zone, whole seconds."""

    billing: str = "TIMESTAMP"
    kind: ClassVar[str] = "datetime"

    def validate(self, value: Any) -> dt.datetime:
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                raise ValueError("expected an ISO 8601 date and time") from None
        if not isinstance(value, dt.datetime):
            raise ValueError(f"expected a date and time, got {type(value).__name__}")
        return value.replace(microsecond=0)

    def to_wire(self, value: dt.datetime, fmt: WireFormat) -> str:
        if value.tzinfo is not None:
            value = value.astimezone(fmt.zone).replace(tzinfo=None)
        return value.strftime(fmt.timestamp_format)

    def from_wire(self, text: str, fmt: WireFormat) -> dt.datetime:
        text = text.strip()
        if len(text) == 19 and fmt.timestamp_format == _ISO_SECONDS and text[10] == " ":
            try:  # what strptime would read with that format, an order of magnitude faster
                return dt.datetime.fromisoformat(text)
            except ValueError:
                pass
        for pattern in (fmt.timestamp_format, *_TIMESTAMP_READ_FORMATS):
            try:
                return dt.datetime.strptime(text, pattern).replace(microsecond=0)
            except ValueError:
                continue
        raise ValueError(f"unrecognised timestamp {text!r}")


@dataclass(frozen=True)
class Date(ValueType):
    """DATE: a calendar day."""

    billing: str = "DATE"
    kind: ClassVar[str] = "date"

    def validate(self, value: Any) -> dt.date:
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError("expected an ISO 8601 date") from None
        if isinstance(value, dt.datetime):
            value = value.date()
        if not isinstance(value, dt.date):
            raise ValueError(f"expected a date, got {type(value).__name__}")
        return value

    def to_wire(self, value: dt.date, fmt: WireFormat) -> str:
        return value.strftime(fmt.date_format)

    def from_wire(self, text: str, fmt: WireFormat) -> dt.date:
        if len(text) == 10 and fmt.timestamp_format == _ISO_SECONDS and text[4] == "-":
            try:  # what the format list below would find last, without a failed strptime per format
                return dt.date.fromisoformat(text)
            except ValueError:
                pass
        return Timestamp().from_wire(text, fmt).date()


@dataclass(frozen=True)
class Ipv4(ValueType):
    """An IPv4 address the billing keeps in an INTEGER: dotted text outside.

    Firebird has no unsigned type, so addresses above 127.255.255.255 travel
    as negative 32-bit integers (DESIGN.md §2).
    """

    billing: str = "INTEGER"
    kind: ClassVar[str] = "ipv4"

    def validate(self, value: Any) -> str:
        if isinstance(value, bool):  # IPv4Address(True) would be 0.0.0.1
            raise ValueError("expected a dotted IPv4 address such as 10.0.0.1")
        if isinstance(value, int):
            value = self.from_wire(str(value), WireFormat())
        try:
            return str(ipaddress.IPv4Address(value))
        except (ipaddress.AddressValueError, ValueError, TypeError):
            raise ValueError("expected a dotted IPv4 address such as 10.0.0.1") from None

    def to_wire(self, value: str, fmt: WireFormat) -> str:
        number = int(ipaddress.IPv4Address(value))
        return str(number - (1 << 32) if number >= 1 << 31 else number)

    def from_wire(self, text: str, fmt: WireFormat) -> str:
        text = text.strip()
        if "." in text:
            return str(ipaddress.IPv4Address(text))
        number = int(text)
        if not -(1 << 31) <= number < 1 << 32:  # a signed or an unsigned 32-bit integer
            raise ValueError("out of range for a 32-bit IPv4 address")
        return str(ipaddress.IPv4Address(number & 0xFFFFFFFF))


_VARCHAR = re.compile(r"VARCHAR\((\d+)\)")
_NUMERIC = re.compile(r"NUMERIC\((\d+),\s*(\d+)\)")


def parse_type(billing: str, fmt: str | None = None) -> ValueType:
    """Build the value type for a billing type name as the vendor page writes it."""
    name = " ".join(billing.upper().split())
    if fmt == "ipv4":
        if name != "INTEGER":
            raise ValueError("format ipv4 applies to INTEGER only")
        return Ipv4()
    if fmt is not None:
        raise ValueError(f"unknown format {fmt!r} (known: ipv4)")
    if name == "INTEGER":
        return Integer(name, 32)
    if name == "SMALLINT":
        return Integer(name, 16)
    if name == "TIMESTAMP":
        return Timestamp()
    if name == "DATE":
        return Date()
    if name == "DOUBLE PRECISION":
        return Money(name)
    if match := _VARCHAR.fullmatch(name):
        return Text(name, int(match[1]))
    if match := _NUMERIC.fullmatch(name):
        precision, scale = int(match[1]), int(match[2])
        return Integer(name, 64) if scale == 0 else Money(name, precision, scale)
    raise ValueError(f"unknown billing type {billing!r}")
