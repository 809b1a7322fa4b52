"""Shared fixtures: certificates, the billing emulator over mutual TLS, the gateway, zeep.

Certificates are generated per session (committed ones expire).  The billing
is reached by IP while its certificate names a fictional domain, and
REQUESTS_CA_BUNDLE points at a bundle without our CA, as on a real machine.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import certifi
import pytest

from serving import gateway_in_thread
from probe import CASHIER_PFX_PASSWORD
from soap_gateway.backend import BillingClient
from soap_gateway.certs import create_demo_pki
from soap_gateway.config import BillingSettings, JournalSettings, ServerSettings, Settings
from soap_gateway.devserver import BackgroundServer
from soap_gateway.emulator import Emulator
from soap_gateway.security.settings import AuthSettings
from postgres_server import postgres  # noqa: F401  (the PostgreSQL fixture of the journal tests)

BILLING_DOMAIN = "billing.test"
ADMIN = ("Administrator", "servicemode")
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="session", autouse=True)
def state_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A gateway started without journal.path keeps its journal here, not in the tester's home."""
    saved = {name: os.environ.pop(name, None) for name in ("STATE_DIRECTORY", "XDG_STATE_HOME")}
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
    yield
    for name, value in saved.items():
        os.environ.pop(name, None)
        if value is not None:
            os.environ[name] = value


@pytest.fixture(scope="session", autouse=True)
def hostile_ca_bundle() -> Iterator[None]:
    """requests would silently use this bundle; the gateway must not."""
    previous = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = certifi.where()
    yield
    if previous is None:
        os.environ.pop("REQUESTS_CA_BUNDLE", None)
    else:
        os.environ["REQUESTS_CA_BUNDLE"] = previous


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return create_demo_pki(tmp_path_factory.mktemp("pki"), domain=BILLING_DOMAIN,
                           cashiers=(("cashier1", ""), ("cashier2", CASHIER_PFX_PASSWORD)))


@pytest.fixture(scope="session")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An unrelated CA with a server certificate for the billing's name and a cashier of its own ("intruder")."""
    return create_demo_pki(tmp_path_factory.mktemp("other-ca"), domain=BILLING_DOMAIN, cashiers=(("intruder", ""),))


@pytest.fixture(scope="session")
def emulator(pki: Any) -> Iterator[Emulator]:
    emu = Emulator(str(pki.server_cert), str(pki.server_key), str(pki.client_ca),
                   accounts={"kassir1": "pass1", "kassir2": "pass2"})
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture(autouse=True)
def _clean_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "emulator" in request.fixturenames:
        request.getfixturevalue("emulator").clear_faults()


@pytest.fixture(scope="session")
def billing_settings(pki: Any, emulator: Emulator) -> BillingSettings:
    return BillingSettings(
        url=f"https://127.0.0.1:{emulator.port}/api.php",
        cert=str(pki.clients["cashier1"]), ca=str(pki.ca_cert), server_name=BILLING_DOMAIN,
        login=ADMIN[0], password=ADMIN[1], read_timeout=5.0, connect_timeout=2.0,
    )


@pytest.fixture
def make_client(billing_settings: BillingSettings) -> Iterator[Any]:
    """Build a BillingClient with setting overrides; closed after the test."""
    clients: list[BillingClient] = []

    def make(**overrides: Any) -> BillingClient:
        client = BillingClient.from_settings(dataclasses.replace(billing_settings, **overrides))
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Any) -> BillingClient:
    return make_client()


@pytest.fixture(scope="session")
def gateway_settings(billing_settings: BillingSettings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # No background resolver: its lookups would land in tests that count the billing's requests;
    # the tests of the resolver turn it on for their own gateway.
    journal = JournalSettings(path=str(tmp_path_factory.mktemp("journal") / "journal.sqlite3"), resolver_seconds=0)
    # readyz_details: the health tests read each check's detail; tests/test_readyz_anonymity.py the default.
    return Settings(billing=billing_settings, server=ServerSettings(listen="127.0.0.1:0"), journal=journal,
                    auth=AuthSettings(readyz_details=True))


@pytest.fixture(scope="session")
def gateway_server(gateway_settings: Settings) -> Iterator[BackgroundServer]:
    """The gateway as a real HTTP server, its WSDL naming the port it listens on."""
    with gateway_in_thread(gateway_settings) as server:
        yield server


@pytest.fixture(scope="session")
def zeep_client(gateway_server: BackgroundServer) -> Any:
    import zeep
    from zeep.plugins import HistoryPlugin

    history = HistoryPlugin()
    client = zeep.Client(f"{gateway_server.url}/soap?wsdl", plugins=[history],
                         settings=zeep.Settings(strict=True, force_https=False))
    client.history = history  # type: ignore[attr-defined]
    return client


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def require_tool(name: str) -> str:
    """The path of an external tool; on CI a missing tool fails instead of skipping."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")  # nginx lives in sbin
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed; scripts/test.sh should have installed it")
        pytest.skip(f"{name} is not installed")
    return path


@pytest.fixture(scope="session")
def tool() -> Any:
    """``require_tool`` for test modules: they cannot import conftest by name (tests/emulator has its own)."""
    return require_tool
