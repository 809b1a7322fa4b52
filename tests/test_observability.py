"""Metrics scraped from /metrics after real calls, and the log lines captured during end-to-end runs.

Everything goes through the gateway as a real HTTP server, to the emulator over mutual TLS.
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import logging
import threading
import time
import uuid
from typing import Any, Iterator

import pytest
import requests
import zeep
from prometheus_client.parser import text_string_to_metric_families

from envelopes import HEADERS, envelope
from soap_gateway.errors import AuthenticationFailed
from soap_gateway.ops.logs import configure_logging

USR_GET = "<b:CLN_USR_GET><b:SELECT_ID>{}</b:SELECT_ID></b:CLN_USR_GET>"


def scrape(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = requests.get(f"{base_url}/metrics", timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def post(base_url: str, body: str, **headers: str) -> requests.Response:
    return requests.post(f"{base_url}/soap", data=envelope(body).encode("utf-8"),
                         headers={**HEADERS, **headers}, timeout=30)


# -- metrics ---------------------------------------------------------------------------------------

def test_soap_requests_by_operation_and_outcome(gateway_server: Any, zeep_client: Any) -> None:
    before = scrape(gateway_server.url)
    zeep_client.service.CLN_USR_GET(SELECT_ID=101)
    assert post(gateway_server.url, USR_GET.format("x")).status_code == 500  # schema refuses it
    assert post(gateway_server.url, USR_GET.format(999999)).status_code == 500  # the billing does not know it
    after = scrape(gateway_server.url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    total = "soap_gateway_requests_total"
    assert delta(total, facade="soap", operation="CLN_USR_GET", outcome="ok") == 1
    assert delta(total, facade="soap", operation="CLN_USR_GET", outcome="Client.ValidationError") == 1
    assert delta(total, facade="soap", operation="CLN_USR_GET", outcome="Client.NotFound") == 1
    assert delta("soap_gateway_request_duration_seconds_count", facade="soap", operation="CLN_USR_GET") == 3
    assert delta("soap_gateway_request_duration_seconds_sum", facade="soap", operation="CLN_USR_GET") > 0
    # two reached the billing: one answered, one refused with an error element
    billing = "soap_gateway_billing_call_duration_seconds_count"
    assert delta(billing, procedure="CLN_USR_GET", outcome="ok") == 1
    assert delta(billing, procedure="CLN_USR_GET", outcome="NotFound") == 1


def test_journal_states_are_read_from_the_journal(gateway_server: Any, zeep_client: Any, emulator: Any) -> None:
    before = scrape(gateway_server.url)
    zeep_client.service.CLN_FIN_OPER_ADD(USER_ID=104, OP_DATE=dt.datetime.now(), SUMMA=decimal.Decimal("1.00"),
                                         NUMBER="M1", IDEMPOTENCY_KEY=uuid.uuid4().hex)
    emulator.add_fault("drop_after_commit", proc="CLN_FIN_OPER_ADD", count=1)
    emulator.add_fault("http_error", status=503, proc="CLN_FIN_OPER", count=10)  # the lookup fails too
    with pytest.raises(zeep.exceptions.Fault):
        zeep_client.service.CLN_FIN_OPER_ADD(USER_ID=104, OP_DATE=dt.datetime.now(),
                                             SUMMA=decimal.Decimal("2.00"), IDEMPOTENCY_KEY=uuid.uuid4().hex)
    after = scrape(gateway_server.url)
    name = "soap_gateway_journal_entries"
    assert value(after, name, state="done") - value(before, name, state="done") == 1
    assert value(after, name, state="unknown") - value(before, name, state="unknown") == 1


def test_unknown_operations_never_become_labels(gateway_server: Any) -> None:
    post(gateway_server.url, "<b:NO_SUCH_PROC_31337/>")
    text = requests.get(f"{gateway_server.url}/metrics", timeout=10).text
    assert "NO_SUCH_PROC_31337" not in text
    assert 'operation="-"' in text


def test_logins_and_relogins(gateway_server: Any, zeep_client: Any, emulator: Any, make_client: Any) -> None:
    zeep_client.service.CLN_USR_GET(SELECT_ID=101)  # a session exists
    before = scrape(gateway_server.url)
    emulator.expire_sessions()
    zeep_client.service.CLN_USR_GET(SELECT_ID=101)  # expired SUID: log in again, repeat the read
    with pytest.raises(AuthenticationFailed):
        make_client(password="not-the-password").call("CLN_USR_GET", {"SELECT_ID": 101})
    after = scrape(gateway_server.url)
    assert value(after, "soap_gateway_billing_relogins_total") - value(before, "soap_gateway_billing_relogins_total") == 1
    logins = "soap_gateway_billing_logins_total"
    assert value(after, logins, outcome="ok") - value(before, logins, outcome="ok") == 1
    assert value(after, logins, outcome="failed") - value(before, logins, outcome="failed") == 1


def test_in_flight_requests(gateway_server: Any, emulator: Any) -> None:
    emulator.add_fault("latency", ms=1500, proc="CLN_USR_GET", count=1)
    emulator.reset_stats()
    caller = threading.Thread(target=post, args=(gateway_server.url, USR_GET.format(101)))
    caller.start()
    deadline = time.monotonic() + 10
    while not [r for r in emulator.requests() if r.proc == "CLN_USR_GET"] and time.monotonic() < deadline:
        time.sleep(0.02)
    during = scrape(gateway_server.url)
    caller.join()
    assert value(during, "soap_gateway_requests_in_flight", facade="soap") == 1
    assert value(scrape(gateway_server.url), "soap_gateway_requests_in_flight", facade="soap") == 0


# -- logs ------------------------------------------------------------------------------------------

@pytest.fixture
def capture() -> Iterator[Any]:
    """Install the gateway's real handler in a given format, writing into a buffer."""
    root = logging.getLogger()
    level = root.level
    handlers: list[logging.Handler] = []
    buffer = io.StringIO()

    def start(log_format: str) -> io.StringIO:
        handlers.append(configure_logging(log_format, stream=buffer))
        return buffer

    yield start
    for handler in handlers:
        root.removeHandler(handler)
    root.setLevel(level)


