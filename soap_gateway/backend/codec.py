"""Pure wire codec: arguments to a query string, billing XML replies to typed rows.

No I/O here.  A value its column's type cannot read (dirty data: year 1, "NaN",
a number too large) never fails the reply: the column is None and its raw
text is kept in ``Row.extra`` under the column's own catalogue name (unknown
columns keep their lower-case tag there), listed in ``Row.unreadable``.

The reply format is undocumented (DESIGN.md §2), so the decoder depends on no
element name: a row is an element whose children are all leaves, a single-row
reply may keep its columns under the root, tags compare case-insensitively, and
the encoding comes from the XML declaration, else the HTTP charset, else
windows-1251.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any, Iterator, Mapping, Protocol, Sequence
from urllib.parse import quote, urlencode

from lxml import etree

from ..catalogue import Procedure, WireFormat
from ..catalogue import Row as Row  # what the codec decodes into; defined with the catalogue it follows
from ..errors import REFUSALS, BillingError, BillingRefused, InvalidArgument, MalformedReply, SessionExpired

NULL = "null"
FALLBACK_ENCODING = "windows-1251"
ERROR_TAGS = frozenset({"error", "exception", "err", "errmsg", "error_message"})
# Reply counters some installations add under the root (the vendor's own client reads them):
# errors > 0 is an error reply, and rows must equal the rows received.
COUNTER_TAGS = frozenset({"errors", "rows"})
_HOLDS_ROWS, _HOLDS_BRANCHES = 1, 2
Classes = Sequence[tuple[type[BillingRefused], re.Pattern[str]]]
_XML_ILLEGAL_BYTES = bytes(range(0x00, 0x09)) + b"\x0b\x0c" + bytes(range(0x0e, 0x20))
_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


def error_classes(patterns: Mapping[str, Sequence[str]]) -> list[tuple[type[BillingRefused], re.Pattern[str]]]:
    """``{"not_found": [regex, ...], ...}`` compiled, in the order the classes are tried."""
    return [(cls, re.compile(p)) for cls in REFUSALS for p in patterns.get(cls.kind, ())]


def validate_args(proc: Procedure, args: Mapping[str, Any], charset: str | None = None) -> dict[str, Any]:
    """Check a caller's arguments against the catalogue; collect every problem.

    ``charset``: the one the billing keeps text in; text it cannot hold is refused here, naming the
    field, instead of failing in the billing ("Cannot transliterate character between character sets").
    """
    problems: list[tuple[str, str]] = []
    params = {a.name: a for a in proc.params}
    for name in args:
        if name not in params:
            problems.append((name, "unknown argument" if name not in {a.name for a in proc.args}
                             else "fixed by the catalogue, cannot be given"))
    clean: dict[str, Any] = {}
    for name, arg in params.items():
        value = args.get(name)
        if value is not None:
            try:
                value = arg.type.validate(value)
            except ValueError as exc:
                problems.append((name, str(exc)))
                continue
            if _empty_date(value):
                if arg.required:
                    problems.append((name, EMPTY_DATE))
                    continue
                value = None  # an optional date left empty by 1C or .NET: not given
        if value is None:
            if arg.required:
                problems.append((name, "required"))
            continue
        if arg.choices and value not in arg.choices:
            problems.append((name, f"must be one of {', '.join(map(str, arg.choices))}"))
            continue
        if arg.positive and value <= 0:
            problems.append((name, f"must be greater than 0 (got {value})"))
            continue
        if charset and isinstance(value, str):
            foreign = sorted({c for c in value if not _holds(charset, c)})
            if foreign:
                shown = " ".join(f"{c!r} (U+{ord(c):04X})" for c in foreign[:5])
                problems.append((name, f"the billing's character set {charset} cannot hold {shown}"))
                continue
        clean[name] = value
    if problems:
        raise InvalidArgument(proc.name, problems)
    return clean


EMPTY_DATE = ("0001-01-01T00:00:00 is the empty date of 1C (an unfilled Дата) and of .NET (default(DateTime)), "
              "not a date: fill it in")


def _empty_date(value: Any) -> bool:
    """1C and .NET send their "no date" as the first day of year 1."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) == dt.datetime(1, 1, 1)
    return isinstance(value, dt.date) and value == dt.date(1, 1, 1)


