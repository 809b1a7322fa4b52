"""BillingClient against the real HTTPS emulator: TLS trust, client certificates, keep-alive, retries, failures.

No mocks: every call crosses a real mutual-TLS connection to the billing emulator.  Reads use the
suite's shared emulator; writes (money) go to a private one, so other test files keep their state.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

import certifi
import pytest

from soap_gateway import certs
from probe import CASHIER_PFX_PASSWORD, Probe
from soap_gateway.backend import BillingClient
from soap_gateway.backend.tls import server_certificate_fingerprint
from soap_gateway.emulator import Emulator
from soap_gateway.errors import (BillingError, BillingTimeout, BillingUnavailable, ConfigurationError,
                                 MalformedReply, OutcomeUnknown, TLSFailure)

IVANOV = {"SELECT_ID": 101}


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Server-side counters are updated by the emulator's threads: poll with a generous timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def user_name(client: BillingClient) -> str:
    return str(client.call("CLN_USR_GET", IVANOV)[0]["NAME"])


def payment(amount: str, user_id: int = 101) -> dict[str, Any]:
    return {"USER_ID": user_id, "OP_DATE": dt.datetime(2025, 5, 6, 10, 0, 0), "SUMMA": Decimal(amount),
            "DESCR": "Оплата через кассу", "NUMBER": "T-1"}


@pytest.fixture(scope="module")
def money_billing(pki: Any) -> Iterator[Emulator]:
    """A private emulator for writes, so the shared one's balances stay as other tests expect them."""
    with Emulator(str(pki.server_cert), str(pki.server_key), str(pki.client_ca)) as emu:
        yield emu


# -- trust and client certificates ------------------------------------------------------------------------

def test_pfx_without_password_succeeds_and_presents_its_cn(make_client: Any, emulator: Emulator) -> None:
    probe = Probe(emulator)
    assert user_name(make_client()) == "Иванов Иван Иванович"
    assert {r.cn for r in probe.requests()} == {"cashier1"}


def test_pfx_with_password_succeeds_while_requests_ca_bundle_points_elsewhere(
        make_client: Any, emulator: Emulator, pki: Any) -> None:
    # requests would honour this bundle (certifi: no billing CA in it); our adapter must not
    assert os.environ["REQUESTS_CA_BUNDLE"] == certifi.where()
    probe = Probe(emulator)
    client = make_client(cert=str(pki.clients["cashier2"]), cert_password=CASHIER_PFX_PASSWORD)
    assert user_name(client) == "Иванов Иван Иванович"
    assert os.environ["REQUESTS_CA_BUNDLE"] == certifi.where()
    assert {r.cn for r in probe.requests()} == {"cashier2"}


def test_client_certificate_from_another_ca_is_refused(make_client: Any, emulator: Emulator,
                                                        other_ca: certs.DemoPKI) -> None:
    probe = Probe(emulator)
    client = make_client(cert=str(other_ca.clients["intruder"]), read_retries=0)
    with pytest.raises(TLSFailure) as caught:
        user_name(client)
    # TLS 1.3: the billing's alert, or (when it hangs up first) an EOF - both name the client certificate
    assert "client certificate" in str(caught.value) and caught.value.sent is False
    assert wait_until(lambda: probe.delta("handshake_failures") >= 1)
    assert probe.requests() == []  # the billing never saw a request


def test_server_certificate_not_signed_by_the_configured_ca_is_refused(
        make_client: Any, emulator: Emulator, other_ca: certs.DemoPKI) -> None:
    probe = Probe(emulator)
    client = make_client(ca=str(other_ca.ca_cert), read_retries=0)
    with pytest.raises(TLSFailure) as caught:
        user_name(client)
    assert "CA" in str(caught.value) and "billing.ca" in str(caught.value)
    assert caught.value.sent is False
    assert probe.requests() == []


def test_ca_bundle_variables_cannot_widen_the_configured_trust(
        make_client: Any, emulator: Emulator, pki: Any, other_ca: certs.DemoPKI,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the variables name the CA that really signed the billing; requests would add it to our context
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca_cert))
    monkeypatch.setenv("CURL_CA_BUNDLE", str(pki.ca_cert))
    client = make_client(ca=str(other_ca.ca_cert), read_retries=0)
    with pytest.raises(TLSFailure, match="billing.ca"):
        user_name(client)


