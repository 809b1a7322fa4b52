"""/healthz and /readyz against the emulator: each check's state and latency, failures, timeouts, extra checks."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import Any, Iterator

import pytest
import requests

from serving import gateway_in_thread
from soap_gateway.backend import BillingClient
from soap_gateway.config import Settings
from soap_gateway.core import Gateway
from soap_gateway.devserver import BackgroundServer


def readyz(server: BackgroundServer) -> tuple[int, dict[str, dict[str, Any]]]:
    response = requests.get(f"{server.url}/readyz", timeout=30)
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == ("ready" if response.status_code == 200 else "not ready")
    return response.status_code, {check["name"]: check for check in body["checks"]}


def serve(settings: Settings, client: BillingClient) -> AbstractContextManager[BackgroundServer]:
    return gateway_in_thread(settings, lambda _: Gateway(client))


@pytest.fixture
def own_server(gateway_settings: Settings, make_client: Any) -> Iterator[BackgroundServer]:
    """A gateway of its own, so a test may change its readiness without touching the shared one."""
    with serve(gateway_settings, make_client(read_retries=0)) as server:
        yield server


def test_healthz_says_the_process_is_alive(gateway_server: Any, emulator: Any) -> None:
    emulator.add_fault("http_error", status=503)  # liveness does not depend on the billing
    response = requests.get(f"{gateway_server.url}/healthz", timeout=10)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_with_each_check_and_its_latency(gateway_server: Any) -> None:
    status, checks = readyz(gateway_server)
    assert status == 200
    assert list(checks) == ["login", "billing", "circuit_breaker", "journal"]
    for check in checks.values():
        assert check["state"] == "ok" and isinstance(check["latency_ms"], float) and check["latency_ms"] >= 0
    assert checks["login"]["detail"] == "session of Administrator"


def test_not_ready_when_the_billing_fails(own_server: BackgroundServer, emulator: Any) -> None:
    assert readyz(own_server)[0] == 200
    emulator.add_fault("http_error", status=502, proc="CLN_HOME_LIST")
    status, checks = readyz(own_server)
    assert status == 503
    assert checks["billing"]["state"] == "failed" and "502" in checks["billing"]["detail"]
    assert checks["login"]["state"] == "ok"  # the session is still good: the report says which part broke
    emulator.clear_faults()
    assert readyz(own_server)[0] == 200


def test_not_ready_when_login_is_refused(gateway_settings: Settings, make_client: Any) -> None:
    with serve(gateway_settings, make_client(password="wrong-password", read_retries=0)) as server:
        status, checks = readyz(server)
    assert status == 503 and checks["login"]["state"] == "failed"
    assert "AuthenticationFailed" in checks["login"]["detail"] and "wrong-password" not in str(checks)


def test_a_hung_billing_gives_a_timeout_not_a_hung_probe(own_server: BackgroundServer, emulator: Any) -> None:
    readyz(own_server)  # logged in
    own_server.app.readiness.timeout = 0.5  # type: ignore[attr-defined]
    emulator.add_fault("latency", ms=3000, proc="CLN_HOME_LIST", count=1)
    started = time.monotonic()
    status, checks = readyz(own_server)
    assert time.monotonic() - started < 2.5
    assert status == 503 and checks["billing"]["state"] == "timeout" and checks["login"]["state"] == "ok"


class BreakerClient(BillingClient):
    """A billing client with a circuit breaker's state, as the money-safety work adds one."""

    state = "closed"

    def circuit_state(self) -> str:
        return self.state


def test_circuit_breaker_state_is_a_check_and_a_metric(gateway_settings: Settings,
                                                       billing_settings: Any) -> None:
    client = BreakerClient.from_settings(billing_settings)
    with serve(gateway_settings, client) as server:
        status, checks = readyz(server)
        assert status == 200 and checks["circuit_breaker"] == {**checks["circuit_breaker"], "state": "ok",
                                                               "detail": "closed"}
        client.state = "open"
        status, checks = readyz(server)
        assert status == 503 and checks["circuit_breaker"]["state"] == "failed"
        metrics = requests.get(f"{server.url}/metrics", timeout=10).text
        assert 'soap_gateway_billing_circuit_state{state="open"} 1.0' in metrics
        assert 'soap_gateway_billing_circuit_state{state="closed"} 0.0' in metrics
    client.close()


def test_features_add_their_own_checks(own_server: BackgroundServer) -> None:
    def journal() -> str:
        raise OSError("journal directory is read-only")

    own_server.app.readiness.add("journal", journal)  # type: ignore[attr-defined]
    status, checks = readyz(own_server)
    assert status == 503 and checks["journal"]["state"] == "failed"
    assert checks["journal"]["detail"] == "OSError: journal directory is read-only"