def encode_args(proc: Procedure, clean: Mapping[str, Any], fmt: WireFormat) -> list[str]:
    """Positional argument values after the SUID, ``null`` for null, fixed ones filled in."""
    wire = []
    for arg in proc.args:
        value = arg.value if arg.fixed else clean.get(arg.name)
        wire.append(NULL if value is None else arg.type.to_wire(value, fmt))
    return wire


def _holds(charset: str, char: str) -> bool:
    try:
        char.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


def build_query(
    proc_name: str,
    positional: Sequence[str],
    *,
    suid: str | None = None,
    login: tuple[str, str] | None = None,
    encoding: str = "utf-8",
    command: str = "execute",
) -> str:
    """The api.php query string; every value is percent-encoded, so none can inject a parameter.

    ``command``: "execute", or "select" for an installation whose list procedures are only selectable.
    """
    pairs: list[tuple[str, str]] = []
    if login is not None:
        pairs += [("login", login[0]), ("password", login[1])]
    pairs += [("cmd", command), ("proc", proc_name)]
    values = ([suid] if suid is not None else []) + list(positional)
    pairs += [(f"arg{i}", v) for i, v in enumerate(values, start=1)]
    return urlencode(pairs, quote_via=quote, safe="", encoding=encoding)


class Readable(Protocol):
    """What a reply is decoded from: a file, a BytesIO, the transport's guarded stream."""

    def read(self, size: int = -1, /) -> bytes: ...


def sniff_encoding(head: bytes, http_charset: str | None) -> str | None:
    """The encoding to force on the parser, or None when the XML declaration names one."""
    if _DECLARED_ENCODING.match(head):
        return None
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return None
    return http_charset or FALLBACK_ENCODING


