"""Transport of the billing emulator: mutual TLS, keep-alive, allow-list, access log, prompt stop."""
from __future__ import annotations

import hashlib
import http.client
import socket
import ssl
import threading
import warnings
from typing import Any

import pytest
import requests

from soap_gateway.emulator.server import server_context

LOGIN_QUERY = "cmd=execute&proc=CLN_AUTH_LOGIN&arg1=Administrator&arg2=servicemode&arg3=0"


def _context(pki: Any, client: tuple[str, str] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki.ca)
    context.load_cert_chain(*(client or pki.client))
    return context


def test_client_certificate_is_required(emu: Any, emu_client: Any, wait_until: Any) -> None:
    anonymous = emu_client(emu, login=False)
    anonymous.http.cert = None
    with pytest.raises(requests.exceptions.ConnectionError):
        anonymous.raw(LOGIN_QUERY)
    assert wait_until(lambda: emu.stats()["handshake_failures"] == 1)
    assert emu.requests() == []  # the billing never saw the request


def test_certificate_from_another_ca_is_refused(emu: Any, emu_pki: Any, emu_client: Any,
                                                wait_until: Any) -> None:
    intruder = emu_client(emu, client=emu_pki.foreign, login=False)
    with pytest.raises(requests.exceptions.ConnectionError):
        intruder.raw(LOGIN_QUERY)
    assert wait_until(lambda: emu.stats()["handshake_failures"] == 1)
    assert emu.stats()["requests"] == 0
    assert emu.stats()["connections"] == 0


def test_server_certificate_names_billing_test_and_can_be_pinned(emu: Any, emu_pki: Any) -> None:
    with socket.create_connection(("127.0.0.1", emu.port)) as raw, \
            _context(emu_pki).wrap_socket(raw, server_hostname="billing.test") as tls:
        der = tls.getpeercert(binary_form=True)
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    assert der is not None and hashlib.sha256(der).hexdigest() == emu.server_cert_sha256


def test_tls_older_than_1_2_is_not_offered(emu: Any, emu_pki: Any) -> None:
    assert server_context(emu_pki.server_cert, emu_pki.server_key, emu_pki.ca).minimum_version \
        == ssl.TLSVersion.TLSv1_2
    context = _context(emu_pki)
    with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is the point of this test
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    with socket.create_connection(("127.0.0.1", emu.port)) as raw, pytest.raises(ssl.SSLError):
        context.wrap_socket(raw, server_hostname="billing.test")


def test_keep_alive_serves_many_requests_on_one_tls_connection(emu: Any, emu_pki: Any) -> None:
    connection = http.client.HTTPSConnection("127.0.0.1", emu.port, context=_context(emu_pki))
    try:
        for _ in range(3):
            connection.request("GET", f"/api.php?{LOGIN_QUERY}")
            response = connection.getresponse()
            body = response.read()
            assert response.status == 200 and b"<suid>" in body
            assert response.getheader("Content-Length") == str(len(body))
            assert response.getheader("Connection") is None
    finally:
        connection.close()
    stats = emu.stats()
    assert (stats["connections"], stats["requests"], stats["logins"]) == (1, 3, 3)


def test_requests_session_reuses_its_connection(emu: Any, emu_billing: Any) -> None:
    emu_billing.call("CLN_USR_GET", 101)
    emu_billing.call("CLN_HOME_LIST")
    assert emu.stats()["connections"] == 1
    assert emu.stats()["requests"] == 3


def test_connection_close_is_honoured(emu: Any, emu_pki: Any) -> None:
    connection = http.client.HTTPSConnection("127.0.0.1", emu.port, context=_context(emu_pki))
    try:
        connection.request("GET", f"/api.php?{LOGIN_QUERY}", headers={"Connection": "close"})
        response = connection.getresponse()
        response.read()
        assert response.getheader("Connection") == "close"
        connection.request("GET", f"/api.php?{LOGIN_QUERY}")  # http.client reconnects by itself
        connection.getresponse().read()
    finally:
        connection.close()
    assert emu.stats()["connections"] == 2


