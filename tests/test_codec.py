"""The pure wire codec: arguments to the api.php query, billing XML replies to typed rows.

Replies kept as files live in ``tests/data/replies`` (see its README):
``test_reply`` decodes every ``<PROCEDURE>.<case>.xml`` and compares it with
its ``.json`` twin.  The rest of this module covers what a file pair cannot:
streaming, entity attacks against the local file system, value types, the
encoder and the query string.
"""

from __future__ import annotations

import datetime as dt
import inspect
import io
import json
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest

from soap_gateway.backend import codec
from soap_gateway.catalogue import WireFormat, load_catalogue
from soap_gateway.catalogue.types import Date, Integer, Ipv4, Money, Text, Timestamp, parse_type
from soap_gateway.config import DEFAULT_SESSION_EXPIRED_PATTERNS
from soap_gateway.errors import BillingError, GatewayError, InvalidArgument, MalformedReply, SessionExpired

REPLIES = Path(__file__).parent / "data" / "replies"
CATALOGUE = load_catalogue()
FMT = WireFormat()  # the defaults: "%Y-%m-%d %H:%M:%S", Europe/Moscow
PATTERNS = [re.compile(p) for p in DEFAULT_SESSION_EXPIRED_PATTERNS]

# The Python type every value of a column of a given SOAP kind must have.
PY_TYPES = {"short": int, "int": int, "long": int, "decimal": Decimal, "string": str, "ipv4": str,
            "datetime": dt.datetime, "date": dt.date}