def decode_rows(
    proc: Procedure,
    source: bytes | Readable,
    *,
    http_charset: str | None,
    fmt: WireFormat,
    expired_patterns: Sequence[re.Pattern[str]] = (),
    classes: Classes = (),
) -> Iterator[Row]:
    """Yield the typed rows of a reply as they are parsed; raise on an error reply.

    ``classes``: which billing error messages are a refusal the caller can act on (``error_classes``).
    """
    stream: Readable = io.BytesIO(source) if isinstance(source, bytes) else source
    head = _read_head(stream, 256)
    if not head.strip():
        return  # an empty body: a write that answered nothing
    # In an ASCII-compatible encoding (windows-1251, UTF-8) the C0 control bytes
    # are only ever those characters: drop the ones XML forbids instead of
    # refusing the whole reply, and the blank lines a PHP script may print
    # before its XML declaration.
    ascii_compatible = b"\x00" not in head[:4] and not head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if ascii_compatible:
        head = head.lstrip()
    stream = _Prefixed(head, stream, _XML_ILLEGAL_BYTES if ascii_compatible else b"")
    parser_args: dict[str, Any] = dict(
        events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False,
        huge_tree=False, remove_comments=True, remove_pis=True,
    )
    encoding = sniff_encoding(head, http_charset)
    if encoding:
        parser_args["encoding"] = encoding
    # Flags per open element: did a row turn up inside it (an element that holds
    # rows is a wrapper, never a row itself, even once its consumed and cleared
    # rows look like leaves), did an element with children end inside it (so it
    # is no row either).
    holds_rows: list[int] = []
    columns = _columns(proc)
    counters: dict[str, str] = {}
    rows = 0
    if _declares_doctype(head, encoding):
        raise MalformedReply(detail="the reply carries a DOCTYPE, which is refused", sent=True)
    try:
        for event, element in etree.iterparse(stream, **parser_args):
            if event == "start":
                if not holds_rows:
                    if element.getroottree().docinfo.doctype:
                        raise MalformedReply(detail="the reply carries a DOCTYPE, which is refused", sent=True)
                    if _local(element.tag) == "html":
                        raise MalformedReply(detail="the reply is an HTML page, not the billing's XML", sent=True)
                holds_rows.append(0)
                continue
            flags = holds_rows.pop()
            tag = _local(element.tag)
            if tag in ERROR_TAGS:
                message = " ".join(t.strip() for t in element.itertext() if t.strip())
                if message:
                    raise _billing_error(proc.name, message, expired_patterns, classes)
            if not len(element):  # a leaf: a column, or a counter under the root
                if len(holds_rows) == 1 and tag in COUNTER_TAGS and proc.column(tag) is None:
                    counters[tag] = (element.text or "").strip()  # checked at the end: the message may follow
                continue
            if flags & _HOLDS_ROWS:
                if holds_rows:
                    holds_rows[-1] |= _HOLDS_ROWS | _HOLDS_BRANCHES
            elif not flags & _HOLDS_BRANCHES and (
                    holds_rows or not all(_local(child.tag) in COUNTER_TAGS for child in element)):
                # a row; at the root: a single-row reply with its columns under the root (not just counters)
                yield _row(columns, element, fmt, skip=COUNTER_TAGS if not holds_rows else frozenset())
                rows += 1
                if holds_rows:
                    holds_rows[-1] |= _HOLDS_ROWS | _HOLDS_BRANCHES
                    _free(element)
            elif holds_rows:
                holds_rows[-1] |= _HOLDS_BRANCHES
    except etree.XMLSyntaxError as exc:
        raise MalformedReply(detail=f"not well-formed XML ({exc.msg})", sent=True,
                             excerpt=head[:120].decode("latin-1", "replace")) from None
    except LookupError as exc:
        raise MalformedReply(detail=f"unknown encoding ({exc})", sent=True) from None
    if "errors" in counters and _count(counters, "errors") > 0:  # and no error element said what they were
        raise _billing_error(proc.name, f"the reply counts {counters['errors']} error(s) and names none",
                             expired_patterns, classes)
    if "rows" in counters and _count(counters, "rows") != rows:
        raise MalformedReply(detail=f"the reply counts {counters['rows']} rows but holds {rows}", sent=True)


# An XML declaration, processing instructions and comments may precede a DOCTYPE.
_DOCTYPE_IN_PROLOG = re.compile(r"\s*(?:<\?.*?\?>\s*|<!--.*?-->\s*)*<!DOCTYPE", re.S)


def _declares_doctype(head: bytes, encoding: str | None) -> bool:
    """Whether the prolog in the reply's first bytes declares a DOCTYPE.

    Newer lxml releases refuse some DOCTYPEs (entity amplification) before the
    root's start event, where the parser-side check below would see them; a
    prolog longer than ``head`` is still caught there.
    """
    try:
        text = head.decode(encoding or "latin-1", "replace")
    except LookupError:  # the parser names an unknown encoding itself
        return False
    return _DOCTYPE_IN_PROLOG.match(text.lstrip("\ufeff")) is not None


def _count(counters: Mapping[str, str], tag: str) -> int:
    try:
        return int(counters[tag])
    except ValueError:
        raise MalformedReply(detail=f"the reply's <{tag}> counter is {counters[tag][:20]!r}", sent=True) from None


def decode_reply(proc: Procedure, source: bytes | Readable, **kwargs: Any) -> list[Row]:
    return list(decode_rows(proc, source, **kwargs))


