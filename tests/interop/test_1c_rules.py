"""The WSDL against every rule 1C:Enterprise 8.3 needs (SOAP-INTEROP §2 and §7), since no 1C runs here.

1C imports the WSDL once into a static WS-ссылка (or reads it with
WSОпределения) and maps its schema to XDTO: what it cannot map, it cannot
call. The committed wsdl/billing.wsdl is what an integrator imports, so the
static rules read that file; the wire rules ask the running gateway.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree

from envelopes import HEADERS, envelope
from soap_gateway.catalogue import load_catalogue

WSDL_FILE = Path(__file__).parent.parent.parent / "wsdl" / "billing.wsdl"
XS = "http://www.w3.org/2001/XMLSchema"
SOAPENC = "http://schemas.xmlsoap.org/soap/encoding/"
NS = {"wsdl": "http://schemas.xmlsoap.org/wsdl/", "xs": XS, "soap": "http://schemas.xmlsoap.org/wsdl/soap/",
      "env": "http://schemas.xmlsoap.org/soap/envelope/", "gw": "urn:soap-gateway:billing"}
# The XML Schema types XDTO maps to 1C's own: Строка, Число, Дата, Булево.
XDTO_PRIMITIVES = {"string", "int", "long", "short", "decimal", "dateTime", "date", "boolean"}
QNAME_ATTRIBUTES = ("type", "base", "ref", "element", "message", "binding")


@pytest.fixture(scope="module")
def wsdl() -> etree._Element:
    return etree.fromstring(WSDL_FILE.read_bytes())


@pytest.fixture(scope="module")
def schema(wsdl: etree._Element) -> etree._Element:
    (schema,) = wsdl.xpath("wsdl:types/xs:schema", namespaces=NS)
    return schema


def qname(element: etree._Element, attribute: str) -> etree.QName:
    prefix, _, local = element.get(attribute).rpartition(":")
    return etree.QName(element.nsmap[prefix or None], local)


def operations(wsdl: etree._Element) -> list[str]:
    return wsdl.xpath("wsdl:portType/wsdl:operation/@name", namespaces=NS)


def test_document_literal_only(wsdl: etree._Element) -> None:
    """rpc/encoded is what 1C (and WCF) import badly; document/literal is all we publish."""
    (binding,) = wsdl.xpath("wsdl:binding/soap:binding", namespaces=NS)
    assert binding.get("style") == "document"
    assert binding.get("transport") == "http://schemas.xmlsoap.org/soap/http"
    assert set(wsdl.xpath("wsdl:binding/wsdl:operation/soap:operation/@style", namespaces=NS)) <= {"document"}
    uses = wsdl.xpath("wsdl:binding/wsdl:operation/*/soap:body/@use | wsdl:binding/wsdl:operation/*/soap:header/@use",
                      namespaces=NS)
    assert uses and set(uses) == {"literal"}
    assert not wsdl.xpath("//@encodingStyle | //soap:body/@namespace", namespaces=NS)


def test_no_soap_encoding_anywhere(wsdl: etree._Element) -> None:
    """No soapenc:Array, arrayType or any type from the SOAP encoding namespace."""
    used = [f"{e.tag} {a}={e.get(a)}" for e in wsdl.iter(etree.Element) for a in QNAME_ATTRIBUTES
            if e.get(a) and qname(e, a).namespace == SOAPENC]
    assert not used
    assert not [e for e in wsdl.iter(etree.Element) if etree.QName(e).namespace == SOAPENC]
    assert "arrayType" not in WSDL_FILE.read_text(encoding="utf-8")


def test_wrapped_operations_with_parameters_parts(wsdl: etree._Element, schema: etree._Element) -> None:
    """Each message has one part `parameters`: the element named as the operation (or …Response),
    a sequence of elements only. 1C then shows the operation's arguments as its parameters."""
    elements = {e.get("name"): e for e in schema.xpath("xs:element", namespaces=NS)}
    types = {t.get("name"): t for t in schema.xpath("xs:complexType", namespaces=NS)}
    for op in operations(wsdl):
        for direction, element_name in (("input", op), ("output", f"{op}Response")):
            (message_ref,) = wsdl.xpath(f"wsdl:portType/wsdl:operation[@name='{op}']/wsdl:{direction}/@message",
                                        namespaces=NS)
            (message,) = wsdl.xpath(f"wsdl:message[@name='{message_ref.split(':')[1]}']", namespaces=NS)
            parts = message.xpath("wsdl:part", namespaces=NS)
            assert [p.get("name") for p in parts] == ["parameters"], op
            assert qname(parts[0], "element").localname == element_name
            wrapper = types[qname(elements[element_name], "type").localname]
            assert [etree.QName(c).localname for c in wrapper] == ["sequence"], element_name
            assert all(etree.QName(c).localname == "element" for c in wrapper[0]), element_name