def test_allow_list_refuses_other_addresses_with_403(make_emu: Any, emu_client: Any) -> None:
    refused = make_emu(allow_ips=["10.20.0.0/16"])
    client = emu_client(refused, login=False)
    response = client.raw(LOGIN_QUERY)
    assert response.status_code == 403
    assert "127.0.0.1" in response.text and "not allowed" in response.text
    assert refused.stats()["refused_ip"] == 1 and refused.stats()["logins"] == 0
    # the emulator's own control endpoint stays usable, so a demo can still read its counters
    assert client.http.get(f"{refused.base_url}/_emulator/stats", timeout=5).json()["refused_ip"] == 1

    allowed = make_emu(allow_ips=["192.0.2.1", "127.0.0.1"])
    assert emu_client(allowed).suid


def test_request_log_shows_cn_and_the_account_of_each_cashier(make_emu: Any, emu_pki: Any,
                                                               emu_client: Any) -> None:
    emulator = make_emu(accounts={"kassir1": "pass1", "kassir2": "pass2"})
    first = emu_client(emulator, login=False)
    second = emu_client(emulator, client=emu_pki.client2, login=False)
    first.login("kassir1", "pass1")
    second.login("kassir2", "pass2")
    first.call("CLN_USR_GET", 101)
    second.call("CLN_USR_GET", 102)
    seen = {(r.proc, r.login, r.cn) for r in emulator.requests()}
    assert seen == {("CLN_AUTH_LOGIN", "kassir1", "cashier1"), ("CLN_AUTH_LOGIN", "kassir2", "cashier2"),
                    ("CLN_USR_GET", "kassir1", "cashier1"), ("CLN_USR_GET", "kassir2", "cashier2")}
    for record in emulator.requests():
        assert "pass1" not in record.args and "pass2" not in record.args
        assert first.suid not in record.args and second.suid not in record.args
        assert record.args[0 if record.proc != "CLN_AUTH_LOGIN" else 1] == "***"


def test_access_log_never_shows_passwords_or_suids(make_emu: Any, emu_client: Any) -> None:
    lines: list[str] = []
    emulator = make_emu(access_log=lines.append)
    client = emu_client(emulator)
    client.call("CLN_USR_GET", 101)
    client.raw("login=Administrator&password=servicemode&cmd=execute&proc=CLN_USR_GET&arg1=102")
    text = "\n".join(lines)
    assert len(lines) == 3 and "cashier1" in text and "proc=CLN_USR_GET" in text
    assert "servicemode" not in text and str(client.suid) not in text
    assert "arg2=***" in lines[0] and "arg1=***" in lines[1] and "password=***" in lines[2]
    assert "arg1=102" in lines[2]  # one-step login: arg1 is an ordinary argument


def test_unknown_path_and_post_form(emu: Any, emu_billing: Any) -> None:
    assert emu_billing.http.get(f"{emu.base_url}/index.php", timeout=5).status_code == 404
    response = emu_billing.http.post(emu.url, data={"cmd": "execute", "proc": "CLN_USR_GET",
                                                    "arg1": emu_billing.suid, "arg2": "104"}, timeout=5)
    assert response.status_code == 200 and "Ромашка" in response.content.decode("cp1251")


def test_garbage_handshake_is_counted_quietly(emu: Any, emu_billing: Any, wait_until: Any) -> None:
    with socket.create_connection(("127.0.0.1", emu.port)) as raw:
        raw.sendall(b"GET /api.php HTTP/1.0\r\n\r\n")  # plain HTTP on the TLS port
        raw.settimeout(5)
        try:
            answer = raw.recv(100)
        except ConnectionResetError:
            answer = b""
        assert b"HTTP/" not in answer  # no HTTP answer: at most a TLS alert, then EOF or a reset
    assert wait_until(lambda: emu.stats()["handshake_failures"] == 1)
    assert emu_billing.call("CLN_USR_GET", 101)[0]["login"] == "ivanov"  # still serving


def test_stop_closes_idle_keep_alive_connections_promptly(make_emu: Any, emu_client: Any) -> None:
    emulator = make_emu()
    client = emu_client(emulator)  # its pooled connection stays open and idle
    stopper = threading.Thread(target=emulator.stop)
    stopper.start()
    stopper.join(timeout=10)
    assert not stopper.is_alive()
    with pytest.raises(requests.exceptions.ConnectionError):
        client.raw(LOGIN_QUERY, timeout=3)
    assert emulator.balance(101)  # state stays readable after stop
