"""The REST reference page: served by the gateway from a Python package, rendered by headless Chromium
with nothing fetched from outside, linked from the help page."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import html

OPERATIONS_SHOWN = ("/CLN_USR_GET", "/CLN_FIN_OPER_ADD", "/CLN_FIN_OPER")


@pytest.fixture(scope="module")
def browser(tool: Any) -> str:
    return tool("chromium")


def chromium(browser: str, url: str, tmp_path: Path, *args: str) -> str:
    """Headless Chromium with time for the page's scripts to fetch the document and render it."""
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--virtual-time-budget=15000", f"--user-data-dir={tmp_path / 'chromium-profile'}", *args, url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_page_and_its_assets_come_from_the_gateway(gateway_server: Any) -> None:
    page = requests.get(f"{gateway_server.url}/api/docs", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
    dom = html.fromstring(page.content)
    assets = dom.xpath("//script/@src | //link/@href")
    assert assets and all(a.startswith("/api/docs/") for a in assets), assets  # no CDN
    for asset in assets:
        assert requests.get(f"{gateway_server.url}{asset}", timeout=10).status_code == 200


def test_chromium_renders_every_operation(gateway_server: Any, browser: str, tmp_path: Path) -> None:
    dom = html.fromstring(chromium(browser, f"{gateway_server.url}/api/docs", tmp_path, "--dump-dom"))
    paths = {p.strip() for p in dom.xpath("//*[contains(@class, 'opblock-summary-path')]//text()") if p.strip()}
    catalogue = gateway_server.app.gateway.catalogue
    assert {f"/{name}" for name in catalogue} <= {p.replace("\u200b", "") for p in paths}, paths
    assert "BillingGateway REST API" in dom.text_content()


def test_screenshot_artifact(gateway_server: Any, browser: str, tmp_path: Path, artifacts: Path) -> None:
    target = artifacts / "rest-reference.png"
    target.unlink(missing_ok=True)
    chromium(browser, f"{gateway_server.url}/api/docs", tmp_path, f"--screenshot={target}",
             "--window-size=1280,2000", "--hide-scrollbars")
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and target.stat().st_size > 20_000


def test_the_help_page_links_to_it(gateway_server: Any) -> None:
    dom = html.fromstring(requests.get(f"{gateway_server.url}/", timeout=10).content)
    for link in ("rest-link", "openapi-link"):
        (href,) = dom.xpath(f"//a[@id='{link}']/@href")
        assert requests.get(f"{gateway_server.url}/{href}", timeout=10).status_code == 200
