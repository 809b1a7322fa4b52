"""Helpers of the money-safety tests: a gateway with its own timeouts and journal, zeep, counts."""

from __future__ import annotations

import dataclasses
import json
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
import zeep
from lxml import etree

from serving import gateway_in_thread
from soap_gateway.config import JournalSettings, Settings
from soap_gateway.core import Gateway
from soap_gateway.devserver import BackgroundServer

NS = {"gw": "urn:soap-gateway:billing"}
ROOT = Path(__file__).parent.parent


@dataclasses.dataclass
class RunningGateway:
    server: BackgroundServer
    gateway: Gateway
    service: Any  # zeep's service proxy
    client: Any  # the zeep client

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def journal(self) -> Any:
        return self.gateway.journal


@contextmanager
def running_gateway(base: Settings, journal: JournalSettings, **billing: Any) -> Iterator[RunningGateway]:
    """A gateway on a free port with ``billing`` overrides (timeouts, breaker) and its own journal."""
    settings = dataclasses.replace(base, billing=dataclasses.replace(base.billing, **billing), journal=journal)
    with gateway_in_thread(settings) as server:
        client = zeep.Client(f"{server.url}/soap?wsdl", settings=zeep.Settings(strict=True, force_https=False))
        yield RunningGateway(server, server.app.gateway, client.service, client)  # type: ignore[attr-defined]


def new_key() -> str:
    return str(uuid.uuid4())


def fault_of(call: Any) -> zeep.exceptions.Fault:
    with pytest.raises(zeep.exceptions.Fault) as caught:
        call()
    return caught.value


def detail_code(fault: zeep.exceptions.Fault) -> str:
    return str(fault.detail.findtext("gw:GatewayFault/gw:code", namespaces=NS))


def fault_xml(fault: zeep.exceptions.Fault) -> str:
    return etree.tostring(fault.detail, encoding="unicode")


def calls(emulator: Any, proc: str) -> int:
    """How many requests for ``proc`` the billing has received."""
    return int(emulator.stats()["calls"].get(proc, 0))


def commits(emulator: Any) -> int:
    return int(emulator.stats()["commits"])


def marked(journal: Any, emulator: Any, user: int, key: str) -> list[dict[str, Any]]:
    """The subscriber's operations that carry the reconciliation marker ``journal`` holds for ``key``."""
    marker = journal.entry(key).marker
    return [op for op in emulator.fin_opers(user) if marker in (op["DESCR"] or "")]


def journal_path(tmp: Path) -> JournalSettings:
    return JournalSettings(path=str(tmp / "journal.sqlite3"), resolver_seconds=0)  # tests/test_payment_lookup.py: on


def write_config(path: Path, settings: Settings, *, listen: str, journal: dict[str, Any],
                 server: dict[str, Any] | None = None, billing: dict[str, Any] | None = None) -> Path:
    """A TOML file for an out-of-process gateway wired to the test emulator."""
    b = settings.billing
    sections = {
        "billing": {"url": b.url, "cert": b.cert, "ca": b.ca, "server_name": b.server_name, "login": b.login,
                    "password": b.password, "connect_timeout": b.connect_timeout, "read_timeout": b.read_timeout,
                    **(billing or {})},
        "server": {"listen": listen, **(server or {})},
        "journal": journal,
        "auth": {"mode": "none"},  # serve refuses to start without a decision; these tests are about money
    }
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in values.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


