"""Long list replies stream from the billing to the SOAP client, and a failure never looks like success.

The gateway runs under gunicorn (the production server: chunked transfer, a cut connection) with a
small ``server.buffer_rows``, in front of its own emulator whose data a test may spoil.
"""

from __future__ import annotations

import dataclasses
import http.client
import io
import json
import logging
import os
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import zeep
import zeep.exceptions

from envelopes import operation
from serving import free_port, gateway_in_thread, serve_process
from soap_gateway.config import Settings
from soap_gateway.emulator import Emulator
from soap_gateway.errors import ConfigurationError
from soap_gateway.ops.logs import configure_logging

ROOT = Path(__file__).resolve().parent.parent
BUFFER_ROWS = 5
USERS = 100  # bulk subscribers x 10 operations: 1,000 rows (≈300 KB) in group 5
# No XML can carry U+FFFE: the billing writes it as the character reference &#65534;, which no parser accepts,
# so the reply breaks off there (a value its type cannot read would only be dirty data: nil, issue #13).
UNPARSABLE = "broken \ufffe here"


@pytest.fixture(scope="module")
def own_emulator(pki: Any) -> Iterator[Emulator]:
    emu = Emulator(str(pki.server_cert), str(pki.server_key), str(pki.client_ca), seed_users=USERS)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def served(own_emulator: Emulator, billing_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``soap-gateway serve`` (gunicorn, one gthread worker) in front of ``own_emulator``."""
    port = free_port()
    config = tmp_path_factory.mktemp("served") / "gateway.toml"
    config.write_text(f"""[billing]
url = "{own_emulator.url}"
cert = "{billing_settings.cert}"
ca = "{billing_settings.ca}"
server_name = "{billing_settings.server_name}"
login = "{billing_settings.login}"
password = "{billing_settings.password}"
[server]
listen = "127.0.0.1:{port}"
workers = 1
threads = 2
buffer_rows = {BUFFER_ROWS}
[auth]
mode = "none"
[journal]
path = "{config.parent / 'journal.sqlite3'}"
""", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOAP_GATEWAY_")}
    with serve_process(config, port, config.parent / "serve.log", env):
        yield f"http://127.0.0.1:{port}"


def _envelope(**args: Any) -> bytes:
    return operation("CLN_FIN_OPER", **args).encode()


def _post(url: str, **args: Any) -> tuple[http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
    try:
        conn.request("POST", "/soap", _envelope(**args), {"Content-Type": "text/xml; charset=utf-8"})
        response = conn.getresponse()
        return response, response.read()
    finally:
        conn.close()


def _spoil(emulator: Emulator, position: int) -> tuple[int, str]:
    """Give the group's operation at ``position`` (in reply order) a description that breaks the reply's XML."""
    (row,) = emulator.query("SELECT ID, DESCR FROM fin_opers WHERE USER_ID >= 1001 ORDER BY OP_DATE, ID "
                            "LIMIT 1 OFFSET ?", position)
    with emulator.store.transaction() as conn:
        conn.execute("UPDATE fin_opers SET DESCR = ? WHERE ID = ?", (UNPARSABLE, row["ID"]))
    return int(row["ID"]), row["DESCR"]


@pytest.fixture
def spoil(own_emulator: Emulator) -> Iterator[Any]:
    spoiled: list[tuple[int, str]] = []

    def at(position: int) -> None:
        spoiled.append(_spoil(own_emulator, position))

    yield at
    with own_emulator.store.transaction() as conn:
        for op_id, descr in spoiled:
            conn.execute("UPDATE fin_opers SET DESCR = ? WHERE ID = ?", (descr, op_id))


def test_a_long_list_streams_whole_and_typed(served: str, own_emulator: Emulator) -> None:
    client = zeep.Client(f"{served}/soap?wsdl", settings=zeep.Settings(strict=True))
    before = own_emulator.stats()["connections"]
    for _ in range(3):
        rows = client.service.CLN_FIN_OPER(USER_ID=5)
        assert len(rows) == USERS * 10
        assert {r.USER_ID for r in rows} == set(range(1001, 1001 + USERS))
        assert all(r.OP_TYPE == 2 and r.SUMMA.as_tuple().exponent == -2 for r in rows)
    # the streamed billing reply was read to its end, so its connection went back to the pool
    assert own_emulator.stats()["connections"] - before <= 1


def test_a_long_list_is_chunked_and_a_short_one_has_a_length(served: str) -> None:
    response, body = _post(served, USER_ID=5)
    assert response.status == 200 and response.getheader("Transfer-Encoding") == "chunked"
    assert body.count(b"<tns:Row>") == USERS * 10 and body.rstrip().endswith(b"</soap11env:Envelope>")
    response, body = _post(served, USER_ID=1001, DATEH="2025-01-03T23:59:59")  # 3 rows: within the buffer
    assert response.status == 200 and int(response.getheader("Content-Length")) == len(body)
    assert body.count(b"<tns:Row>") == 3


def test_a_failure_among_the_buffered_rows_is_a_fault(served: str, spoil: Any) -> None:
    spoil(BUFFER_ROWS - 2)
    client = zeep.Client(f"{served}/soap?wsdl")
    with pytest.raises(zeep.exceptions.Fault) as fault:
        client.service.CLN_FIN_OPER(USER_ID=5)
    assert fault.value.code.endswith("Server.BillingUnavailable")
    assert fault.value.message.startswith("[BILLING_MALFORMED_REPLY]") and "not well-formed" in fault.value.message


def test_a_failure_past_the_buffer_but_before_the_first_byte_is_still_a_fault(served: str, spoil: Any) -> None:
    spoil(BUFFER_ROWS + 20)  # read while the reply is written, but within its first 64 KiB
    client = zeep.Client(f"{served}/soap?wsdl")
    with pytest.raises(zeep.exceptions.Fault) as fault:
        client.service.CLN_FIN_OPER(USER_ID=5)
    assert fault.value.code.endswith("Server.BillingUnavailable")
    assert fault.value.message.startswith("[BILLING_MALFORMED_REPLY]")


def test_a_failure_after_the_first_byte_never_looks_like_success(served: str, spoil: Any) -> None:
    spoil(USERS * 10 - 3)
    with requests.post(f"{served}/soap", data=_envelope(USER_ID=5), stream=True, timeout=30,
                       headers={"Content-Type": "text/xml; charset=utf-8"}) as response:
        assert response.status_code == 200  # the status line went out with the first rows
        received = bytearray()
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for chunk in response.iter_content(4096):
                received += chunk
    assert b"<tns:Row>" in received and b"</soap11env:Envelope>" not in received
    client = zeep.Client(f"{served}/soap?wsdl")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        client.service.CLN_FIN_OPER(USER_ID=5)
    assert len(client.service.CLN_FIN_OPER(USER_ID=1001)) == 10  # the worker serves on


def test_stream_reads_while_consumed_and_releases_its_connection(make_client: Any, own_emulator: Emulator) -> None:
    client = make_client(url=own_emulator.url)
    client.call("CLN_HOME_LIST", {})  # logged in, one pooled connection
    opened = own_emulator.stats()["connections"]
    with client.stream("CLN_FIN_OPER", {"USER_ID": 5}) as rows:
        assert sum(1 for _ in rows) == USERS * 10
    assert own_emulator.stats()["connections"] == opened  # read to the end: reused
    with client.stream("CLN_FIN_OPER", {"USER_ID": 5}) as rows:
        next(iter(rows))
    client.call("CLN_HOME_LIST", {})
    assert own_emulator.stats()["connections"] == opened + 1  # abandoned: its connection was dropped


def test_stream_renews_an_expired_session_before_the_first_row(make_client: Any, own_emulator: Emulator) -> None:
    client = make_client(url=own_emulator.url)
    client.call("CLN_HOME_LIST", {})
    own_emulator.expire_sessions()
    with client.stream("CLN_FIN_OPER", {"USER_ID": 1001}) as rows:
        assert len(list(rows)) == 10
    assert client.logins == 2


def test_buffer_rows_must_be_positive(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("[server]\nbuffer_rows = 0\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="buffer_rows"):
        Settings.load(config, environ={})


@pytest.fixture
def in_process(own_emulator: Emulator, gateway_settings: Any) -> Iterator[str]:
    """The gateway in this process (the dev server), so its log lines can be read."""
    billing = dataclasses.replace(gateway_settings.billing, url=own_emulator.url)
    with gateway_in_thread(dataclasses.replace(gateway_settings, billing=billing), buffer_rows=BUFFER_ROWS) as server:
        yield server.url


@pytest.fixture
def json_lines() -> Iterator[Any]:
    root, buffer = logging.getLogger(), io.StringIO()
    level = root.level
    handler = configure_logging("json", stream=buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(level)


def _logged(lines: list[dict[str, Any]], correlation: str, logger: str) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("correlation_id") == correlation and line["logger"] == logger
            and line.get("procedure", "CLN_FIN_OPER") == "CLN_FIN_OPER"]  # not the login a first call makes


def test_a_streamed_reply_is_logged_once_when_it_ends(in_process: str, json_lines: Any) -> None:
    response = requests.post(f"{in_process}/soap", data=_envelope(USER_ID=5), timeout=30,
                             headers={"Content-Type": "text/xml; charset=utf-8", "X-Correlation-ID": "stream-1"})
    assert response.status_code == 200 and response.content.count(b"<tns:Row>") == USERS * 10
    lines = json_lines()
    (billing,) = _logged(lines, "stream-1", "soap_gateway.billing")
    (request,) = _logged(lines, "stream-1", "soap_gateway.request")
    assert billing["outcome"] == "ok" and billing["rows"] == USERS * 10
    assert (request["operation"], request["outcome"], request["status"]) == ("CLN_FIN_OPER", "ok", "200")
    assert lines.index(request) > lines.index(billing)  # its duration covers the whole stream


def test_a_cut_stream_is_logged_as_a_server_failure(in_process: str, json_lines: Any, spoil: Any) -> None:
    spoil(USERS * 10 - 3)
    try:
        response = requests.post(f"{in_process}/soap", data=_envelope(USER_ID=5), timeout=30,
                                 headers={"Content-Type": "text/xml; charset=utf-8", "X-Correlation-ID": "cut-1"})
        # the dev server delimits the body by closing the connection: what arrived is no envelope
        assert b"<tns:Row>" in response.content and b"</soap11env:Envelope>" not in response.content
    except requests.exceptions.ConnectionError:
        pass  # or the connection broke while reading: the same for a client
    lines = json_lines()
    (billing,) = _logged(lines, "cut-1", "soap_gateway.billing")
    (request,) = _logged(lines, "cut-1", "soap_gateway.request")
    assert billing["outcome"] == "MalformedReply"
    assert (request["operation"], request["outcome"]) == ("CLN_FIN_OPER", "Server")


# -- the same over REST ----------------------------------------------------------------------------

def test_a_long_list_streams_over_rest_as_json_or_ndjson(served: str) -> None:
    url = f"{served}/api/v1/CLN_FIN_OPER"
    with requests.get(url, params={"USER_ID": 5}, stream=True, timeout=30) as response:
        assert response.status_code == 200 and response.headers["Transfer-Encoding"] == "chunked"
        rows = json.loads(response.content)
    assert len(rows) == USERS * 10 and {r["USER_ID"] for r in rows} == set(range(1001, 1001 + USERS))
    assert all(r["OP_TYPE"] == 2 and len(r["SUMMA"].split(".")[1]) == 2 for r in rows)
    lines = requests.get(url, params={"USER_ID": 5}, headers={"Accept": "application/x-ndjson"},
                         timeout=30).content.splitlines()
    assert [json.loads(line) for line in lines] == rows
    short = requests.get(url, params={"USER_ID": 1001, "DATEH": "2025-01-03T23:59:59"}, timeout=30)
    assert int(short.headers["Content-Length"]) == len(short.content) and len(short.json()) == 3


def test_a_failure_among_the_buffered_rows_is_a_problem(served: str, spoil: Any) -> None:
    spoil(BUFFER_ROWS - 2)
    response = requests.get(f"{served}/api/v1/CLN_FIN_OPER", params={"USER_ID": 5}, timeout=30)
    assert response.status_code == 502 and response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "BILLING_MALFORMED_REPLY" and "not well-formed" in response.json()["detail"]


@pytest.mark.parametrize("accept", ["application/json", "application/x-ndjson"])
def test_a_rest_failure_after_the_first_byte_never_looks_like_success(served: str, spoil: Any, accept: str) -> None:
    spoil(USERS * 10 - 3)
    with requests.get(f"{served}/api/v1/CLN_FIN_OPER", params={"USER_ID": 5}, stream=True, timeout=30,
                      headers={"Accept": accept}) as response:
        assert response.status_code == 200
        received = bytearray()
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            for chunk in response.iter_content(4096):
                received += chunk
    assert b'"USER_ID"' in received and not received.rstrip().endswith(b"]")
