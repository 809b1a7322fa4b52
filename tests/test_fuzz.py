"""Property-based fuzzing (hypothesis) of the SOAP request path and of the billing reply decoder.

A crash, a hang, an HTTP 500 without a SOAP fault, or an internal-error fault
(an exception nobody meant to raise) is a bug.  Runs are bounded and
derandomized, so CI sees the same examples every time; the request path is
driven against an emulator of its own, as random writes would disturb the
shared one.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import io
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from envelopes import ENV, TNS, envelope, operation
from soap_gateway.backend import BillingClient, codec
from soap_gateway.catalogue import WireFormat, load_catalogue
from soap_gateway.config import DEFAULT_SESSION_EXPIRED_PATTERNS
from soap_gateway.core import Gateway
from soap_gateway.emulator import Emulator
from soap_gateway.errors import GatewayError
from soap_gateway.application import create_app
from soap_gateway.security.settings import AuthSettings

CATALOGUE = load_catalogue()
OPERATIONS = sorted(CATALOGUE)
REPLIES = sorted((Path(__file__).parent / "data" / "replies").glob("*.xml"))
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
HANG_SECONDS = 30


@pytest.fixture(scope="module")
def fuzz_app(pki: Any, gateway_settings: Any) -> Iterator[Any]:
    """The WSGI app (auth mode "none": every operation reachable) before a private emulator."""
    emulator = Emulator(str(pki.server_cert), str(pki.server_key), str(pki.client_ca))
    emulator.start()
    billing = dataclasses.replace(gateway_settings.billing, url=emulator.url, read_retries=0)
    settings_ = dataclasses.replace(gateway_settings, billing=billing, auth=AuthSettings(mode="none"))
    app = create_app(settings_, Gateway(BillingClient.from_settings(billing)))
    pool = concurrent.futures.ThreadPoolExecutor(1)
    yield lambda body, **environ: pool.submit(_call, app, body, environ).result(timeout=HANG_SECONDS)
    pool.shutdown()
    app.gateway.close()
    emulator.stop()


def _call(app: Any, body: bytes, overrides: dict[str, str]) -> tuple[str, bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = status, headers

    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/soap", "QUERY_STRING": "", "REMOTE_ADDR": "127.0.0.1",
               "CONTENT_TYPE": "text/xml; charset=utf-8", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.errors": io.StringIO(), **overrides}
    chunks = b"".join(app(environ, start_response))
    return seen["status"], chunks


def assert_soap_envelope(status: str, body: bytes, operation: str | None = None) -> None:
    """A well-formed SOAP 1.1 envelope: a success for the operation, or a fault that is not an internal error."""
    root = etree.fromstring(body)
    assert root.tag == f"{{{ENV}}}Envelope", body[:300]
    (payload,) = root.find(f"{{{ENV}}}Body")
    if payload.tag == f"{{{ENV}}}Fault":
        assert not status.startswith("200"), status
        code = payload.findtext("faultcode")
        assert code and code.split(":")[-1] not in ("Server", "Server.Configuration"), body[:600]
        assert re.match(r"\[[A-Z_]+\] ", payload.findtext("faultstring") or ""), body[:600]
        return
    assert status.startswith("200"), (status, body[:300])
    if operation is not None:
        assert payload.tag == f"{{{TNS}}}{operation}Response"


# -- strategies for requests -----------------------------------------------------------------------

_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "0", "-1", "2147483648", "9" * 30, "1.005", "1E+2", "NaN", "-0", "10.0.0.1",
                     "300.1.1.1", "2024-02-30T10:00:00", "2024-01-01T24:00:00", "2024-01-01", "true", "null",
                     "Д-2024/001", "x" * 300, "\u0000", "\ud800", "&amp;", "<", "]]>"]),
    st.integers(-2**70, 2**70).map(str),
    st.decimals(allow_nan=True, allow_infinity=True, places=3).map(str),
)


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_XML_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufffe\uffff",
                           min_codepoint=0x20)


def typed_value(arg: Any) -> st.SearchStrategy[str]:
    """Values the schema accepts for ``arg`` (so the call goes deeper than validation)."""
    vt, kind = arg.type, arg.type.kind
    if arg.choices:
        return st.sampled_from(arg.choices).map(str)
    if kind in ("short", "int", "long"):
        limit = 1 << (vt.bits - 1)
        return st.one_of(st.integers(1, 120), st.integers(-limit, limit - 1)).map(str)
    if kind == "decimal":
        return st.decimals(min_value=-10**6, max_value=10**6, places=2).map(lambda d: f"{d:f}")
    if kind == "string":
        return st.text(_XML_CHARS, max_size=min(vt.max_len, 30))
    if kind == "ipv4":
        return st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
    if kind == "datetime":
        return st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
            lambda d: d.replace(microsecond=0).isoformat())
    return st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 1, 1)).map(dt.date.isoformat)


RARELY = st.sampled_from([False] * 9 + [True])  # hypothesis leans to the first choice


@st.composite
def arguments(draw: Any, operation: str) -> list[tuple[str, str]]:
    """Mostly valid arguments in catalogue order; sometimes a wild value, an unknown or missing element."""
    fields = []
    for arg in CATALOGUE[operation].params:
        if arg.required or draw(st.booleans()):
            wild = draw(RARELY)
            fields.append((arg.name, draw(_TEXT if wild else typed_value(arg))))
    if fields and draw(RARELY):
        del fields[draw(st.integers(0, len(fields) - 1))]
    if draw(RARELY):
        fields.insert(draw(st.integers(0, len(fields))), (draw(st.sampled_from(["UNKNOWN", "SUID"])), "1"))
    return fields


@st.composite
def envelopes(draw: Any) -> tuple[str, bytes]:
    operation = draw(st.sampled_from(OPERATIONS))
    fields = draw(arguments(operation))
    prefix = draw(st.sampled_from(["b:"] * 9 + [""]))
    inner = "".join(f"<{prefix}{name}>{_xml_text(value)}</{prefix}{name}>" for name, value in fields)
    header = draw(st.sampled_from(["", "", "", "<s:Header><b:BillingSession><b:SUID>12345</b:SUID></b:BillingSession>"
                                       "</s:Header>", "<s:Header><b:BillingSession/></s:Header>"]))
    body = envelope(f"<b:{operation}>{inner}</b:{operation}>", header)
    encoded = body.encode("utf-8", "surrogatepass")
    return operation, encoded


@st.composite
def mutations(draw: Any, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.sampled_from([b"<", b">", b"&", b"<!DOCTYPE x>", b"<?pi x?>", b"\x00", b"\xff\xfe",
                                                b"<x>", b"</x>", b"<![CDATA[", b"xmlns:b=\"urn:other\" "]))
        elif kind == "delete" and data:
            del data[at:at + draw(st.integers(1, 20))]
        elif kind == "truncate":
            del data[at:]
        elif kind == "duplicate" and data:
            data[at:at] = data[at:at + draw(st.integers(1, 60))]
    return bytes(data)


SEED = ('<?xml version="1.0" encoding="utf-8"?>' + operation(
    "CLN_FIN_OPER_ADD", USER_ID=101, OP_DATE="2024-05-06T07:08:09", SUMMA="12.50", DESCR="Оплата", NUMBER="F-1")).encode()


@FUZZ
@given(case=envelopes())
def test_every_operation_answers_any_envelope_with_soap(fuzz_app: Any, case: tuple[str, bytes]) -> None:
    operation, body = case
    status, answer = fuzz_app(body)
    assert_soap_envelope(status, answer, operation)


@FUZZ
@given(body=mutations(SEED))
def test_mutated_envelopes_get_soap_faults_or_answers(fuzz_app: Any, body: bytes) -> None:
    status, answer = fuzz_app(body)
    assert_soap_envelope(status, answer)


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=2000))
def test_random_bytes_get_a_soap_answer(fuzz_app: Any, body: bytes) -> None:
    status, answer = fuzz_app(body)
    assert_soap_envelope(status, answer)


@FUZZ
@given(case=envelopes(), content_type=st.sampled_from([
    "text/xml", "text/xml; charset=windows-1251", "text/xml; charset=bogus", "application/soap+xml",
    "text/xml; charset=utf-16", "multipart/related; boundary=x", "", "text/xml; charset=\"utf-8\"; x=y"]),
    length=st.sampled_from([None, "", "abc", "-5", "0", "3"]))
def test_odd_content_types_and_lengths_get_soap(fuzz_app: Any, case: tuple[str, bytes], content_type: str,
                                                length: str | None) -> None:
    overrides = {"CONTENT_TYPE": content_type}
    if length is not None:
        overrides["CONTENT_LENGTH"] = length
    status, answer = fuzz_app(case[1], **overrides)
    assert_soap_envelope(status, answer)


# -- charsets, attributes, multipart, odd Body contents (the request guard) -------------------------

SOME = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
_ENCODINGS = ["utf-8", "utf-16", "utf-16-le", "utf-16-be", "cp1251", "utf-7", "latin-1", "utf-32", "koi8-r"]
_LABELS = [None, "utf-8", "UTF-8", "utf-16", "utf-16le", "UTF-16BE", "windows-1251", "cp1251", "utf-7", "iso-8859-1",
           "utf-32", "koi8-r", "bogus", "", "utf-8'"]
_BOMS = [b"", b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xff\xfe\x00\x00"]


@SOME
@given(case=envelopes(), encoding=st.sampled_from(_ENCODINGS), declared=st.sampled_from(_LABELS),
       charset=st.sampled_from(_LABELS), bom=st.sampled_from(_BOMS))
def test_any_mix_of_charset_bom_and_declaration_gets_soap(fuzz_app: Any, case: tuple[str, bytes], encoding: str,
                                                          declared: str | None, charset: str | None,
                                                          bom: bytes) -> None:
    text = case[1].decode("utf-8", "surrogatepass")
    if declared is not None:
        text = f'<?xml version="1.0" encoding="{declared}"?>' + text
    body = bom + text.encode(encoding, "replace")
    content_type = "text/xml" if charset is None else f"text/xml; charset={charset}"
    status, answer = fuzz_app(body, CONTENT_TYPE=content_type)
    assert_soap_envelope(status, answer)


_ATTRIBUTES = st.sampled_from([
    'x="1"', 'b:x="1"', 'xmlns:q="urn:q"', 'xmlns="urn:other"', f'xmlns:b="{TNS}"', 's:mustUnderstand="1"',
    's:mustUnderstand="0"', 's:actor="urn:x"', 's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"',
    'xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true"', 'i:type="b:Nope"', 'x="&lt;&amp;"',
    'q:x="1"', 'x="1" x="2"', "x='1'", 'x="' + "y" * 300 + '"', "a" * 300 + '="1"'])


@SOME
@given(case=envelopes(), data=st.data())
def test_attributes_anywhere_get_soap(fuzz_app: Any, case: tuple[str, bytes], data: Any) -> None:
    text = case[1].decode("utf-8", "surrogatepass")
    tags = [m.end() - 1 for m in re.finditer(r"<[A-Za-z][^<>/]*>", text)]
    for _ in range(data.draw(st.integers(1, 4))):
        if not tags:  # every start tag now holds a '/' (a namespace URI): nothing left to choose
            break
        at = data.draw(st.sampled_from(tags))
        count = data.draw(st.sampled_from([1, 1, 2, 5, 40, 300]))
        extra = " ".join(data.draw(_ATTRIBUTES) if count < 5 else f'a{i}="1"' for i in range(count))
        text = text[:at] + " " + extra + text[at:]
        tags = [m.end() - 1 for m in re.finditer(r"<[A-Za-z][^<>/]*>", text)]
    status, answer = fuzz_app(text.encode("utf-8", "surrogatepass"))
    assert_soap_envelope(status, answer)


@SOME
@given(case=envelopes(), media=st.sampled_from(["multipart/related", "multipart/form-data", "multipart/mixed",
                                               "Multipart/Related"]),
       params=st.sampled_from(["", "; boundary=b", '; boundary="b"; type="application/xop+xml"; start="<root>"',
                               "; boundary=b; charset=utf-8", '; type="text/xml"', "; boundary="]),
       content_id=st.booleans(), part_type=st.sampled_from(["text/xml", 'application/xop+xml; type="text/xml"', ""]))
def test_multipart_bodies_get_soap(fuzz_app: Any, case: tuple[str, bytes], media: str, params: str,
                                   content_id: bool, part_type: str) -> None:
    headers = (f"Content-Type: {part_type}\r\n" if part_type else "") + ("Content-ID: <root>\r\n" if content_id else "")
    body = b"--b\r\n" + headers.encode() + b"\r\n" + case[1] + b"\r\n--b--\r\n"
    status, answer = fuzz_app(body, CONTENT_TYPE=media + params)
    assert_soap_envelope(status, answer)


_BODY_PARTS = st.sampled_from([
    "", " ", "text", "<!-- a comment -->", "<![CDATA[<b:CLN_USR_GET/>]]>", "<?pi x?>", "&amp;", "&#x41;",
    '<s:Fault><faultcode>s:Client</faultcode><faultstring>x</faultstring></s:Fault>', "<b:NOPE/>",
    '<x:CLN_USR_GET xmlns:x="urn:other"/>', "<CLN_USR_GET/>", "<b:CLN_USR_GET><b:SELECT_ID>101</b:SELECT_ID></b:CLN_USR_GET>",
    "<b:CLN_HOME_LIST><b:P_ID>5</b:P_ID></b:CLN_HOME_LIST>", f'<s:Envelope xmlns:s="{ENV}"><s:Body/></s:Envelope>',
    "<s:Header/>", "<s:Body/>", "<b:CLN_USR_GET>" + "<b:x>" * 40 + "</b:x>" * 40 + "</b:CLN_USR_GET>",
])
_OUTSIDE = st.sampled_from(["", "", "<s:Header/>", '<s:Header><h:H xmlns:h="urn:h" s:mustUnderstand="1"/></s:Header>',
                            "<b:Extra/>", "text"])


@SOME
@given(parts=st.lists(_BODY_PARTS, max_size=4), before=_OUTSIDE, after=_OUTSIDE,
       namespace=st.sampled_from([ENV] * 4 + ["http://www.w3.org/2003/05/soap-envelope", "urn:other", ""]))
def test_odd_body_contents_get_soap(fuzz_app: Any, parts: list[str], before: str, after: str, namespace: str) -> None:
    body = (f'<s:Envelope xmlns:s="{namespace}" xmlns:b="{TNS}">{before}<s:Body>{"".join(parts)}</s:Body>'
            f"{after}</s:Envelope>")
    status, answer = fuzz_app(body.encode())
    assert_soap_envelope(status, answer)


# -- the billing reply decoder ---------------------------------------------------------------------

PATTERNS = [re.compile(p) for p in DEFAULT_SESSION_EXPIRED_PATTERNS]
FORMAT = WireFormat()


def decode_or_gateway_error(procedure: str, body: bytes, charset: str | None = None) -> None:
    try:
        rows = codec.decode_reply(CATALOGUE[procedure], body, http_charset=charset, fmt=FORMAT,
                                  expired_patterns=PATTERNS)
    except GatewayError:
        return
    assert all(isinstance(row, codec.Row) for row in rows)


@st.composite
def billing_replies(draw: Any) -> tuple[str, bytes, str | None]:
    seed = draw(st.sampled_from(REPLIES))
    procedure = seed.name.split(".")[0]
    return procedure, draw(mutations(seed.read_bytes())), draw(st.sampled_from([None, "utf-8", "windows-1251",
                                                                                 "koi8-r", "bogus"]))


@st.composite
def generated_replies(draw: Any) -> tuple[str, bytes]:
    procedure = draw(st.sampled_from(OPERATIONS))
    columns = [c.name.lower() for c in CATALOGUE[procedure].columns] + ["error", "extra", "row"]
    rows = draw(st.lists(st.lists(st.tuples(st.sampled_from(columns), _TEXT), max_size=6), max_size=4))
    body = "<result>" + "".join("<row>" + "".join(f"<{c}>{_xml_text(v)}</{c}>" for c, v in row) + "</row>"
                                for row in rows) + "</result>"
    encoding = draw(st.sampled_from(["utf-8", "windows-1251"]))
    return procedure, f'<?xml version="1.0" encoding="{encoding}"?>{body}'.encode(encoding, "replace")


@FUZZ
@given(case=billing_replies())
def test_mutated_billing_replies_decode_or_fail_cleanly(case: tuple[str, bytes, str | None]) -> None:
    decode_or_gateway_error(case[0], case[1], case[2])


@FUZZ
@given(case=generated_replies())
def test_generated_billing_replies_decode_or_fail_cleanly(case: tuple[str, bytes]) -> None:
    decode_or_gateway_error(*case)


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(body=st.binary(max_size=1000), procedure=st.sampled_from(OPERATIONS))
def test_random_bytes_as_a_billing_reply(body: bytes, procedure: str) -> None:
    decode_or_gateway_error(procedure, body)
