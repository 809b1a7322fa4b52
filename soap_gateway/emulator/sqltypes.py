"""Firebird-like value types: parse a wire argument as Firebird would, render a stored value for XML.

Storage forms: integers as int, money as int kopecks, timestamps/dates as ISO text, IPv4 as signed int.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import BillingError

OVERFLOW = "arithmetic exception, numeric overflow, or string truncation"
TRANSLITERATION = "Cannot transliterate character between character sets"
DB_CHARSET = "cp1251"  # the billing's Firebird database is WIN1251: other characters cannot be stored

# [0-9], not \d: Python's \d also matches other scripts' digits, which Firebird does not take
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TIME = r"(?: +([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,4}))?)?)?"
_YMD = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})" + _TIME)
_DMY = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})" + _TIME)


def conversion_error(raw: str) -> BillingError:
    return BillingError(f'conversion error from string "{raw}"')


class SqlType:
    """A column/parameter type. ``parse`` never sees NULL; ``render`` never sees None."""

    affinity = "TEXT"  # SQLite column type used for storage

    def parse(self, raw: str) -> Any:
        raise NotImplementedError

    def render(self, value: Any, style: str) -> str:
        return str(value)


@dataclass(frozen=True)
class Int(SqlType):
    low: int
    high: int
    affinity = "INTEGER"

    def parse(self, raw: str) -> int:
        text = raw.strip()  # Firebird trims blanks when casting strings to numbers
        if not _INT.fullmatch(text):
            raise conversion_error(raw)
        value = int(text)
        if not self.low <= value <= self.high:
            raise BillingError(f"{OVERFLOW}; numeric value is out of range")
        return value


@dataclass(frozen=True)
class Double(SqlType):
    """DOUBLE PRECISION argument; kept as the exact Decimal that was sent (money must stay exact)."""

    affinity = "REAL"

    def parse(self, raw: str) -> Decimal:
        text = raw.strip()
        if not _FLOAT.fullmatch(text):  # "12,50" is not a number for Firebird either
            raise conversion_error(raw)
        try:
            return Decimal(text)
        except InvalidOperation:  # pragma: no cover - the regex already guards
            raise conversion_error(raw) from None


@dataclass(frozen=True)
class Money(SqlType):
    """NUMERIC(15,2), stored as integer kopecks."""

    affinity = "INTEGER"

    def parse(self, raw: str) -> int:
        return to_kopecks(Double().parse(raw))

    def render(self, value: Any, style: str) -> str:
        return format_kopecks(int(value))


@dataclass(frozen=True)
class Timestamp(SqlType):
    date_only: bool = False

    def parse(self, raw: str) -> str:
        text = raw.strip()
        special = text.upper()
        now = datetime.now().replace(microsecond=0)
        if special == "NOW":
            moment = now
        elif special in ("TODAY", "TOMORROW", "YESTERDAY"):
            shift = {"TODAY": 0, "TOMORROW": 1, "YESTERDAY": -1}[special]
            moment = now.replace(hour=0, minute=0, second=0) + timedelta(days=shift)
        else:
            moment = _parse_moment(text, raw)
        if self.date_only:
            return moment.strftime("%Y-%m-%d")
        return moment.strftime("%Y-%m-%d %H:%M:%S")

    def render(self, value: Any, style: str) -> str:
        text = str(value)
        if style != "dmy":
            return text
        day = f"{text[8:10]}.{text[5:7]}.{text[0:4]}"
        return day + text[10:]


@dataclass(frozen=True)
class Varchar(SqlType):
    length: int

    def parse(self, raw: str) -> str:
        try:
            raw.encode(DB_CHARSET)
        except UnicodeEncodeError:
            raise BillingError(TRANSLITERATION) from None
        if len(raw) > self.length:
            raise BillingError(
                f"{OVERFLOW}; string right truncation; expected length {self.length}, actual {len(raw)}"
            )
        return raw


@dataclass(frozen=True)
class Anything(SqlType):
    """The documented 'null - mandatory empty argument': whatever comes is accepted and ignored."""

    def parse(self, raw: str) -> str:
        return raw


@dataclass(frozen=True)
class IpText(SqlType):
    """An IPv4 address stored as a signed INTEGER, rendered as dotted text (CLN_USR_FIND_2's IP)."""

    affinity = "INTEGER"

    def render(self, value: Any, style: str) -> str:
        return signed_to_ip(int(value))


def _parse_moment(text: str, raw: str) -> datetime:
    match = _YMD.fullmatch(text)
    if match:
        year, month, day = match.group(1, 2, 3)
    else:
        match = _DMY.fullmatch(text)
        if not match:
            raise conversion_error(raw)
        day, month, year = match.group(1, 2, 3)
    hour, minute, second = (int(g or 0) for g in match.group(4, 5, 6))
    try:
        return datetime(int(year), int(month), int(day), hour, minute, second)
    except ValueError:
        raise conversion_error(raw) from None


MAX_KOPECKS = 10**15 - 1  # NUMERIC(15,2)


def to_kopecks(amount: Decimal) -> int:
    """Round half away from zero to kopecks, as Firebird does when storing into NUMERIC(15,2)."""
    kopecks = int(amount.scaleb(2).quantize(Decimal(1), rounding="ROUND_HALF_UP"))
    if abs(kopecks) > MAX_KOPECKS:
        raise BillingError(f"{OVERFLOW}; numeric value is out of range")
    return kopecks


def format_kopecks(kopecks: int) -> str:
    sign = "-" if kopecks < 0 else ""
    whole, frac = divmod(abs(kopecks), 100)
    return f"{sign}{whole}.{frac:02d}"


def kopecks_to_decimal(kopecks: int) -> Decimal:
    return Decimal(format_kopecks(kopecks))


def ip_to_signed(dotted: str) -> int:
    """Firebird has no unsigned INTEGER: addresses above 127.255.255.255 are stored negative."""
    value = int(ipaddress.IPv4Address(dotted))
    return value - (1 << 32) if value >= 1 << 31 else value


def signed_to_ip(value: int) -> str:
    return str(ipaddress.IPv4Address(value & 0xFFFFFFFF))