def test_self_contained_schema(wsdl: etree._Element) -> None:
    """1C never fetches an external XSD: no wsdl:import, no xs:import/xs:include with a schemaLocation,
    and every type, element and message referenced is defined in this one document."""
    assert not wsdl.xpath("//wsdl:import | //xs:include | //xs:redefine | //@schemaLocation", namespaces=NS)
    assert wsdl.xpath("wsdl:types/xs:schema/@targetNamespace", namespaces=NS) == [NS["gw"]]
    defined = {(NS["gw"], n) for n in wsdl.xpath("//xs:schema/xs:*/@name | /wsdl:definitions/wsdl:*/@name",
                                                 namespaces=NS)}
    for element in wsdl.iter(etree.Element):
        for attribute in QNAME_ATTRIBUTES:
            if element.get(attribute):
                name = qname(element, attribute)
                assert name.namespace == XS or (name.namespace, name.localname) in defined, name


def test_only_types_xdto_maps_to_1c_values(schema: etree._Element) -> None:
    """Строка, Число, Дата, Булево: no xs:integer (unbounded), float/double (money), duration, any, QName…"""
    used = Counter(qname(e, a).localname for e in schema.iter(etree.Element) for a in ("type", "base")
                   if e.get(a) and qname(e, a).namespace == XS)
    assert set(used) <= XDTO_PRIMITIVES, set(used) - XDTO_PRIMITIVES
    assert not schema.xpath(".//xs:any | .//xs:anyAttribute | .//xs:attribute | .//xs:choice | .//xs:all",
                            namespaces=NS)


def test_money_is_decimal_and_timestamps_are_datetime(schema: etree._Element) -> None:
    """Every money column and argument of the catalogue is an xs:decimal with two fraction digits
    (1C's Число, exact), every TIMESTAMP an xs:dateTime (Дата), named exactly as the vendor does."""
    simple = {t.get("name"): t for t in schema.xpath("xs:simpleType", namespaces=NS)}
    types = {t.get("name"): t for t in schema.xpath("xs:complexType", namespaces=NS)}
    checked = 0
    for proc in load_catalogue().values():
        row = {"rows": "Row", "row": "Result"}.get(proc.result, "Status")
        fields = [(proc.name, a) for a in proc.params] + [(f"{proc.name}_{row}", c) for c in proc.columns]
        for type_name, field in fields:
            (element,) = types[type_name].xpath(f"xs:sequence/xs:element[@name='{field.name}']", namespaces=NS)
            declared = qname(element, "type")
            if field.type.kind == "decimal":
                restriction = simple[declared.localname][0]
                assert qname(restriction, "base").localname == "decimal", field.name
                assert restriction.xpath("xs:fractionDigits/@value", namespaces=NS) == ["2"], field.name
                checked += 1
            elif field.type.kind == "datetime":
                assert (declared.namespace, declared.localname) == (XS, "dateTime"), field.name
                checked += 1
    assert checked > 20  # SUMMA, BALANCE, OP_DATE, … really were among them


def test_arrays_are_named_wrappers_of_named_rows(schema: etree._Element) -> None:
    """A list is `ArrayOfX` holding `Row` items of a named type: an XDTO list property 1C loops over
    with Для Каждого. Never an anonymous or soapenc array."""
    arrays = schema.xpath("xs:complexType[starts-with(@name, 'ArrayOf')]", namespaces=NS)
    assert len(arrays) >= 5
    for array in arrays:
        (item,) = array.xpath("xs:sequence/xs:element", namespaces=NS)
        assert item.get("name") and item.get("maxOccurs") == "unbounded", array.get("name")
        assert qname(item, "type").namespace == NS["gw"], array.get("name")
        assert not array.xpath(".//xs:complexType", namespaces=NS)