def test_a_translated_failure_keeps_and_logs_its_cause_without_the_password(
        make_client: Any, other_ca: certs.DemoPKI, caplog: pytest.LogCaptureFixture) -> None:
    # one-step login: the password travels in the query string of every call
    client = make_client(ca=str(other_ca.ca_cert), read_retries=0, login_mode="one-step")
    with caplog.at_level(logging.WARNING, logger="soap_gateway.billing"), pytest.raises(TLSFailure) as caught:
        user_name(client)
    cause = caught.value.cause
    assert "CERTIFICATE_VERIFY_FAILED" in cause and "SSLError" in cause
    assert "CERTIFICATE_VERIFY_FAILED" not in str(caught.value)  # the fault keeps the plain hint
    assert any(cause in record.getMessage() for record in caplog.records)
    assert client.service_account.password not in caplog.text and "CLN_USR_GET" not in cause


def test_wrong_pin_is_refused(make_client: Any, emulator: Emulator) -> None:
    probe = Probe(emulator)
    client = make_client(pin_sha256="0" * 64, read_retries=0)
    with pytest.raises(TLSFailure) as caught:
        user_name(client)
    assert "pinned" in str(caught.value) and "0" * 64 not in str(caught.value)
    assert probe.requests() == []


def test_right_pin_works_in_both_spellings(make_client: Any, emulator: Emulator, pki: Any) -> None:
    pin = server_certificate_fingerprint(str(pki.server_cert))
    assert pin == emulator.server_cert_sha256
    assert user_name(make_client(pin_sha256=pin)) == "Иванов Иван Иванович"
    colons = ":".join(pin[i:i + 2] for i in range(0, 64, 2)).upper()
    assert user_name(make_client(pin_sha256=colons)) == "Иванов Иван Иванович"


def test_malformed_pin_is_a_configuration_error(make_client: Any) -> None:
    with pytest.raises(ConfigurationError, match="SHA-256"):
        make_client(pin_sha256="abc123")


def test_server_name_not_in_the_certificate_is_refused(make_client: Any, emulator: Emulator) -> None:
    probe = Probe(emulator)
    client = make_client(server_name="other.test", read_retries=0)
    with pytest.raises(TLSFailure) as caught:
        user_name(client)
    assert "server_name" in str(caught.value)
    assert probe.requests() == []


def test_server_name_defaults_to_the_url_host(make_client: Any, emulator: Emulator) -> None:
    # the certificate names billing.test (and 127.0.0.1 as an IP SAN): the URL host alone then works
    assert user_name(make_client(server_name="")) == "Иванов Иван Иванович"


def test_wrong_pfx_password_is_a_clear_configuration_error(make_client: Any, pki: Any) -> None:
    path = str(pki.clients["cashier2"])
    with pytest.raises(ConfigurationError) as caught:
        make_client(cert=path, cert_password="Wrong1Pass")
    message = str(caught.value)
    assert path in message and "wrong password" in message
    assert "Wrong1Pass" not in message and CASHIER_PFX_PASSWORD not in message
    with pytest.raises(ConfigurationError, match="no password was given"):
        make_client(cert=path, cert_password="")


