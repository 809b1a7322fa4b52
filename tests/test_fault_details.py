"""Every fault names its call (detail/GatewayFault/correlationId = the X-Correlation-ID answered), and an
ordinary refusal is logged once at WARNING without a traceback while a real internal error keeps its own.
Through the gateway as a real HTTP server, to the emulator over mutual TLS.
"""

from __future__ import annotations

import io
import logging
from typing import Any, Iterator

import pytest
import requests
from lxml import etree

from envelopes import TNS, envelope
from money import journal_path, running_gateway
from securing import PASSWORDS, basic_auth, secured_gateway
from soap_gateway.ops.logs import configure_logging

XML = {"Content-Type": "text/xml; charset=utf-8"}
DEEP = "<b:CLN_USR_GET>" + "<b:x>" * 40 + "</b:x>" * 40 + "</b:CLN_USR_GET>"

REQUESTS: dict[str, tuple[str, bytes, dict[str, str]]] = {  # what -> (method, body, headers)
    "billing refusal": ("POST", envelope("<b:CLN_USR_GET><b:SELECT_ID>999999</b:SELECT_ID>"
                                                "</b:CLN_USR_GET>").encode(), XML),
    "schema": ("POST", envelope("<b:CLN_USR_GET><b:SELECT_ID>x</b:SELECT_ID></b:CLN_USR_GET>").encode(), XML),
    "out of range": ("POST", envelope("<b:CLN_FIN_OPER_ADD><b:USER_ID>101</b:USER_ID><b:OP_DATE>"
                                             "2024-05-01T24:00:00</b:OP_DATE><b:SUMMA>1.00</b:SUMMA>"
                                             "</b:CLN_FIN_OPER_ADD>").encode(), XML),
    "no such operation": ("POST", envelope("<b:NO_SUCH_PROC/>").encode(), XML),
    "not XML": ("POST", b"<soapenv:Envelope", XML),
    "wrong encoding": ("POST", envelope("<b:CLN_USR_GET/>").encode(),
                       {"Content-Type": "text/xml; charset=no-such-charset"}),
    "too deep": ("POST", envelope(DEEP).encode(), XML),
    "too large": ("POST", b" " * (1024 * 1024 + 1), XML),
    "GET": ("GET", b"", {}),
}


def detail_of(response: requests.Response) -> dict[str, str]:
    root = etree.fromstring(response.content)
    (detail,) = root.iter(f"{{{TNS}}}GatewayFault")
    return {etree.QName(child).localname: child.text for child in detail}


@pytest.mark.parametrize("what", REQUESTS)
def test_every_fault_detail_carries_the_correlation_id(gateway_server: Any, what: str) -> None:
    method, body, headers = REQUESTS[what]
    response = requests.request(method, f"{gateway_server.url}/soap", data=body, timeout=30,
                                headers={**headers, "X-Correlation-ID": f"fault-{len(what)}"})
    assert response.status_code >= 400 and response.headers["X-Correlation-ID"] == f"fault-{len(what)}"
    detail = detail_of(response)
    assert detail["correlationId"] == f"fault-{len(what)}", (what, response.text)
    assert detail["code"] and detail["message"]


def test_a_made_up_correlation_id_is_in_the_fault_too(gateway_server: Any) -> None:
    method, body, headers = REQUESTS["schema"]
    response = requests.post(f"{gateway_server.url}/soap", data=body, headers=headers, timeout=30)
    assert detail_of(response)["correlationId"] == response.headers["X-Correlation-ID"]