class _Columns:
    """A procedure's columns by the tags a reply names them with (as they come: any case, any prefix)."""

    def __init__(self, proc: Procedure) -> None:
        self.proc = proc
        self.names = tuple(c.name for c in proc.columns)
        self.by_tag: dict[Any, tuple[str, Any]] = {}

    def lookup(self, tag: Any) -> tuple[str, Any]:
        """(the tag's lower-case local name, its column or None)."""
        found = self.by_tag.get(tag)
        if found is None:
            local = _local(tag)
            found = (local, self.proc.column(local))
            if len(self.by_tag) < 1_000:  # bounded: a hostile reply could invent endless names
                self.by_tag[tag] = found
        return found


_COLUMNS: dict[str, _Columns] = {}


def _columns(proc: Procedure) -> _Columns:
    """The tag lookup of ``proc``, kept per procedure (a redefined procedure gets a new one)."""
    found = _COLUMNS.get(proc.name)
    if found is None or found.proc is not proc:
        found = _Columns(proc)
        if len(_COLUMNS) < 1_000:  # EXECUTE describes procedures of any name
            _COLUMNS[proc.name] = found
    return found


def _row(columns: _Columns, element: etree._Element, fmt: WireFormat, skip: frozenset[str] = frozenset()) -> Row:
    values: dict[str, Any] = dict.fromkeys(columns.names)
    row = Row(values)
    by_tag, lookup = columns.by_tag, columns.lookup
    for child in element:
        tag, column = by_tag.get(child.tag) or lookup(child.tag)
        text = child.text or ""
        if column is None:
            if tag not in skip:  # the counters of a single-row reply that keeps its columns under the root
                row.extra[tag] = text
        elif text.strip():
            try:
                values[column.name] = column.type.from_wire(text, fmt)
            except (ValueError, ArithmeticError):
                row.extra[column.name] = text
                row.unreadable.append(column.name)
    return row


def _billing_error(proc_name: str, message: str, patterns: Sequence[re.Pattern[str]],
                   classes: Classes) -> BillingError:
    if any(p.search(message) for p in patterns):
        return SessionExpired(procedure=proc_name, billing_message=message)
    for cls, pattern in classes:
        if pattern.search(message):
            return cls(procedure=proc_name, billing_message=message)
    return BillingError(procedure=proc_name, billing_message=message)


_LOCAL_NAMES: dict[str, str] = {}


def _local(tag: Any) -> str:
    """'{ns}Name' -> 'name'; replies repeat a few tag names thousands of times, so remember them.

    Not etree.QName: libxml2 passes names like ":row" through, and QName refuses them.
    """
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        if not isinstance(tag, str):
            return ""  # a comment or processing instruction
        name = tag.rpartition("}")[2].lower()
        if len(_LOCAL_NAMES) < 10_000:  # bounded: a hostile reply could invent endless names
            _LOCAL_NAMES[tag] = name
    return name


def _read_head(stream: Readable, size: int) -> bytes:
    """The first ``size`` bytes (fewer only at the end): a stream may return short reads."""
    head = b""
    while len(head) < size:
        chunk = stream.read(size - len(head))
        if not chunk:
            break
        head += chunk
    return head


def _free(element: etree._Element) -> None:
    """Drop a consumed row and its already-consumed siblings, so memory stays flat."""
    element.clear()
    parent = element.getparent()
    while parent is not None and element.getprevious() is not None:
        del parent[0]


class _Prefixed(io.RawIOBase):
    """A stream with bytes already read from it put back in front, ``drop`` bytes removed."""

    def __init__(self, head: bytes, rest: Readable, drop: bytes = b"") -> None:
        self._head, self._rest, self._drop = head, rest, drop

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while True:
            if self._head:
                chunk, self._head = (self._head, b"") if size < 0 or size >= len(self._head) else (
                    self._head[:size], self._head[size:])
            else:
                chunk = self._rest.read(size)
            if not chunk or not self._drop:
                return chunk
            chunk = chunk.translate(None, self._drop)
            if chunk:  # an empty chunk would mean the end of the stream
                return chunk