def lines_with(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


def test_text_lines_carry_the_correlation_id(gateway_server: Any, capture: Any) -> None:
    buffer = capture("text")
    response = post(gateway_server.url, USR_GET.format(101), **{"X-Correlation-ID": "pay-2024-0001"})
    assert response.status_code == 200 and response.headers["X-Correlation-ID"] == "pay-2024-0001"
    lines = lines_with(buffer.getvalue(), "[pay-2024-0001]")
    (request_line,) = [line for line in lines if " soap_gateway.request " in line]
    (billing_line,) = [line for line in lines if " soap_gateway.billing " in line]
    assert "soap CLN_USR_GET caller=anonymous outcome=ok status=200 duration_ms=" in request_line
    assert "billing call CLN_USR_GET outcome=ok duration_ms=" in billing_line


def test_a_correlation_id_is_made_when_the_caller_sends_none_or_a_bad_one(gateway_server: Any,
                                                                         capture: Any) -> None:
    buffer = capture("text")
    for header in ({}, {"X-Correlation-ID": "bad id\twith spaces"}):
        response = post(gateway_server.url, USR_GET.format(101), **header)
        made = response.headers["X-Correlation-ID"]
        assert len(made) == 32 and made != header.get("X-Correlation-ID")
        assert len(lines_with(buffer.getvalue(), f"[{made}]")) == 2  # the request and its billing call
    assert "with spaces" not in buffer.getvalue()


def test_json_lines_with_one_switch(gateway_server: Any, capture: Any) -> None:
    buffer = capture("json")
    post(gateway_server.url, USR_GET.format(101), **{"X-Correlation-ID": "json-1"})
    post(gateway_server.url, USR_GET.format("x"), **{"X-Correlation-ID": "json-2"})
    records = [json.loads(line) for line in buffer.getvalue().splitlines()]
    mine = {(r["logger"], r["correlation_id"]): r for r in records if r["correlation_id"].startswith("json-")}
    ok, refused = mine[("soap_gateway.request", "json-1")], mine[("soap_gateway.request", "json-2")]
    assert (ok["operation"], ok["outcome"], ok["caller"], ok["status"]) == ("CLN_USR_GET", "ok", "anonymous", "200")
    assert isinstance(ok["duration_ms"], float) and ok["level"] == "INFO" and "time" in ok
    assert (refused["operation"], refused["outcome"]) == ("CLN_USR_GET", "Client.ValidationError")
    billing = mine[("soap_gateway.billing", "json-1")]
    assert (billing["procedure"], billing["outcome"]) == ("CLN_USR_GET", "ok")
    assert ("soap_gateway.billing", "json-2") not in mine  # refused before the billing


def test_no_secret_in_any_line(gateway_server: Any, zeep_client: Any, emulator: Any, capture: Any,
                               billing_settings: Any) -> None:
    text_buffer = capture("text")
    json_buffer = capture("json")
    own = zeep_client.service.CLN_AUTH_LOGIN(LOGIN="kassir1", PASSWORD="pass1")  # a caller's own session
    emulator.expire_sessions()
    zeep_client.service.CLN_USR_GET(SELECT_ID=101)  # forces a fresh service login, logged
    client = gateway_server.app.gateway.client
    service_suid = client.session(client.service_account).current()
    for text in (text_buffer.getvalue(), json_buffer.getvalue()):
        assert "billing call CLN_AUTH_LOGIN" in text or '"procedure": "CLN_AUTH_LOGIN"' in text
        for secret in (billing_settings.password, "pass1", str(own.SUID), service_suid, "api.php"):
            assert secret not in text, secret