@pytest.fixture(scope="module")
def basic_server(gateway_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with secured_gateway(gateway_settings, basic_auth(tmp_path_factory.mktemp("auth"))) as server:
        yield server


@pytest.mark.parametrize("credentials", [None, ("reader1", "wrong")])
def test_refusals_before_the_soap_stack_carry_it(basic_server: Any, credentials: Any) -> None:
    method, body, headers = REQUESTS["schema"]
    response = requests.post(f"{basic_server.url}/soap", data=body, auth=credentials, timeout=30,
                             headers={**headers, "X-Correlation-ID": "refused-1"})
    assert response.status_code == 401 and response.headers["X-Correlation-ID"] == "refused-1"
    assert detail_of(response)["correlationId"] == "refused-1"


def test_a_permission_fault_carries_it(basic_server: Any) -> None:
    body = envelope("<b:CLN_FIN_OPER_ADD><b:USER_ID>101</b:USER_ID><b:OP_DATE>2024-05-01T10:00:00"
                           "</b:OP_DATE><b:SUMMA>1.00</b:SUMMA></b:CLN_FIN_OPER_ADD>").encode()
    response = requests.post(f"{basic_server.url}/soap", data=body, auth=("reader1", PASSWORDS["reader1"]), timeout=30,
                             headers={**XML, "X-Correlation-ID": "denied-1"})
    detail = detail_of(response)
    assert (detail["code"], detail["correlationId"]) == ("PERMISSION_DENIED", "denied-1")


# -- what the operator's log says ------------------------------------------------------------------

@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    level, buffer = root.level, io.StringIO()
    handler = configure_logging("text", stream=buffer)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)


def test_a_billing_refusal_is_one_warning_without_traceback(gateway_settings: Any, tmp_path: Any,
                                                           log_text: io.StringIO) -> None:
    # no not_found patterns: the billing's "not found" stays a Server.BillingError (issue #13)
    with running_gateway(gateway_settings, journal_path(tmp_path), error_patterns={"not_found": ()}) as gw:
        method, body, headers = REQUESTS["billing refusal"]
        requests.post(f"{gw.url}/soap", data=body, timeout=30, headers={**headers, "X-Correlation-ID": "r-1"})
    mine = [line for line in log_text.getvalue().splitlines() if "[r-1]" in line]
    warnings = [line for line in mine if " WARNING " in line]
    assert len(warnings) == 1 and "Server.BillingError" in warnings[0] and "999999" in warnings[0], mine
    assert not [line for line in mine if " ERROR " in line]
    assert "Traceback" not in log_text.getvalue()


def test_a_refusal_the_caller_can_act_on_is_no_warning(gateway_server: Any, log_text: io.StringIO) -> None:
    method, body, headers = REQUESTS["billing refusal"]
    requests.post(f"{gateway_server.url}/soap", data=body, timeout=30, headers={**headers, "X-Correlation-ID": "n-1"})
    mine = [line for line in log_text.getvalue().splitlines() if "[n-1]" in line]
    assert not [line for line in mine if " WARNING " in line or " ERROR " in line], mine
    assert any("outcome=Client.NotFound" in line for line in mine), mine


def test_a_caller_mistake_is_no_warning(gateway_server: Any, log_text: io.StringIO) -> None:
    method, body, headers = REQUESTS["schema"]
    requests.post(f"{gateway_server.url}/soap", data=body, timeout=30, headers={**headers, "X-Correlation-ID": "c-1"})
    mine = [line for line in log_text.getvalue().splitlines() if "[c-1]" in line]
    assert len(mine) == 1 and " INFO " in mine[0] and "outcome=Client.ValidationError" in mine[0], mine


def test_an_internal_error_keeps_its_traceback(gateway_server: Any, log_text: io.StringIO) -> None:
    gateway = gateway_server.app.gateway
    original = gateway.client.call

    def broken(*args: Any, **kwargs: Any) -> Any:  # a bug below the SOAP layer, not a billing answer
        raise ZeroDivisionError("a bug")

    gateway.client.call = broken
    try:
        response = requests.post(f"{gateway_server.url}/soap", data=REQUESTS["billing refusal"][1], timeout=30,
                                 headers={**XML, "X-Correlation-ID": "bug-1"})
    finally:
        gateway.client.call = original
    assert detail_of(response)["code"] == "INTERNAL_ERROR"
    text = log_text.getvalue()
    assert " ERROR " in text and "Traceback" in text and "ZeroDivisionError: a bug" in text