def test_list_results_are_always_present(schema: etree._Element) -> None:
    """`<…Result/>` is sent even for no rows, so 1C's loop never meets Неопределено (rule 7)."""
    results = schema.xpath("xs:complexType[substring(@name, string-length(@name) - 7) = 'Response']"
                           "/xs:sequence/xs:element", namespaces=NS)
    assert len(results) == len(operations(etree.fromstring(WSDL_FILE.read_bytes()))) > len(load_catalogue())
    for result in results:
        assert result.get("minOccurs") in (None, "1") and result.get("nillable") in (None, "false"), result.get("name")


def test_names_are_unique(wsdl: etree._Element, schema: etree._Element) -> None:
    """One name, one thing: global elements, types, messages, operations (no overloading),
    the fields of each type; and no operation X beside an operation XResponse."""
    for path in ("xs:element/@name", "xs:complexType/@name | xs:simpleType/@name"):
        names = schema.xpath(path, namespaces=NS)
        assert [n for n, count in Counter(names).items() if count > 1] == [], path
    for path in ("wsdl:message/@name", "wsdl:portType/wsdl:operation/@name", "wsdl:binding/wsdl:operation/@name"):
        names = wsdl.xpath(path, namespaces=NS)
        assert len(names) == len(set(names)), path
    for complex_type in schema.xpath("xs:complexType", namespaces=NS):
        fields = complex_type.xpath("xs:sequence/xs:element/@name", namespaces=NS)
        assert len(fields) == len(set(fields)), complex_type.get("name")
    assert not {f"{op}Response" for op in operations(wsdl)} & set(operations(wsdl))


def test_no_anonymous_types(schema: etree._Element) -> None:
    """Every element refers to a named type, so XDTO types carry the names the WSDL shows."""
    assert not schema.xpath(".//xs:element/xs:complexType | .//xs:element/xs:simpleType", namespaces=NS)
    assert all(e.get("type") for e in schema.xpath(".//xs:element", namespaces=NS))


def test_address_and_encoding(wsdl: etree._Element) -> None:
    """An absolute http(s) soap:address (1C uses it literally) and a UTF-8 document (Cyrillic docs)."""
    (address,) = wsdl.xpath("//soap:address/@location", namespaces=NS)
    assert re.fullmatch(r"https?://[^/]+/\S*", address)
    assert WSDL_FILE.read_bytes().startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


def _post(gateway_server: Any, body: str) -> etree._Element:
    response = requests.post(f"{gateway_server.url}/soap", data=envelope(body).encode(), timeout=30,
                             headers=HEADERS)
    assert response.headers["Content-Type"].startswith("text/xml")
    return etree.fromstring(response.content)


def test_wire_values_1c_reads_as_number_and_date(gateway_server: Any) -> None:
    """Число from fixed-point text (never 1E+2); Дата from a dateTime without offset or fraction."""
    reply = _post(gateway_server, "<b:CLN_USR_GET><b:SELECT_ID>101</b:SELECT_ID></b:CLN_USR_GET>")
    assert re.fullmatch(r"-?\d+\.\d\d", reply.findtext(".//gw:BALANCE", namespaces=NS))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", reply.findtext(".//gw:NEXT_AUTO_ACOUNT", namespaces=NS))


def test_fault_text_is_what_1c_shows(gateway_server: Any) -> None:
    """ОписаниеОшибки() shows only the faultstring: it starts with the stable code and says in Russian what
    is wrong; the body is a SOAP fault in text/xml (a 1C exception), never an HTML page."""
    reply = _post(gateway_server, "<b:CLN_FIN_OPER_ADD><b:USER_ID>101</b:USER_ID>"
                                  "<b:OP_DATE>2025-03-14T09:30:00</b:OP_DATE><b:SUMMA>1.00</b:SUMMA>"
                                  "<b:NUMBER>12345678901</b:NUMBER></b:CLN_FIN_OPER_ADD>")
    text = reply.findtext(".//env:Fault/faultstring", namespaces=NS)
    assert text.startswith("[VALIDATION_ERROR] ") and re.search("[А-Яа-я]{4,}", text) and "NUMBER" in text
