"""The WSDL as a contract: committed file in sync, schemas load elsewhere, address fixed."""

from __future__ import annotations

from pathlib import Path

import requests
import xmlschema
from lxml import etree

from soap_gateway.catalogue import load_catalogue
from soap_gateway.config import ServerSettings, Settings
from soap_gateway.soap import build_wsdl

WSDL_FILE = Path(__file__).parent.parent / "wsdl" / "billing.wsdl"
NS = {"wsdl": "http://schemas.xmlsoap.org/wsdl/", "xs": "http://www.w3.org/2001/XMLSchema",
      "soap": "http://schemas.xmlsoap.org/wsdl/soap/"}


def test_committed_wsdl_matches_the_code() -> None:
    generated = build_wsdl(Settings())
    assert generated == WSDL_FILE.read_bytes(), (
        "wsdl/billing.wsdl drifted from the catalogue; regenerate it with "
        "`soap-gateway wsdl --out wsdl/billing.wsdl` and review the diff as a contract change")


def test_one_operation_per_procedure_with_parameters_parts() -> None:
    root = etree.fromstring(WSDL_FILE.read_bytes())
    operations = root.xpath("wsdl:portType/wsdl:operation/@name", namespaces=NS)
    gateway_own = ["GatewayPostPayments", "GatewayReconcile"]  # the gateway's own operations (docs/accounting.md)
    assert sorted(operations) == sorted([*load_catalogue(), *gateway_own])
    parts = root.xpath("wsdl:message/wsdl:part", namespaces=NS)
    body_parts = [p for p in parts if p.get("name") != "BillingSession"]
    assert body_parts and all(p.get("name") == "parameters" for p in body_parts)
    assert not root.xpath("//@parameterOrder")


def test_schema_loads_in_an_independent_processor() -> None:
    root = etree.fromstring(WSDL_FILE.read_bytes())
    (schema_element,) = root.xpath("wsdl:types/xs:schema", namespaces=NS)
    schema = xmlschema.XMLSchema10(etree.tostring(schema_element).decode())
    fin_oper_add = schema.elements["CLN_FIN_OPER_ADD"].type
    names = [child.local_name for child in fin_oper_add.content.iter_elements()]
    assert names == ["USER_ID", "OP_DATE", "SUMMA", "DESCR", "NUMBER", "IDEMPOTENCY_KEY"]
    summa = next(e for e in fin_oper_add.content.iter_elements() if e.local_name == "SUMMA").type
    assert summa.is_decimal()
    summa.validate("100.50")
    for bad in ("100.505", "1E+2"):
        assert not summa.is_valid(bad), bad


def test_no_unbounded_integers_and_explicit_occurrence() -> None:
    text = WSDL_FILE.read_text(encoding="utf-8")
    assert 'type="xs:integer"' not in text and "base=\"xs:integer\"" not in text
    root = etree.fromstring(text.encode())
    request = root.xpath("//xs:complexType[@name='CLN_FIN_OPER_ADD']//xs:element", namespaces=NS)
    required = {e.get("name") for e in request if e.get("minOccurs") is None and e.get("nillable") is None}
    optional = {e.get("name") for e in request if e.get("minOccurs") == "0" and e.get("nillable") == "true"}
    assert required == {"USER_ID", "OP_DATE", "SUMMA"} and optional == {"DESCR", "NUMBER", "IDEMPOTENCY_KEY"}


def test_russian_and_english_documentation_is_published() -> None:
    text = WSDL_FILE.read_text(encoding="utf-8")
    assert "Используется для внесения средств на баланс." in text
    assert "Posts a payment (income) to a subscriber's balance." in text
    assert "операция: 2 удаление, 1 добавление, 0 изменение" in text


def test_public_url_is_the_soap_address() -> None:
    settings = Settings(server=ServerSettings(public_url="https://gw.isp.example/soap"))
    root = etree.fromstring(build_wsdl(settings))
    assert root.xpath("//soap:address/@location", namespaces=NS) == ["https://gw.isp.example/soap"]


def test_forged_host_header_does_not_change_the_address(gateway_server) -> None:
    url = f"{gateway_server.url}/soap?wsdl"
    forged = requests.get(url, headers={"Host": "evil.example"}, timeout=10)
    normal = requests.get(url, timeout=10)
    assert forged.status_code == normal.status_code == 200
    assert forged.content == normal.content
    location = etree.fromstring(forged.content).xpath("//soap:address/@location", namespaces=NS)
    assert location == [f"{gateway_server.url}/soap"]
