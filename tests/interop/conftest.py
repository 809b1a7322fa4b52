"""Fixtures of the interop matrix: the gateway as consumers see it, and the matrix printed at the end.

The gateway runs in front of the suite's billing emulator (mutual TLS) and
requires HTTP Basic, for the WSDL too, from the scenario's cashier. The matrix
(consumer × step) is printed in the terminal summary and written to
tests/artifacts/interop-matrix.md.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from lxml import etree
from securing import auth_from_toml, secured_gateway

from soap_gateway.security.passwords import hash_password

from .consumers import Target
from .matrix import PROXY_STEP, Row, render
from .recording import Recorder

SCENARIO = Path(__file__).parent / "scenario.json"
MATRIX_FILE = Path(__file__).parent.parent / "artifacts" / "interop-matrix.md"
ROWS = pytest.StashKey[list[Row]]()
WSDL_SOAP = {"soap": "http://schemas.xmlsoap.org/wsdl/soap/"}


@pytest.fixture(scope="session")
def scenario() -> dict[str, Any]:
    return json.loads(SCENARIO.read_text(encoding="utf-8"))


# INTEROP_RECORD=1: the requests the consumers send to the fast path's gateway are recorded (recording.py).
RECORD = bool(os.environ.get("INTEROP_RECORD"))


@pytest.fixture(scope="session")
def interop_server(gateway_settings: Any, scenario: dict[str, Any],
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The gateway requiring HTTP Basic for calls and for ?wsdl, from the scenario's cashier."""
    with _interop_gateway(gateway_settings, scenario, tmp_path_factory, "fast") as server:
        if RECORD:
            server.recorder = Recorder(server.app)
            server.set_app(server.recorder)
        yield server


@pytest.fixture(scope="session")
def recorder(interop_server: Any) -> Recorder | None:
    return getattr(interop_server, "recorder", None)


@pytest.fixture(scope="session")
def spyne_interop_target(gateway_settings: Any, scenario: dict[str, Any],
                         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """The same gateway answering on Spyne's request path (server.soap_path = "spyne")."""
    with _interop_gateway(gateway_settings, scenario, tmp_path_factory, "spyne") as server:
        yield _target(server, scenario)


@contextlib.contextmanager
def _interop_gateway(gateway_settings: Any, scenario: dict[str, Any], tmp_path_factory: pytest.TempPathFactory,
                     soap_path: str) -> Iterator[Any]:
    user, password = scenario["credentials"]["user"], scenario["credentials"]["password"]
    auth = auth_from_toml(tmp_path_factory.mktemp("interop-auth"), f"""
[auth]
mode = "basic"
wsdl_public = false
[auth.users.{user}]
password_hash = "{hash_password(password)}"
roles = ["cashier"]
""")
    with secured_gateway(gateway_settings, auth, soap_path=soap_path) as server:
        yield server


@pytest.fixture(scope="session")
def interop_target(interop_server: Any, scenario: dict[str, Any]) -> Target:
    """The WSDL URL, its soap:address and the credentials, as every consumer is given them."""
    return _target(interop_server, scenario)


def _target(interop_server: Any, scenario: dict[str, Any]) -> Target:
    credentials = (scenario["credentials"]["user"], scenario["credentials"]["password"])
    wsdl_url = f"{interop_server.url}/soap?wsdl"
    assert requests.get(wsdl_url, timeout=30).status_code == 401  # consumers really authenticate
    wsdl = requests.get(wsdl_url, auth=credentials, timeout=30)
    wsdl.raise_for_status()
    (endpoint,) = etree.fromstring(wsdl.content).xpath("//soap:address/@location", namespaces=WSDL_SOAP)
    return Target(wsdl_url, endpoint, SCENARIO, credentials)


@pytest.fixture(scope="session")
def driver_env(interop_target: Target) -> dict[str, str]:
    env = dict(os.environ, LC_ALL="C.UTF-8")  # Cyrillic on the drivers' stdout, whatever the locale
    if interop_target.credentials:
        env["INTEROP_USER"], env["INTEROP_PASSWORD"] = interop_target.credentials
    return env


@pytest.fixture(scope="session")
def matrix_rows(request: pytest.FixtureRequest) -> list[Row]:
    return request.config.stash.setdefault(ROWS, [])


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    rows = config.stash.get(ROWS, [])
    if not rows:
        return
    steps = [PROXY_STEP] + [s["id"] for s in json.loads(SCENARIO.read_text(encoding="utf-8"))["steps"]]
    text = render(rows, steps)
    MATRIX_FILE.parent.mkdir(exist_ok=True)
    MATRIX_FILE.write_text("# SOAP consumer interop matrix\n\n" + text, encoding="utf-8")
    terminalreporter.write_sep("=", "SOAP consumer interop matrix")
    terminalreporter.write(text)
    terminalreporter.write_line(f"(also in {MATRIX_FILE})")