class Trickle(io.RawIOBase):
    """A body stream that hands out at most ``step`` bytes per read, as a socket may."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self.data, self.step, self.pos = data, step, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        n = self.step if size is None or size < 0 else min(size, self.step)
        chunk = self.data[self.pos:self.pos + n]
        self.pos += len(chunk)
        return chunk


def decode(proc_name: str, body: bytes | Any, http_charset: str | None = None,
           patterns: Any = PATTERNS, fmt: WireFormat = FMT) -> list[codec.Row]:
    return codec.decode_reply(CATALOGUE[proc_name], body, http_charset=http_charset, fmt=fmt,
                              expired_patterns=patterns)


def plain(value: Any) -> Any:
    """A decoded value as the .json files write it."""
    if isinstance(value, Decimal):
        return str(value)  # keeps the exponent/scale: Decimal("1.5E2") would show as "1.5E+2"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


# --- recorded replies --------------------------------------------------------------------------

CASES = sorted(p.name[:-len(".xml")] for p in REPLIES.glob("*.xml"))


def test_reply_files_come_in_pairs() -> None:
    xml = {p.name[:-4] for p in REPLIES.glob("*.xml")}
    expected = {p.name[:-5] for p in REPLIES.glob("*.json")}
    assert xml == expected
    assert {case.split(".")[0] for case in xml} <= set(CATALOGUE)
    # the cases the decoder's contract names; deleting one must not pass unnoticed
    for case in ("CLN_USR_GET.windows-1251", "CLN_USR_GET.utf-8", "CLN_USR_GET.http-charset",
                 "CLN_USR_GET.no-charset", "CLN_USR_GET.upper-case-tags", "CLN_USR_FIND_2.mixed-case-tags",
                 "CLN_USR_FIND_2.rows", "CLN_USR_FIND_2.one-row", "CLN_USR_FIND_2.nested-wrapper",
                 "CLN_HOME_LIST.empty-result", "CLN_FIN_OPER_ADD.empty-body", "CLN_USR_GET.error",
                 "CLN_USR_GET.error-upper-case", "CLN_HOME_LIST.exception", "CLN_USR_GET.suid-unknown",
                 "CLN_FIN_OPER_ADD.php-fatal", "CLN_FIN_OPER_ADD.html-page", "CLN_USR_GET.bad-integer",
                 "CLN_HOME_LIST.billion-laughs", "CLN_HOME_LIST.external-entity",
                 "CLN_HOME_LIST.control-characters", "CLN_FIN_OPER.rows"):
        assert case in xml, case


def test_windows_1251_fixtures_really_are_windows_1251() -> None:
    body = (REPLIES / "CLN_USR_GET.windows-1251.xml").read_bytes()
    assert "Иванов".encode("cp1251") in body
    assert "Иванов".encode("utf-8") not in body
    assert "Иванов".encode("utf-8") in (REPLIES / "CLN_USR_GET.http-charset.xml").read_bytes()
    assert b"\x01" in (REPLIES / "CLN_HOME_LIST.control-characters.xml").read_bytes()


@pytest.mark.parametrize("source", ["bytes", "trickle"])
@pytest.mark.parametrize("case", CASES)
def test_reply(case: str, source: str) -> None:
    proc = CATALOGUE[case.split(".")[0]]
    body = (REPLIES / f"{case}.xml").read_bytes()
    expected = json.loads((REPLIES / f"{case}.json").read_text(encoding="utf-8"))
    stream: Any = body if source == "bytes" else Trickle(body)
    charset = expected.get("http_charset")

    if "error" in expected:
        with pytest.raises(GatewayError) as info:
            decode(proc.name, stream, charset)
        exc = info.value
        assert type(exc).__name__ == expected["error"], str(exc)
        if "billing_message" in expected:
            assert exc.billing_message == expected["billing_message"]
            if type(exc) is BillingError:  # a session message may quote the SUID: not shown
                assert expected["billing_message"] in str(exc)
        if "message_contains" in expected:
            assert expected["message_contains"] in str(exc)
        if "message_excludes" in expected:
            assert expected["message_excludes"] not in str(exc)
        return

    rows = decode(proc.name, stream, charset)
    assert len(rows) == len(expected["rows"])
    for row, want in zip(rows, expected["rows"]):
        assert list(row.values) == [c.name for c in proc.columns]  # every column, in catalogue order
        assert {k: plain(v) for k, v in row.values.items() if v is not None} == want["values"]
        assert row.extra == want.get("extra", {})
        for column in proc.columns:
            value = row[column.name]
            if value is not None:
                assert type(value) is PY_TYPES[column.type.kind], column.name
                if isinstance(value, dt.datetime):
                    assert value.tzinfo is None  # the billing's wall clock


# --- the decoder, beyond the recorded files -----------------------------------------------------

def test_missing_and_empty_columns_are_none_and_unknown_ones_are_kept() -> None:
    (row,) = decode("CLN_HOME_LIST", "<result><id>5</id><city/><street></street><Floor>3</Floor>"
                                     "<zip_code>123456</zip_code></result>".encode())
    assert row["ID"] == 5 and row["ZIP_CODE"] == "123456"
    assert row["CITY"] is None and row["STREET"] is None and row["COUNTRY"] is None
    assert row.get("S_NUMBER", "absent") is None
    assert row.extra == {"floor": "3"}
    assert "floor" not in row.values and "FLOOR" not in row.values


def test_charset_fallback_is_windows_1251() -> None:
    body = "<result><id>1</id><city>Санкт-Петербург</city></result>".encode("cp1251")
    assert decode("CLN_HOME_LIST", body)[0]["CITY"] == "Санкт-Петербург"
    # the same bytes read as the HTTP charset says, when it says something
    assert decode("CLN_HOME_LIST", body, http_charset="koi8-r")[0]["CITY"] != "Санкт-Петербург"
    assert codec.sniff_encoding(b"<result/>", None) == "windows-1251"
    assert codec.sniff_encoding(b"<result/>", "utf-8") == "utf-8"
    assert codec.sniff_encoding(b'<?xml version="1.0" encoding="utf-8"?><r/>', "koi8-r") is None


def test_unknown_encoding_is_a_malformed_reply() -> None:
    with pytest.raises(MalformedReply):
        decode("CLN_HOME_LIST", b"<result/>", http_charset="no-such-charset")


@pytest.mark.parametrize("message", [
    "SUID not found", "Неверный suid", "suid: 123 expired", "Сессия истекла", "Ваша сессия устарела",
    "Нет такой сессии", "Session expired", "session not found", "SESSION INVALID",
])
def test_default_patterns_recognise_session_expiry(message: str) -> None:
    body = f'<?xml version="1.0" encoding="windows-1251"?><result><error>{message}</error></result>'
    with pytest.raises(SessionExpired) as info:
        decode("CLN_USR_GET", body.encode("cp1251"))
    assert info.value.billing_message == message


def test_session_expiry_message_does_not_repeat_the_suid() -> None:
    with pytest.raises(SessionExpired) as info:
        decode("CLN_USR_GET", b"<error>SUID 918273645546372819 not found</error>")
    assert "CLN_USR_GET" in str(info.value)
    assert "918273645546372819" not in str(info.value)


@pytest.mark.parametrize("message", [
    "Абонент 999 не найден", "Недостаточно прав", "persuid is not a column", "Access denied",
])
def test_ordinary_errors_are_not_session_expiry(message: str) -> None:
    with pytest.raises(BillingError) as info:
        decode("CLN_USR_GET", f"<error>{message}</error>".encode("cp1251"))
    assert type(info.value) is BillingError
    assert info.value.billing_message == message


def test_every_default_pattern_is_needed() -> None:
    samples = ["SUID not found", "Сессия истекла", "Session expired"]
    for pattern in PATTERNS:
        others = [p for p in PATTERNS if p is not pattern]
        assert any(pattern.search(s) and not any(o.search(s) for o in others) for s in samples), pattern


def test_session_patterns_are_configurable() -> None:
    body = b"<error>SUID not found</error>"
    with pytest.raises(BillingError) as info:
        decode("CLN_USR_GET", body, patterns=())
    assert type(info.value) is BillingError
    with pytest.raises(SessionExpired):
        decode("CLN_USR_GET", b"<error>ticket 42 is stale</error>", patterns=[re.compile("stale")])


def test_an_error_after_rows_fails_the_whole_reply() -> None:
    body = b"<result><row><id>1</id></row><row><id>2</id></row><error>lock conflict</error></result>"
    with pytest.raises(BillingError, match="lock conflict"):
        decode("CLN_HOME_LIST", body)


@pytest.mark.parametrize("body", [
    b"Fatal error: Call to undefined function ibase_connect() in /var/www/api.php on line 3",
    b"Statement failed, SQLSTATE = 42000\nDynamic SQL Error\n-SQL error code = -204",
    b"<html><head><title>500</title></head><body><h1>Internal Server Error</h1><hr></body></html>",
    b"<!DOCTYPE html><html><body>Maintenance</body></html>",
    b'<?xml version="1.0"?><result><row><id>1</id></row>',  # cut off
    b"<result><id>1</id></result><result><id>2</id></result>",
])
def test_not_the_billings_xml_is_a_malformed_reply(body: bytes) -> None:
    with pytest.raises(MalformedReply) as info:
        decode("CLN_HOME_LIST", body)
    assert info.value.sent is True


@pytest.mark.parametrize("column, text", [
    ("ID", "abc"), ("ID", "1.5"), ("ID", "NaN"), ("CONNECT_DATE", "31.02.2024 10:00:00"),
    ("CONNECT_DATE", "1-01-01 00:00:00"), ("S_NUMBER", "Infinity"), ("S_NUMBER", "2147483648"),
])
def test_an_unreadable_value_is_nil_with_its_raw_text_kept(column: str, text: str) -> None:
    body = f"<result><row><{column.lower()}>{text}</{column.lower()}><city>Ufa</city></row></result>".encode()
    (row,) = decode("CLN_HOME_LIST", body)
    assert row[column] is None and row["CITY"] == "Ufa"
    assert row.extra == {column: text} and row.unreadable == [column]


def test_an_unreadable_ip_is_nil_with_its_raw_text_kept() -> None:
    (row,) = decode("CLN_SWITCH_LIST", b"<result><row><id>1</id><ip>4294967296</ip></row></result>")
    assert row["IP"] is None and row["ID"] == 1 and row.extra == {"IP": "4294967296"}


def test_an_integer_out_of_its_columns_range_is_unreadable() -> None:
    (row,) = decode("CLN_USR_GET", b"<result><user_id>101</user_id><deleted>70000</deleted></result>")
    assert row["DELETED"] is None and row.extra == {"DELETED": "70000"}  # SMALLINT


def _arm_atime(path: Path) -> float:
    """Make the next read of ``path`` visible in its atime (relatime updates an atime older than mtime)."""
    st = os.stat(path)
    os.utime(path, (st.st_mtime - 3600, st.st_mtime))
    return os.stat(path).st_atime


@pytest.mark.parametrize("doctype, reference", [
    ('<!DOCTYPE r [<!ENTITY x SYSTEM "{url}">]>', "&x;"),
    ('<!DOCTYPE r [<!ENTITY % p SYSTEM "{url}"> %p;]>', "&leak;"),
    ('<!DOCTYPE r SYSTEM "{url}">', "&leak;"),
])
def test_external_entities_are_refused_and_never_read(tmp_path: Path, doctype: str, reference: str) -> None:
    secret = tmp_path / "secret.dtd"
    secret.write_text('<!ENTITY leak "MARKER-7f3a">')
    armed = _arm_atime(secret)
    secret.read_text()
    atime_works = os.stat(secret).st_atime != armed  # not on a noatime mount
    armed = _arm_atime(secret)
    body = (f'<?xml version="1.0"?>{doctype.format(url=secret.as_uri())}'
            f"<result><row><id>1</id><city>{reference}</city></row></result>")
    with pytest.raises(MalformedReply) as info:
        decode("CLN_HOME_LIST", body.encode())
    assert "MARKER-7f3a" not in str(info.value) and "MARKER-7f3a" not in repr(info.value.context)
    if atime_works:
        assert os.stat(secret).st_atime == armed, "the parser opened the entity's file"


def test_billion_laughs_is_refused_without_expansion() -> None:
    body = (REPLIES / "CLN_HOME_LIST.billion-laughs.xml").read_bytes()
    with pytest.raises(MalformedReply, match="DOCTYPE") as info:
        decode("CLN_HOME_LIST", body)
    assert "lollol" not in str(info.value)


def test_control_characters_are_stripped_even_across_reads() -> None:
    body = ("<result>" + "".join(f"<row><id>{i}</id><city>Т\x01в\x02е\x1fр\x00ь</city></row>" for i in range(50))
            + "</result>").encode("cp1251")
    for source in (body, Trickle(body, step=1), Trickle(body, step=3)):
        rows = decode("CLN_HOME_LIST", source)
        assert [r["CITY"] for r in rows] == ["Тверь"] * 50


def test_a_utf16_reply_is_not_mangled_by_the_control_character_filter() -> None:
    body = '<?xml version="1.0" encoding="utf-16"?><result><id>7</id><city>Омск</city></result>'.encode("utf-16")
    (row,) = decode("CLN_HOME_LIST", body)
    assert row["ID"] == 7 and row["CITY"] == "Омск"


class CountingStream(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        chunk = self._data.read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_large_reply_is_decoded_lazily() -> None:
    count = 50_000
    body = ('<?xml version="1.0" encoding="windows-1251"?>\n<result>\n' + "".join(
        f"<row><id>{i}</id><identify>Абонент №{i}</identify><ip>10.{i >> 16}.{(i >> 8) & 255}.{i & 255}</ip>"
        f"<balance>{i}.5</balance><login>user{i}</login></row>\n" for i in range(1, count + 1))
        + "</result>\n").encode("cp1251")
    stream = CountingStream(body)
    rows = codec.decode_rows(CATALOGUE["CLN_USR_FIND_2"], stream, http_charset=None, fmt=FMT,
                             expired_patterns=PATTERNS)
    assert inspect.isgenerator(rows)
    assert stream.bytes_read == 0  # nothing happens before the first row is asked for
    first = next(rows)
    assert first["ID"] == 1 and first["IDENTIFY"] == "Абонент №1" and first["BALANCE"] == Decimal("1.50")
    assert stream.bytes_read < len(body) // 4  # the first row came before the whole body was read
    seen, last = 1, first
    for last in rows:  # noqa: B007  (the last row is checked below)
        seen += 1
    assert seen == count
    assert last["ID"] == count and last["IP"] == f"10.0.{(count >> 8) & 255}.{count & 255}"
    assert stream.bytes_read == len(body)


# --- value types: from the wire ------------------------------------------------------------------

@pytest.mark.parametrize("text, address", [
    ("-1062731775", "192.168.0.1"), ("-1", "255.255.255.255"), ("-2147483648", "128.0.0.0"),
    ("2147483647", "127.255.255.255"), ("3232235521", "192.168.0.1"), ("167772161", "10.0.0.1"),
    ("0", "0.0.0.0"), (" 10.1.2.3 ", "10.1.2.3"),
])
def test_ipv4_from_wire(text: str, address: str) -> None:
    assert Ipv4().from_wire(text, FMT) == address


def test_negative_ip_column_is_above_127_255_255_255() -> None:
    (row,) = decode("CLN_USR_GET", b"<result><user_id>1</user_id><ip>-1062731775</ip><nas_ip>-16777216</nas_ip></result>")
    assert row["IP"] == "192.168.0.1" and row["NAS_IP"] == "255.0.0.0"


@pytest.mark.parametrize("text, value", [
    ("1.5E2", "150.00"), ("150", "150.00"), ("-0.5", "-0.50"), ("1234.567", "1234.57"), ("1e-3", "0.00"),
    ("99.995", "100.00"), ("0.125", "0.12"),  # half-even on the boundary
])
def test_money_from_wire_is_an_exact_decimal_with_two_places(text: str, value: str) -> None:
    result = Money("DOUBLE PRECISION").from_wire(text, FMT)
    assert isinstance(result, Decimal) and result == Decimal(value) and str(result) == value


@pytest.mark.parametrize("text, expected", [
    ("2024-03-01 12:34:56", dt.datetime(2024, 3, 1, 12, 34, 56)),
    ("01.03.2024 12:34:56", dt.datetime(2024, 3, 1, 12, 34, 56)),
    ("2024-03-01 12:34:56.789", dt.datetime(2024, 3, 1, 12, 34, 56)),
    ("2024-03-01T12:34:56", dt.datetime(2024, 3, 1, 12, 34, 56)),
    ("01.03.2024", dt.datetime(2024, 3, 1)),
])
def test_timestamp_from_wire(text: str, expected: dt.datetime) -> None:
    assert Timestamp().from_wire(text, FMT) == expected


def test_configured_timestamp_format_is_tried_first() -> None:
    # "03/01/2024" is ambiguous; the installation's format (month first here) decides
    fmt = WireFormat(timestamp_format="%m/%d/%Y %H:%M:%S")
    assert Timestamp().from_wire("03/01/2024 08:00:00", fmt) == dt.datetime(2024, 3, 1, 8)
    assert Date().from_wire("2024-03-01 00:00:00", FMT) == dt.date(2024, 3, 1)


def test_text_from_wire_strips_xml_illegal_characters() -> None:
    assert Text("VARCHAR(10)", 10).from_wire("a\x00b\x08c\x0bd\tе\nж\ufffe", FMT) == "abcd\tе\nж"


def test_integer_from_wire_refuses_fractions() -> None:
    assert Integer("INTEGER", 32).from_wire(" 42 ", FMT) == 42
    assert Integer("INTEGER", 32).from_wire("42.0", FMT) == 42
    assert Integer("NUMERIC(18,0)", 64).from_wire("1E+18", FMT) == 10 ** 18
    for text in ("42.5", "NaN", "-Infinity", "abc", "", "1E+999999999"):
        with pytest.raises((ValueError, ArithmeticError)):
            Integer("INTEGER", 32).from_wire(text, FMT)


# --- value types: validation and to the wire -----------------------------------------------------

@pytest.mark.parametrize("billing, low, high", [
    ("SMALLINT", -32768, 32767),
    ("INTEGER", -2147483648, 2147483647),
    ("NUMERIC(18,0)", -(2 ** 63), 2 ** 63 - 1),
])
def test_integer_ranges(billing: str, low: int, high: int) -> None:
    kind = parse_type(billing)
    assert isinstance(kind, Integer)
    for value in (low, high, 0, str(high), f" {low} "):
        number = kind.validate(value)
        assert number == int(value) and kind.to_wire(number, FMT) == str(int(value))
    for value in (low - 1, high + 1, str(high + 1)):
        with pytest.raises(ValueError, match="out of range"):
            kind.validate(value)
    for value in (True, 1.0, "1.5", "", "ten", None, Decimal(1)):
        with pytest.raises(ValueError):
            kind.validate(value)


def test_integer_kinds() -> None:
    assert [parse_type(t).kind for t in ("SMALLINT", "INTEGER", "NUMERIC(18,0)", "numeric(18, 0)")] == \
        ["short", "int", "long", "long"]


@pytest.mark.parametrize("value, wire", [
    (Decimal("10.5"), "10.50"), ("10.500", "10.50"), (100, "100.00"), ("100", "100.00"),
    (Decimal("1E+2"), "100.00"), ("1e2", "100.00"), (Decimal("0E-8"), "0.00"), ("-0.01", "-0.01"),
    ("9999999999999.99", "9999999999999.99"), (Decimal("1234567.8"), "1234567.80"),
])
def test_money_is_sent_with_exactly_two_decimals_and_no_exponent(value: Any, wire: str) -> None:
    money = Money("DOUBLE PRECISION")
    clean = money.validate(value)
    assert isinstance(clean, Decimal)
    assert money.to_wire(clean, FMT) == wire
    assert "E" not in wire.upper() and re.fullmatch(r"-?\d+\.\d\d", wire)


def test_money_validated_value_has_two_places() -> None:
    assert str(Money("DOUBLE PRECISION").validate("10.500")) == "10.50"


@pytest.mark.parametrize("value, why", [
    (10.5, "float"), (1e2, "float"), ("10.505", "fraction digits"), (Decimal("0.001"), "fraction digits"),
    ("NaN", "decimal number"), ("Infinity", "decimal number"), ("12,50", "decimal number"), ("", "decimal number"),
    (True, "decimal number"), (None, "decimal number"),
    ("10000000000000", "too large"), ("1E+30", "too large"), (Decimal("-1E+100000"), "too large"),
])
def test_money_refuses(value: Any, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        Money("DOUBLE PRECISION").validate(value)


def test_numeric_15_2_is_money_too() -> None:
    money = parse_type("NUMERIC(15,2)")
    assert isinstance(money, Money) and money.kind == "decimal" and money.scale == 2
    assert money.to_wire(money.validate("7"), FMT) == "7.00"


def test_text_counts_characters_not_bytes() -> None:
    text = Text("VARCHAR(6)", 6)
    assert text.validate("Привет") == "Привет"  # 6 characters, 12 bytes in UTF-8
    assert text.validate("a&b=c#") == "a&b=c#"
    assert text.validate("a\tb\nc") == "a\tb\nc"
    with pytest.raises(ValueError, match="longer than 6 characters"):
        text.validate("Привет!")
    for bad in ("a\x00b", "bell\x07", "\x1b[0m", "\ud800"):
        with pytest.raises(ValueError, match="control characters"):
            text.validate(bad)
    with pytest.raises(ValueError):
        text.validate(123)


def test_timestamp_to_wire() -> None:
    ts = Timestamp()
    naive = ts.validate(dt.datetime(2024, 1, 2, 3, 4, 5, 678901))
    assert naive.microsecond == 0
    assert ts.to_wire(naive, FMT) == "2024-01-02 03:04:05"
    utc = ts.validate(dt.datetime(2024, 1, 2, 12, 0, 0, 999999, tzinfo=dt.timezone.utc))
    assert ts.to_wire(utc, FMT) == "2024-01-02 15:00:00"  # Moscow is UTC+3
    plus5 = ts.validate(dt.datetime(2024, 1, 2, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=5))))
    assert ts.to_wire(plus5, FMT) == "2024-01-02 10:00:00"
    yekaterinburg = WireFormat(zone=ZoneInfo("Asia/Yekaterinburg"))
    assert ts.to_wire(utc, yekaterinburg) == "2024-01-02 17:00:00"
    assert ts.to_wire(naive, yekaterinburg) == "2024-01-02 03:04:05"  # naive is already billing time
    assert ts.to_wire(ts.validate("2024-01-02T12:00:00Z"), FMT) == "2024-01-02 15:00:00"
    assert ts.to_wire(ts.validate("2024-01-02T12:00:00.5"), FMT) == "2024-01-02 12:00:00"
    dotted = WireFormat(timestamp_format="%d.%m.%Y %H:%M:%S")
    assert ts.to_wire(naive, dotted) == "02.01.2024 03:04:05"
    for bad in ("yesterday", "2024-13-01T00:00:00", 1700000000, dt.date(2024, 1, 2)):
        with pytest.raises(ValueError):
            ts.validate(bad)


def test_date_to_wire() -> None:
    date = Date()
    assert date.to_wire(date.validate(dt.date(2024, 2, 29)), FMT) == "2024-02-29"
    assert date.to_wire(date.validate("2024-02-29"), FMT) == "2024-02-29"
    assert date.validate(dt.datetime(2024, 2, 29, 23, 59)) == dt.date(2024, 2, 29)
    for bad in ("2023-02-29", "29.02.2024", 20240229):
        with pytest.raises(ValueError):
            date.validate(bad)


@pytest.mark.parametrize("value, wire", [
    ("10.0.0.1", "167772161"), ("127.255.255.255", "2147483647"), ("128.0.0.0", "-2147483648"),
    ("192.168.0.1", "-1062731775"), ("255.255.255.255", "-1"), ("0.0.0.0", "0"),
    (167772161, "167772161"), (3232235521, "-1062731775"), (-1062731775, "-1062731775"), (-1, "-1"),
])
def test_ipv4_to_wire_is_a_signed_32_bit_integer(value: Any, wire: str) -> None:
    ip = Ipv4()
    clean = ip.validate(value)
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", clean)
    assert ip.to_wire(clean, FMT) == wire
    assert -(2 ** 31) <= int(wire) < 2 ** 31
    assert ip.from_wire(wire, FMT) == clean


@pytest.mark.parametrize("value", ["300.1.1.1", "1.2.3", "10.0.0.1/24", "::1", "", "-1", 2 ** 32,
                                   -(2 ** 31) - 1, 2 ** 40, True, 1.5, None])
def test_ipv4_refuses(value: Any) -> None:
    with pytest.raises(ValueError):
        Ipv4().validate(value)


# --- arguments -----------------------------------------------------------------------------------

def test_fixed_arguments_are_always_sent() -> None:
    proc = CATALOGUE["CLN_FIN_OPER_ADD"]
    clean = codec.validate_args(proc, {"USER_ID": 1001, "OP_DATE": dt.datetime(2024, 1, 15, 10, 30),
                                       "SUMMA": "150", "NUMBER": "П-1"})
    assert clean["SUMMA"] == Decimal("150.00")
    assert codec.encode_args(proc, clean, FMT) == [
        "1001", "2024-01-15 10:30:00", "150.00", "null", "П-1", "2", "null"]


@pytest.mark.parametrize("fixed", ["OP_TYPE", "RESERVED"])
def test_a_caller_cannot_pass_a_fixed_argument(fixed: str) -> None:
    proc = CATALOGUE["CLN_FIN_OPER_ADD"]
    with pytest.raises(InvalidArgument) as info:
        codec.validate_args(proc, {"USER_ID": 1, "OP_DATE": "2024-01-01T00:00:00", "SUMMA": "1", fixed: 3})
    assert info.value.problems == [(fixed, "fixed by the catalogue, cannot be given")]


def test_absent_and_none_arguments_are_sent_as_null() -> None:
    proc = CATALOGUE["CLN_USR_FIND_2"]
    clean = codec.validate_args(proc, {"LOGIN_IN": "ivanov", "IP_IN": "192.168.0.1", "BALANCEL_IN": "-10",
                                       "NAME_IN": None, "NAS_IP": 167772161})
    wire = codec.encode_args(proc, clean, FMT)
    assert len(wire) == 24
    names = [a.name for a in proc.args]
    assert wire[names.index("LOGIN_IN")] == "ivanov"
    assert wire[names.index("IP_IN")] == "-1062731775"
    assert wire[names.index("BALANCEL_IN")] == "-10.00"
    assert wire[names.index("NAS_IP")] == "167772161"
    assert wire[names.index("NAME_IN")] == "null"
    assert wire.count("null") == 20
    assert codec.encode_args(CATALOGUE["CLN_HOME_LIST"], codec.validate_args(CATALOGUE["CLN_HOME_LIST"], {}),
                             FMT) == ["null"]


def test_validate_args_reports_every_problem_without_values() -> None:
    proc = CATALOGUE["CLN_SWITCH_EDIT"]
    args = {
        "P_OP": 7,                                   # not one of the choices
        "ID": "hunter2-int",                         # not an integer
        "NAME": "ok",                                # fine
        "IP": "hunter2-ip",                          # not an address
        "PSW_SNMP": "hunter2-too-long" * 3,          # 48 > 40 characters
        "PORTS_CNT": 2 ** 31,                        # out of range
        "UPDATE_HOME_FLAG": 2,                       # not one of 0, 1
        "PASSWORD": "hunter2-unknown",               # no such argument
    }
    with pytest.raises(InvalidArgument) as info:
        codec.validate_args(proc, args)
    exc = info.value
    assert exc.procedure == "CLN_SWITCH_EDIT"
    assert [field for field, _ in exc.problems] == [
        "PASSWORD", "P_OP", "ID", "IP", "PSW_SNMP", "PORTS_CNT", "UPDATE_HOME_FLAG"]
    assert exc.field == "PASSWORD"
    text = str(exc)
    for field in ("P_OP", "ID", "IP", "PSW_SNMP", "PORTS_CNT", "UPDATE_HOME_FLAG", "PASSWORD"):
        assert f"{field}:" in text
    assert "must be one of 0, 1, 2" in text and "must be one of 0, 1" in text
    assert "longer than 40 characters" in text and "unknown argument" in text
    assert "hunter2" not in text and "hunter2" not in repr(exc.problems) and "hunter2" not in repr(exc)


def test_validate_args_every_type_hides_the_value() -> None:
    proc = CATALOGUE["CLN_FIN_OPER_ADD"]
    with pytest.raises(InvalidArgument) as info:
        codec.validate_args(proc, {"USER_ID": "s3cr3t-1", "OP_DATE": "s3cr3t-2", "SUMMA": "s3cr3t-3",
                                   "DESCR": "s3cr3t-4\x07", "NUMBER": "s3cr3t-55555"})
    assert [f for f, _ in info.value.problems] == ["USER_ID", "OP_DATE", "SUMMA", "DESCR", "NUMBER"]
    assert "s3cr3t" not in str(info.value) and "s3cr3t" not in repr(info.value.problems)


def test_missing_required_arguments_are_all_reported() -> None:
    with pytest.raises(InvalidArgument) as info:
        codec.validate_args(CATALOGUE["CLN_FIN_OPER_ADD"], {"DESCR": "x", "SUMMA": None})
    assert info.value.problems == [("USER_ID", "required"), ("OP_DATE", "required"), ("SUMMA", "required")]


def test_operation_code_choices() -> None:
    uk = CATALOGUE["CLN_USR_USLUGA_EDIT"]
    assert codec.validate_args(uk, {"UK": 2, "ID": 5}) == {"UK": 2, "ID": 5}
    assert codec.validate_args(uk, {"UK": "0"}) == {"UK": 0}
    with pytest.raises(InvalidArgument) as info:
        codec.validate_args(uk, {"UK": 3})
    assert info.value.problems == [("UK", "must be one of 0, 1, 2")]
    with pytest.raises(InvalidArgument, match="P_OP: must be one of 0, 1, 2"):
        codec.validate_args(CATALOGUE["CLN_HOME_EDIT"], {"P_OP": -1})


# --- the query string ----------------------------------------------------------------------------

NASTY = "a&b=c#d+e%f g/?;Привет\u00a0ёЁ&arg3=1"


def test_query_values_arrive_intact_as_one_argument() -> None:
    query = codec.build_query("CLN_USR_FIND_2", [NASTY, "null", ""], suid="123456789012345678")
    assert parse_qsl(query, keep_blank_values=True, strict_parsing=True) == [
        ("cmd", "execute"), ("proc", "CLN_USR_FIND_2"),
        ("arg1", "123456789012345678"), ("arg2", NASTY), ("arg3", "null"), ("arg4", "")]
    assert query.count("&") == 5 and query.count("=") == 6
    assert " " not in query and "#" not in query and "+" not in query


def test_query_matches_the_vendor_example() -> None:
    assert codec.build_query("CLN_AUTH_LOGIN", ["Administrator", "servicemode", "0"]) == \
        "cmd=execute&proc=CLN_AUTH_LOGIN&arg1=Administrator&arg2=servicemode&arg3=0"
    assert codec.build_query("CLN_HOME_EDIT", ["2", "10"], suid="4711") == \
        "cmd=execute&proc=CLN_HOME_EDIT&arg1=4711&arg2=2&arg3=10"


def test_one_step_login_goes_first_and_arguments_shift() -> None:
    query = codec.build_query("CLN_HOME_EDIT", ["2", "10"], login=("Administrator", "p&ss=w#rd+ %"))
    assert parse_qsl(query, keep_blank_values=True, strict_parsing=True) == [
        ("login", "Administrator"), ("password", "p&ss=w#rd+ %"), ("cmd", "execute"),
        ("proc", "CLN_HOME_EDIT"), ("arg1", "2"), ("arg2", "10")]
    assert query == ("login=Administrator&password=p%26ss%3Dw%23rd%2B%20%25&cmd=execute"
                     "&proc=CLN_HOME_EDIT&arg1=2&arg2=10")


def test_query_in_windows_1251() -> None:
    query = codec.build_query("CLN_USR_FIND_2", ["Иванов"], suid="1", encoding="windows-1251")
    assert "%C8%E2%E0%ED%EE%E2" in query
    assert dict(parse_qsl(query, encoding="cp1251"))["arg2"] == "Иванов"


def test_a_whole_call_encodes_as_the_billing_expects() -> None:
    proc = CATALOGUE["CLN_HOME_EDIT"]
    clean = codec.validate_args(proc, {"P_OP": 1, "CITY": "Нижний Новгород", "STREET": "ул. Б. Покровская, 1&2",
                                       "CONNECT_DATE": dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)})
    query = codec.build_query(proc.name, codec.encode_args(proc, clean, FMT), suid="99")
    pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    assert [k for k, _ in pairs] == ["cmd", "proc"] + [f"arg{i}" for i in range(1, 13)]
    args = dict(pairs)
    assert args["arg1"] == "99" and args["arg2"] == "1" and args["arg3"] == "null"
    assert args["arg5"] == "2024-05-06 10:08:09"
    assert args["arg8"] == "Нижний Новгород" and args["arg10"] == "ул. Б. Покровская, 1&2"


# -- reply counters, error classes, the query's command and charset (issue #13) ---------------------

@pytest.mark.parametrize("body", [
    b"<result><errors>0</errors><rows>2</rows><row><id>1</id></row><row><id>2</id></row></result>",
    b"<result><row><id>1</id></row><row><id>2</id></row><errors>0</errors><rows>2</rows></result>",
])
def test_reply_counters_that_agree_are_not_columns(body: bytes) -> None:
    rows = decode("CLN_HOME_LIST", body)
    assert [r["ID"] for r in rows] == [1, 2] and all(not r.extra for r in rows)


def test_counters_of_a_single_row_reply_under_the_root_are_not_columns() -> None:
    (row,) = decode("CLN_USR_GET", b"<result><errors>0</errors><rows>1</rows><user_id>7</user_id></result>")
    assert row["USER_ID"] == 7 and not row.extra


def test_a_row_count_that_disagrees_is_a_malformed_reply() -> None:
    with pytest.raises(MalformedReply, match="counts 3 rows but holds 2"):
        decode("CLN_HOME_LIST", b"<result><rows>3</rows><row><id>1</id></row><row><id>2</id></row></result>")


def test_errors_counted_are_an_error_reply_with_or_without_a_message() -> None:
    with pytest.raises(BillingError) as info:
        decode("CLN_HOME_LIST", "<result><errors>1</errors><rows>0</rows><error>Дом 5 не найден</error></result>"
               .encode(), "utf-8")
    assert info.value.billing_message == "Дом 5 не найден"
    with pytest.raises(BillingError, match="counts 2 error"):
        decode("CLN_HOME_LIST", b"<result><errors>2</errors><rows>0</rows></result>")


def test_billing_messages_are_classified_by_patterns() -> None:
    from soap_gateway.config import DEFAULT_ERROR_PATTERNS
    from soap_gateway.errors import Duplicate, InvalidValue, NotFound, NotPermitted

    classes = codec.error_classes(DEFAULT_ERROR_PATTERNS)
    cases = {"Абонент 5 не найден": NotFound, "E_USER_NOT_FOUND": NotFound,
             'violation of PRIMARY or UNIQUE KEY constraint "PK_X" on table "X"': Duplicate,
             "no permission for EXECUTE access to PROCEDURE X": NotPermitted,
             "Cannot transliterate character between character sets": InvalidValue,
             "Dynamic SQL Error; SQL error code = -204; Procedure unknown; X": BillingError,
             "Сессия SUID не найдена или устарела": SessionExpired}
    for message, cls in cases.items():
        body = f"<result><error>{message}</error></result>".encode()
        with pytest.raises(BillingError) as info:
            codec.decode_reply(CATALOGUE["CLN_HOME_LIST"], body, http_charset="utf-8", fmt=FMT,
                               expired_patterns=PATTERNS, classes=classes)
        assert type(info.value) is cls, message


def test_text_the_billing_cannot_hold_names_the_field() -> None:
    proc = CATALOGUE["CLN_FIN_OPER_ADD"]
    args = {"USER_ID": 1, "OP_DATE": dt.datetime(2024, 1, 1), "SUMMA": "1.00", "DESCR": "ok €", "NUMBER": "№ 1"}
    codec.validate_args(proc, args, "windows-1251")  # the euro sign and № are in windows-1251
    with pytest.raises(InvalidArgument) as info:
        codec.validate_args(proc, {**args, "DESCR": "日本"}, "windows-1251")
    assert info.value.field == "DESCR" and "U+65E5" in str(info.value)


def test_the_command_and_the_argument_charset_of_the_query() -> None:
    query = codec.build_query("CLN_FIN_OPER", ["Иванов"], suid="1", command="select", encoding="windows-1251")
    assert "cmd=select" in query and "arg2=%C8%E2%E0%ED%EE%E2" in query
    assert "arg2=%D0%98" in codec.build_query("CLN_FIN_OPER", ["Иванов"], suid="1")
