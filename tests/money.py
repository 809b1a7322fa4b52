"""Helpers of the money-safety tests: a gateway with its own timeouts and journal, zeep, counts."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from typing import Any, Iterator
from contextlib import contextmanager

import pytest
import zeep
from lxml import etree

from soap_gateway.config import JournalSettings, Settings
from soap_gateway.core import Gateway
from soap_gateway.devserver import BackgroundServer
from soap_gateway.soap import create_app

NS = {"gw": "urn:soap-gateway:billing"}


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
    server = BackgroundServer(None)
    settings = dataclasses.replace(
        base, billing=dataclasses.replace(base.billing, **billing), journal=journal,
        server=dataclasses.replace(base.server, listen=f"127.0.0.1:{server.port}"))
    gateway = Gateway.from_settings(settings)
    server.set_app(create_app(settings, gateway))
    with server:
        client = zeep.Client(f"{server.url}/soap?wsdl", settings=zeep.Settings(strict=True, force_https=False))
        try:
            yield RunningGateway(server, gateway, client.service, client)
        finally:
            gateway.close()


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


def marked(emulator: Any, user: int, key: str) -> list[dict[str, Any]]:
    """The subscriber's operations that carry ``key``'s reconciliation marker."""
    from soap_gateway.journal.marker import marker_for

    return [op for op in emulator.fin_opers(user) if marker_for(key) in (op["DESCR"] or "")]


def journal_path(tmp: Path) -> JournalSettings:
    return JournalSettings(path=str(tmp / "journal.sqlite3"), settle_seconds=3.0)