def test_missing_certificate_file_is_a_configuration_error(make_client: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        make_client(cert=str(tmp_path / "nobody.pfx"))


# -- connection reuse ----------------------------------------------------------------------------------------

def test_sequential_calls_reuse_one_tls_connection(make_client: Any, emulator: Emulator) -> None:
    probe = Probe(emulator)
    client = make_client()
    for _ in range(6):
        assert user_name(client) == "Иванов Иван Иванович"
    assert len(probe.requests("CLN_USR_GET")) == 6
    assert len(probe.requests("CLN_AUTH_LOGIN")) == 1
    assert probe.delta("connections") == 1  # login and six reads over one keep-alive connection


def test_write_after_the_billing_closed_an_idle_connection_is_sent_once(make_client: Any, pki: Any) -> None:
    # Apache closes idle keep-alive connections after a few seconds; a pooled connection the billing has
    # closed must be replaced before a write goes out, or every write after a pause is "outcome unknown"
    with Emulator(str(pki.server_cert), str(pki.server_key), str(pki.client_ca), keepalive_timeout=0.1) as emu:
        client = make_client(url=emu.url)
        user_name(client)
        balance = emu.balance(101)
        for _ in range(3):
            time.sleep(0.5)  # well past the billing's keep-alive timeout
            client.call("CLN_FIN_OPER_ADD", payment("1.00"))
        assert [r.proc for r in emu.requests()].count("CLN_FIN_OPER_ADD") == 3
        assert emu.balance(101) == balance + Decimal("3.00")


# -- retries and failures ------------------------------------------------------------------------------------

def test_read_is_retried_after_one_http_500(client: BillingClient, emulator: Emulator) -> None:
    user_name(client)  # logged in
    probe = Probe(emulator)
    emulator.add_fault("http_error", status=500, proc="CLN_USR_GET", count=1)
    assert user_name(client) == "Иванов Иван Иванович"
    assert len(probe.requests("CLN_USR_GET")) == 2


def test_read_gives_up_after_one_plus_read_retries_attempts(make_client: Any, emulator: Emulator) -> None:
    client = make_client(read_retries=2)
    user_name(client)
    probe = Probe(emulator)
    emulator.add_fault("http_error", status=500, proc="CLN_USR_GET")
    with pytest.raises(BillingUnavailable) as caught:
        user_name(client)
    assert type(caught.value) is BillingUnavailable and caught.value.status == 500
    assert "500" in str(caught.value)
    assert len(probe.requests("CLN_USR_GET")) == 3


def test_malformed_read_reply_is_reported_not_retried(make_client: Any, emulator: Emulator) -> None:
    """The billing answered: the same request would get the same answer (issue #13)."""
    client = make_client(read_retries=2)
    user_name(client)
    probe = Probe(emulator)
    for variant in ("xml", "php"):
        emulator.add_fault("malformed", variant=variant, proc="CLN_USR_GET", count=1)
        with pytest.raises(MalformedReply):
            user_name(client)
    assert len(probe.requests("CLN_USR_GET")) == 2
    assert user_name(client) == "Иванов Иван Иванович"
    assert client.circuit_state() == "closed"


def test_write_whose_answer_is_lost_is_outcome_unknown_and_never_resent(
        make_client: Any, money_billing: Emulator) -> None:
    client = make_client(url=money_billing.url)
    user_name(client)
    balance, postings = money_billing.balance(101), len(money_billing.fin_opers(101))
    probe = Probe(money_billing)
    money_billing.add_fault("drop_after_commit", proc="CLN_FIN_OPER_ADD", count=1)
    with pytest.raises(OutcomeUnknown) as caught:
        client.call("CLN_FIN_OPER_ADD", payment("100.10"))
    assert caught.value.procedure == "CLN_FIN_OPER_ADD"
    assert len(probe.requests("CLN_FIN_OPER_ADD")) == 1
    assert len(money_billing.fin_opers(101)) == postings + 1  # committed exactly once
    assert money_billing.balance(101) == balance + Decimal("100.10")


def test_write_answered_with_http_500_is_not_repeated(make_client: Any, money_billing: Emulator) -> None:
    client = make_client(url=money_billing.url, read_retries=3)
    user_name(client)
    balance = money_billing.balance(101)
    probe = Probe(money_billing)
    # count=1: this emulator is not cleaned by conftest, and a repeat would then succeed (and fail this test)
    money_billing.add_fault("http_error", status=500, proc="CLN_FIN_OPER_ADD", count=1)
    # a 500 may come after the commit: the caller is told the outcome is unknown
    with pytest.raises(OutcomeUnknown):
        client.call("CLN_FIN_OPER_ADD", payment("5.00"))
    assert len(probe.requests("CLN_FIN_OPER_ADD")) == 1
    assert money_billing.balance(101) == balance


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_closed_port_is_unavailable_and_not_sent(make_client: Any) -> None:
    client = make_client(url=f"https://127.0.0.1:{closed_port()}/api.php", read_retries=1)
    with pytest.raises(BillingUnavailable) as caught:
        user_name(client)
    assert caught.value.sent is False
    assert not isinstance(caught.value, (TLSFailure, BillingTimeout))
    assert "cannot connect" in str(caught.value)
    # a write that never left is not "outcome unknown"
    with pytest.raises(BillingUnavailable) as caught:
        client.call("CLN_FIN_OPER_ADD", payment("1.00"))
    assert caught.value.sent is False and not isinstance(caught.value, OutcomeUnknown)


def test_read_timeout(make_client: Any, emulator: Emulator) -> None:
    client = make_client(read_timeout=0.3, read_retries=0)
    user_name(client)
    probe = Probe(emulator)
    emulator.add_fault("latency", ms=2000, proc="CLN_USR_GET", count=1)
    with pytest.raises(BillingTimeout) as caught:
        user_name(client)
    assert caught.value.sent is True and "read timeout" in str(caught.value)
    assert len(probe.requests("CLN_USR_GET")) == 1
    assert user_name(client) == "Иванов Иван Иванович"  # the client recovers on a fresh connection


def test_billing_error_is_not_retried(client: BillingClient, emulator: Emulator) -> None:
    user_name(client)
    probe = Probe(emulator)
    with pytest.raises(BillingError) as caught:
        client.call("CLN_USR_GET", {"SELECT_ID": 999999})
    assert "999999" in caught.value.billing_message
    assert len(probe.requests("CLN_USR_GET")) == 1

