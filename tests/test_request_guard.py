"""The request guard over HTTP: one decoding of the bytes, the envelope's shape, the XML limits.

Each body is sent to the gateway as a real HTTP server in front of the
emulator; what must hold is the fault that comes back (always a SOAP 1.1
envelope whose faultstring starts with its [CODE]) and, for payments, what
the billing did or did not post.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
import requests
from lxml import etree

from envelopes import ENV, TNS, envelope

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
XML = "text/xml; charset=utf-8"
HOME_LIST = "<b:CLN_HOME_LIST><b:P_ID>5</b:P_ID></b:CLN_HOME_LIST>"


def payment(descr: str) -> str:
    return (f"<b:CLN_FIN_OPER_ADD><b:USER_ID>101</b:USER_ID><b:OP_DATE>2024-05-06T07:08:09</b:OP_DATE>"
            f"<b:SUMMA>1.00</b:SUMMA><b:DESCR>{descr}</b:DESCR></b:CLN_FIN_OPER_ADD>")


def post(server: Any, body: bytes, content_type: str | None = XML) -> requests.Response:
    headers = {"Content-Type": content_type} if content_type is not None else {}
    return requests.post(f"{server.url}/soap", data=body, headers=headers, timeout=30)


def fault(response: requests.Response) -> tuple[str, str]:
    """(faultcode without prefix, faultstring) of a SOAP 1.1 fault, checked to carry its [CODE]."""
    assert response.status_code == 500, response.text[:300]
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{ENV}}}Envelope"
    node = root.find(f"{{{ENV}}}Body/{{{ENV}}}Fault")
    assert node is not None, response.text[:300]
    faultstring = node.findtext("faultstring") or ""
    assert re.match(r"\[[A-Z_]+\] ", faultstring), faultstring
    return (node.findtext("faultcode") or "").split(":", 1)[-1], faultstring


def test_two_operations_in_one_body_are_refused_and_neither_is_posted(gateway_server: Any, emulator: Any) -> None:
    marker = uuid.uuid4().hex[:10]
    before = emulator.store.balance(101)
    response = post(gateway_server, envelope(payment(f"two-a {marker}") + payment(f"two-b {marker}")).encode())
    code, text = fault(response)
    assert code == "Client.InvalidEnvelope" and "exactly one operation" in text
    assert emulator.store.balance(101) == before
    assert not [op for op in emulator.store.fin_opers(101) if marker in (op.get("DESCR") or "")]


@pytest.mark.parametrize("inner, words", [
    ("", "no operation"),
    ('<s:Fault><faultcode>s:Client</faultcode><faultstring>x</faultstring></s:Fault>', "Fault is not a request"),
    (f"text{HOME_LIST}", "text directly inside"),
], ids=["empty-body", "fault-as-body", "text-in-body"])
def test_a_body_without_exactly_one_operation_is_a_client_fault(gateway_server: Any, inner: str, words: str) -> None:
    code, text = fault(post(gateway_server, envelope(inner).encode()))
    assert code == "Client.InvalidEnvelope" and words in text


def test_no_body_at_all_is_a_client_fault(gateway_server: Any) -> None:
    code, _ = fault(post(gateway_server, f'<s:Envelope xmlns:s="{ENV}"/>'.encode()))
    assert code == "Client.InvalidEnvelope"


def test_a_soap12_envelope_gets_a_soap11_version_mismatch(gateway_server: Any) -> None:
    body = envelope(HOME_LIST, namespace=SOAP12).encode()
    code, text = fault(post(gateway_server, body, "application/soap+xml; charset=utf-8"))
    assert code == "VersionMismatch" and "SOAP 1.1" in text


@pytest.mark.parametrize("header, understood", [
    ('<x:Security xmlns:x="urn:x" s:mustUnderstand="1"/>', False),
    ('<x:Security xmlns:x="urn:x" s:mustUnderstand="0"/>', True),
    ('<x:Routing xmlns:x="urn:x" s:mustUnderstand="1" s:actor="urn:someone-else"/>', True),
    ('<x:Note xmlns:x="urn:x">no obligation</x:Note>', True),
], ids=["must-understand", "may-ignore", "other-actor", "plain"])
def test_headers_that_must_be_understood(gateway_server: Any, header: str, understood: bool) -> None:
    response = post(gateway_server, envelope(HOME_LIST, f"<s:Header>{header}</s:Header>").encode())
    if understood:
        assert response.status_code == 200 and "Казань" in response.content.decode()
    else:
        code, text = fault(response)
        assert code == "MustUnderstand" and "Security" in text


# -- one decoding ----------------------------------------------------------------------------------

UTF7_DOCTYPE = (b'+ADw-!DOCTYPE d +AFs-+ADw-!ENTITY a +ACI-b+ACI-+AD4-+AF0-+AD4-'
                + envelope("<b:CLN_HOME_LIST><b:P_ID>&a;</b:P_ID></b:CLN_HOME_LIST>").encode())
UTF16_PARAMETER_ENTITY = ('<!DOCTYPE d [<!ENTITY % p "x"> %p;]>' + envelope(HOME_LIST)).encode("utf-16-le")


@pytest.mark.parametrize("body, content_type, expected", [
    (UTF7_DOCTYPE, "text/xml; charset=utf-7", "Client.EncodingNotSupported"),
    (envelope(HOME_LIST).encode("utf-16"), "text/xml; charset=utf-8", "Client.EncodingMismatch"),
    (('<?xml version="1.0" encoding="windows-1251"?>' + envelope(HOME_LIST)).encode("cp1251"), XML,
     "Client.EncodingMismatch"),
    (('<?xml version="1.0" encoding="ISO-8859-1"?>' + envelope(HOME_LIST)).encode("latin-1"), "text/xml",
     "Client.EncodingNotSupported"),
    (envelope(HOME_LIST).encode("utf-32"), "text/xml", "Client.EncodingNotSupported"),
    (UTF16_PARAMETER_ENTITY, "text/xml", "Client.DTDNotAllowed"),
    (UTF16_PARAMETER_ENTITY, "text/xml; charset=utf-16le", "Client.DTDNotAllowed"),
    (envelope("<b:CLN_HOME_LIST><b:P_ID>&e;</b:P_ID></b:CLN_HOME_LIST>").encode("utf-16"),
     "text/xml; charset=utf-16", "Client.XMLSyntaxError"),
    (envelope(HOME_LIST).encode() + b"\xff", XML, "Client.XMLSyntaxError"),
], ids=["utf7-doctype", "utf16-said-utf8", "1251-said-utf8", "latin1", "utf32", "utf16le-no-bom-pe",
        "utf16le-labelled-pe", "utf16-entity-reference", "invalid-utf8"])
def test_the_encoding_is_decided_once_and_refused_when_unclear(gateway_server: Any, body: bytes,
                                                             content_type: str, expected: str) -> None:
    code, _ = fault(post(gateway_server, body, content_type))
    assert code == expected


@pytest.mark.parametrize("encode, content_type", [
    (lambda text: text.encode("utf-16"), "text/xml; charset=utf-16"),
    (lambda text: ('<?xml version="1.0" encoding="UTF-16"?>' + text).encode("utf-16-le"), "text/xml"),
    (lambda text: ('<?xml version="1.0" encoding="windows-1251"?>' + text).encode("cp1251"),
     "text/xml; charset=windows-1251"),
    (lambda text: ('<?xml version="1.0" encoding="windows-1251"?>' + text).encode("cp1251"), "text/xml"),
    (lambda text: b"\xef\xbb\xbf" + text.encode(), XML),
], ids=["utf16-bom", "utf16le-declared", "1251-both", "1251-declared", "utf8-bom"])
def test_a_consistently_named_encoding_reaches_the_billing_intact(gateway_server: Any, emulator: Any,
                                                                  encode: Any, content_type: str) -> None:
    descr = f"Оплата ё {uuid.uuid4().hex[:8]}"
    response = post(gateway_server, encode(envelope(payment(descr))), content_type)
    assert response.status_code == 200, response.text[:500]
    assert [op for op in emulator.store.fin_opers(101) if descr in (op.get("DESCR") or "")]


MTOM = ('--MIME_boundary\r\nContent-Type: application/xop+xml; charset=UTF-8; type="text/xml"\r\n\r\n'
        + envelope(HOME_LIST) + "\r\n--MIME_boundary--\r\n").encode()


@pytest.mark.parametrize("content_type", [
    'multipart/related; type="application/xop+xml"; boundary=MIME_boundary; start-info="text/xml"',
    "multipart/related; boundary=MIME_boundary; charset=utf-8",
    "multipart/form-data; boundary=MIME_boundary",
], ids=["mtom-without-content-id", "multipart-with-charset", "form-data"])
def test_multipart_and_mtom_are_refused(gateway_server: Any, content_type: str) -> None:
    code, text = fault(post(gateway_server, MTOM, content_type))
    assert code == "Client.AttachmentsNotSupported" and "attachments" in text


# -- limits while streaming ------------------------------------------------------------------------

def _attributes(count: int, prefix: str = "a") -> str:
    return " ".join(f'{prefix}{i}="x"' for i in range(count))


@pytest.mark.parametrize("body, words", [
    (envelope(f"<b:CLN_HOME_LIST {_attributes(60_000)}><b:P_ID>5</b:P_ID></b:CLN_HOME_LIST>"),
     "more than 32 attributes"),
    (envelope(f"<b:CLN_HOME_LIST {_attributes(40, 'xmlns:p')}><b:P_ID>5</b:P_ID></b:CLN_HOME_LIST>"),
     "more than 32 attributes"),
    (envelope("<b:CLN_HOME_LIST>" + f"<b:P_ID {_attributes(30)}>5</b:P_ID>" * 9 + "</b:CLN_HOME_LIST>"),
     "more than 256 attributes"),
    (envelope(f"<b:CLN_USR_FIND_2><b:NAME_IN>{'x' * 70_000}</b:NAME_IN></b:CLN_USR_FIND_2>"),
     "more than 65536 characters"),
    (envelope(f"<b:CLN_HOME_LIST><b:{'P' * 300}>5</b:{'P' * 300}></b:CLN_HOME_LIST>"), "longer than 256"),
    (envelope("<b:CLN_HOME_LIST>" + "<b:P_ID>5</b:P_ID>" * 1200 + "</b:CLN_HOME_LIST>"), "more than 1000 elements"),
], ids=["60000-attributes", "namespace-declarations", "attributes-in-all", "text", "name", "elements"])
def test_limits_are_enforced_while_streaming(gateway_server: Any, body: str, words: str) -> None:
    code, text = fault(post(gateway_server, body.encode()))
    assert code == "Client.XMLLimitExceeded" and words in text


def test_an_envelope_as_dotnet_sends_it_passes(gateway_server: Any) -> None:
    """Namespace declarations on the envelope, an XML declaration and xsi attributes stay well within limits."""
    body = ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/'
            'envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/'
            f'XMLSchema"><soap:Body><CLN_HOME_LIST xmlns="{TNS}"><P_ID xsi:type="xsd:int">5</P_ID>'
            "</CLN_HOME_LIST></soap:Body></soap:Envelope>")
    response = post(gateway_server, body.encode())
    assert response.status_code == 200 and "Казань" in response.content.decode()
