"""The page for humans at GET /: rendered by headless Chromium, every operation listed, samples that validate."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree, html


NS = {"wsdl": "http://schemas.xmlsoap.org/wsdl/", "xs": "http://www.w3.org/2001/XMLSchema"}
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


@pytest.fixture(scope="module")
def browser(tool: Any) -> str:
    return tool("chromium")


def chromium(browser: str, url: str, tmp_path: Path, *args: str) -> str:
    """Run Debian's chromium headless on ``url``; returns what it printed."""
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp_path / 'chromium-profile'}", *args, url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def page(gateway_server: Any) -> bytes:
    response = requests.get(f"{gateway_server.url}/", timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/html; charset=utf-8"
    return response.content


@pytest.mark.parametrize("lang, heading", [("ru", "Операции"), ("en", "Operations")])
def test_chromium_renders_every_operation(gateway_server: Any, browser: str, tmp_path: Path, lang: str,
                                         heading: str) -> None:
    dom = html.fromstring(chromium(browser, f"{gateway_server.url}/?lang={lang}", tmp_path, "--dump-dom"))
    catalogue = gateway_server.app.gateway.catalogue
    listed = dom.xpath("//section[@data-operation]/@data-operation")
    assert sorted(listed) == sorted(catalogue) and len(catalogue) >= 11
    assert heading in dom.text_content() and dom.get("lang") == lang
    for name, proc in catalogue.items():
        (section,) = dom.xpath(f"//section[@id='{name}']")
        text = section.text_content()
        assert proc.doc_ru in text and proc.doc_en in text  # both languages' descriptions, on both pages
        rows = section.xpath(".//table[@class='params']//tr[td]")
        key = ["IDEMPOTENCY_KEY"] if proc.idempotent else []  # docs/money-safety.md
        assert [r.findtext("td") for r in rows] == [a.name for a in proc.params] + key
        assert section.xpath(".//pre[@class='sample']")


def test_screenshot_artifact(gateway_server: Any, browser: str, tmp_path: Path, artifacts: Path) -> None:
    target = artifacts / "help-page.png"
    target.unlink(missing_ok=True)
    chromium(browser, f"{gateway_server.url}/", tmp_path, f"--screenshot={target}", "--window-size=1280,2400",
             "--hide-scrollbars")
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and target.stat().st_size > 20_000


def test_parameters_show_type_length_and_required(page: bytes) -> None:
    dom = html.fromstring(page)

    def row(operation: str, name: str) -> list[str]:
        (tr,) = dom.xpath(f"//section[@id='{operation}']//table[@class='params']//tr[td[1]='{name}']")
        return [td.text_content().strip() for td in tr.findall("td")]

    # 255 less the room of the gateway's reconciliation marker (docs/money-safety.md)
    assert row("CLN_FIN_OPER_ADD", "DESCR")[:5] == ["DESCR", "xs:string", "233", "нет", "VARCHAR(255)"]
    assert row("CLN_FIN_OPER_ADD", "IDEMPOTENCY_KEY")[:4] == ["IDEMPOTENCY_KEY", "xs:string", "64", "нет"]
    assert row("CLN_FIN_OPER_ADD", "USER_ID")[:5] == ["USER_ID", "xs:int", "", "да", "INTEGER"]
    assert row("CLN_FIN_OPER_ADD", "SUMMA")[1] == "xs:decimal"
    (reply,) = dom.xpath("//section[@id='CLN_FIN_OPER']//code[@class='reply-type']/text()")
    assert reply == "ArrayOfCLN_FIN_OPER_Row"


def test_links_to_the_wsdl(gateway_server: Any, page: bytes) -> None:
    dom = html.fromstring(page)
    (href,) = dom.xpath("//a[@id='wsdl-link']/@href")
    wsdl = requests.get(requests.compat.urljoin(f"{gateway_server.url}/", href), timeout=10)
    assert wsdl.status_code == 200 and wsdl.content == gateway_server.app.by_name["soap"].wsdl
    assert f"{gateway_server.url}/soap?wsdl" in dom.text_content()


@pytest.fixture(scope="module")
def request_schema(gateway_server: Any) -> etree.XMLSchema:
    (schema,) = etree.fromstring(gateway_server.app.by_name["soap"].wsdl).xpath("wsdl:types/xs:schema", namespaces=NS)
    return etree.XMLSchema(etree.fromstring(etree.tostring(schema)))


@pytest.mark.parametrize("uncomment", [False, True], ids=["as-shown", "all-optional-filled"])
def test_every_sample_envelope_is_valid(page: bytes, request_schema: etree.XMLSchema, uncomment: bool) -> None:
    samples = html.fromstring(page).xpath("//section[@data-operation]")
    for section in samples:
        text = section.xpath(".//pre[@class='sample']")[0].text_content()
        if uncomment:
            text = re.sub(r"<!--optional: (.*?) -->", r"\1", text)
        body = etree.fromstring(text.encode("utf-8")).find(f"{{{SOAP_ENV}}}Body")[0]
        assert etree.QName(body).localname == section.get("data-operation")
        request_schema.assertValid(body)


def test_a_sample_works_as_is(gateway_server: Any, page: bytes) -> None:
    (pre,) = html.fromstring(page).xpath("//section[@id='CLN_USR_GET']//pre[@class='sample']")
    answer = requests.post(f"{gateway_server.url}/soap", data=pre.text_content().encode("utf-8"),
                           headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=10)
    # the sample asks for subscriber 1: the billing answers (an error for an unknown id is a real answer too)
    assert answer.status_code in (200, 500) and b"Envelope" in answer.content
    assert b"ValidationError" not in answer.content
