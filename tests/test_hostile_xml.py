"""Hostile request bodies against the production server (``soap-gateway serve``: gunicorn, one worker).

Each is refused with a SOAP fault, quickly, while the worker's peak memory
(VmHWM from /proc) stays within a bound that a real entity expansion, a
50 MB body held in memory or a 100,000-deep tree would all break.  The
bounds are loose on purpose: they catch an expansion, not a slow machine.
"""

from __future__ import annotations

import base64
import json
import socket
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from lxml import etree

from envelopes import ENV, envelope
from serving import serve_process
from soap_gateway.security.passwords import hash_password

REPO = Path(__file__).parent.parent
USER, PASSWORD = "integrator", "Hostile-XML-pw1"
SECONDS = 10.0  # per request, on a slow machine; an expansion or a 50 MB parse takes far longer
MEMORY_GROWTH_KB = 40 * 1024  # less than the 50 MB body; an expansion would need gigabytes
MAX_BODY = 1 << 20
BODY_SECONDS = 3  # the gateway's own bound on a body's arrival (server.body_timeout)
XML = "text/xml; charset=utf-8"


LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
          + "]>" + envelope("<b:CLN_USR_GET><b:SELECT_ID>&lol9;</b:SELECT_ID></b:CLN_USR_GET>"))
XXE = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
       + envelope("<b:CLN_USR_FIND_2><b:NAME_IN>&e;</b:NAME_IN></b:CLN_USR_FIND_2>"))
DEEP = envelope("<b:CLN_USR_GET>" + "<a>" * 100_000 + "</a>" * 100_000 + "</b:CLN_USR_GET>")  # 700 KB
WIDE = envelope("<b:CLN_USR_GET>" + "<b:x/>" * 100_000 + "</b:CLN_USR_GET>")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def served(billing_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`soap-gateway serve` in a subprocess; yields its URL and its single worker's pid."""
    port = _free_port()
    workdir = tmp_path_factory.mktemp("serve")
    config = workdir / "gateway.toml"
    b = billing_settings
    config.write_text(f"""
[billing]
url = "{b.url}"
cert = "{b.cert}"
ca = "{b.ca}"
server_name = "{b.server_name}"
login = "{b.login}"
password = "{b.password}"

[server]
listen = "127.0.0.1:{port}"
workers = 1
threads = 2
max_body_bytes = {MAX_BODY}
body_timeout = {BODY_SECONDS}

[auth]
mode = "basic"
[auth.users.{USER}]
password_hash = "{hash_password(PASSWORD)}"
roles = ["admin"]
""", encoding="utf-8")
    url = f"http://127.0.0.1:{port}"
    with serve_process(config, port, workdir / "serve.log", cwd=workdir) as master:
        children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
        assert len(children) == 1, children
        yield {"url": url, "port": port, "worker": int(children[0])}


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def raw_request(port: int, headers: dict[str, str], chunks: Iterator[bytes]) -> tuple[int, bytes]:
    """Send a request chunk by chunk and stop as soon as the server has answered (it may not read it all)."""
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    head = {"Host": f"127.0.0.1:{port}", "Content-Type": "text/xml; charset=utf-8", "Connection": "close",
            "Authorization": f"Basic {token}", **headers}
    with socket.create_connection(("127.0.0.1", port), timeout=SECONDS) as conn:
        conn.sendall(("POST /soap HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n").encode())
        conn.setblocking(False)
        answer = b""
        for chunk in chunks:
            try:
                answer += conn.recv(65536)
            except (BlockingIOError, ConnectionResetError):
                pass
            if answer:
                break
            try:
                conn.setblocking(True)
                conn.sendall(chunk)
                conn.setblocking(False)
            except (BrokenPipeError, ConnectionResetError):
                break
        conn.setblocking(True)
        while True:
            try:
                data = conn.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def fault_code(body: bytes) -> str:
    return etree.fromstring(body).find(f".//{{{ENV}}}Fault").findtext("faultcode")


def _post(served: dict[str, Any], body: bytes, content_type: str = XML) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.post(f"{served['url']}/soap", data=body, auth=(USER, PASSWORD), timeout=SECONDS * 3,
                             headers={"Content-Type": content_type})
    return response, time.monotonic() - started


ATTRIBUTES = envelope("<b:CLN_USR_GET " + " ".join(f'a{i}="x"' for i in range(60_000)) + "/>")  # 650 KB
NAMESPACES = envelope("<b:CLN_USR_GET " + " ".join(f'xmlns:n{i}="u"' for i in range(45_000)) + "/>")
WIDE_200K = envelope("<b:CLN_USR_GET>" + "<b:x/>" * 150_000 + "</b:CLN_USR_GET>")  # 900 KB
UTF16 = "text/xml; charset=utf-16"


@pytest.mark.parametrize("body, content_type, code", [
    (LAUGHS.encode(), XML, "Client.DTDNotAllowed"),
    (XXE.encode(), XML, "Client.DTDNotAllowed"),
    (('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
      + envelope("<b:CLN_USR_GET><b:SELECT_ID>&e;</b:SELECT_ID></b:CLN_USR_GET>")).encode("utf-16"), UTF16,
     "Client.DTDNotAllowed"),
    (b"+ADw-!DOCTYPE d +AFs-+ADw-!ENTITY a +ACI-b+ACI-+AD4-+AF0-+AD4-" + envelope("<b:CLN_USR_GET/>").encode(),
     "text/xml; charset=utf-7", "Client.EncodingNotSupported"),
    (DEEP.encode(), XML, "Client.XMLLimitExceeded"),
    (WIDE.encode(), XML, "Client.XMLLimitExceeded"),
    (envelope("<b:CLN_USR_GET>" + "<a>" * 250 + "</a>" * 250 + "</b:CLN_USR_GET>").encode("utf-16-le"), "text/xml",
     "Client.XMLLimitExceeded"),
    (WIDE_200K.encode(), "multipart/related; boundary=x", "Client.AttachmentsNotSupported"),
    (ATTRIBUTES.encode(), XML, "Client.XMLLimitExceeded"),
    (NAMESPACES.encode(), XML, "Client.XMLLimitExceeded"),
], ids=["billion-laughs", "external-entity", "utf16-doctype", "utf7-doctype", "100000-deep", "100000-wide",
        "utf16le-no-bom-250-deep", "multipart-150000-wide", "60000-attributes", "45000-namespaces"])
def test_hostile_bodies_are_refused_quickly_with_bounded_memory(served: dict[str, Any], body: bytes,
                                                                content_type: str, code: str) -> None:
    before = peak_rss_kb(served["worker"])
    response, elapsed = _post(served, body, content_type)
    assert response.status_code == 500 and response.headers["Content-Type"].startswith("text/xml")
    assert fault_code(response.content).endswith(code)
    assert b"root:" not in response.content and b"lollol" not in response.content
    assert elapsed < SECONDS
    assert peak_rss_kb(served["worker"]) - before < MEMORY_GROWTH_KB


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_50_mb_body_is_refused_without_being_read(served: dict[str, Any], chunked: bool) -> None:
    size, piece = 50 << 20, b"<a>" + b"x" * 65_530 + b"</a>"
    pieces = size // len(piece)
    before = peak_rss_kb(served["worker"])
    if chunked:
        headers = {"Transfer-Encoding": "chunked"}
        stream = (b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(pieces))
    else:
        headers = {"Content-Length": str(pieces * len(piece))}
        stream = (piece for _ in range(pieces))
    started = time.monotonic()
    status, body = raw_request(served["port"], headers, stream)
    assert status == 413 and fault_code(body).endswith("Client.RequestTooLarge")
    assert time.monotonic() - started < SECONDS
    assert peak_rss_kb(served["worker"]) - before < MEMORY_GROWTH_KB


def test_a_chunked_body_within_the_limit_is_read_whole(served: dict[str, Any]) -> None:
    """No Content-Length must not mean a truncated body: a padded chunked request still works."""
    padding = " " * (MAX_BODY // 2)
    body = envelope(f"<b:CLN_HOME_LIST>{padding}<b:P_ID>5</b:P_ID></b:CLN_HOME_LIST>").encode()
    pieces = [body[i:i + 4096] for i in range(0, len(body), 4096)]
    status, answer = raw_request(served["port"], {"Transfer-Encoding": "chunked"},
                                 iter([b"%x\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]))
    assert status == 200, answer[:500]
    assert "Казань" in answer.decode("utf-8")


def _trickle(port: int, head: dict[str, str], pieces: Iterator[bytes], pause: float,
             path: str = "/soap") -> tuple[bytes, float]:
    """Send the headers, then one piece per ``pause`` until the server answers; its answer and when it came."""
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    lines = {"Host": f"127.0.0.1:{port}", "Content-Type": XML, "Authorization": f"Basic {token}", **head}
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=SECONDS * 3) as conn:
        conn.sendall((f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in lines.items())
                      + "\r\n").encode())
        conn.settimeout(pause)
        answer = b""
        for piece in pieces:
            try:
                answer = conn.recv(65536)
            except TimeoutError:
                pass
            if answer or time.monotonic() - started > SECONDS * 3:
                break
            try:
                conn.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
        conn.settimeout(SECONDS * 3)
        while not answer.endswith(b"</soap11env:Envelope>"):
            data = conn.recv(65536)
            if not data:
                break
            answer += data
        elapsed = time.monotonic() - started
        try:
            closed = conn.recv(1) == b""  # the rest of the body is never read: the connection must end
        except ConnectionResetError:
            closed = True
        assert closed, answer[:300]
        return answer, elapsed


@pytest.mark.parametrize("head, pieces", [
    ({"Content-Length": "4000"}, (b"<" for _ in range(4000))),
    ({"Transfer-Encoding": "chunked"}, (b"1\r\n<\r\n" for _ in range(4000))),
    ({"Content-Length": "4000"}, (b"" for _ in range(4000))),
], ids=["content-length-trickle", "chunked-trickle", "silent"])
def test_a_body_that_trickles_in_is_cut_off_at_the_deadline(served: dict[str, Any], head: dict[str, str],
                                                            pieces: Iterator[bytes]) -> None:
    answer, elapsed = _trickle(served["port"], head, pieces, pause=0.5)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"408", answer[:300]
    assert fault_code(rest.partition(b"\r\n\r\n")[2]).endswith("Client.RequestTimeout")
    assert BODY_SECONDS - 0.5 <= elapsed < BODY_SECONDS + SECONDS
    assert requests.get(f"{served['url']}/healthz", timeout=SECONDS).status_code == 200


def test_a_rest_body_that_trickles_in_is_a_timeout_problem(served: dict[str, Any]) -> None:
    head = {"Content-Length": "4000", "Content-Type": "application/json"}
    answer, elapsed = _trickle(served["port"], head, (b" " for _ in range(4000)), pause=0.5,
                               path="/api/v1/CLN_USR_GET")
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"408", answer[:300]
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"application/problem+json" in headers and json.loads(body)["code"] == "REQUEST_TIMEOUT"
    assert BODY_SECONDS - 0.5 <= elapsed < BODY_SECONDS + SECONDS


def test_the_worker_survives_all_of_it(served: dict[str, Any]) -> None:
    response, _ = _post(served, envelope("<b:CLN_HOME_LIST><b:P_ID>5</b:P_ID></b:CLN_HOME_LIST>").encode())
    assert response.status_code == 200 and "Казань" in response.content.decode("utf-8")
    assert Path(f"/proc/{served['worker']}").exists()  # the same worker: none was killed and replaced


def test_serve_refuses_to_start_without_an_auth_decision(billing_settings: Any, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from soap_gateway.cli import main

    config = tmp_path / "gateway.toml"
    config.write_text(f'[billing]\nurl = "{billing_settings.url}"\n', encoding="utf-8")
    assert main(["serve", "--config", str(config)]) == 2
    assert "auth.mode is not set" in capsys.readouterr().err


# -- billing replies -------------------------------------------------------------------------------

def test_a_100000_deep_billing_reply_is_malformed_not_a_crash() -> None:
    from soap_gateway.backend import codec
    from soap_gateway.catalogue import WireFormat, load_catalogue
    from soap_gateway.errors import MalformedReply

    body = b"<result>" + b"<row>" * 100_000 + b"</row>" * 100_000 + b"</result>"
    started = time.monotonic()
    with pytest.raises(MalformedReply):
        codec.decode_reply(load_catalogue()["CLN_HOME_LIST"], body, http_charset=None, fmt=WireFormat())
    assert time.monotonic() - started < SECONDS


def test_a_billing_reply_over_the_size_limit_is_refused_while_streaming(make_client: Any) -> None:
    from soap_gateway.errors import MalformedReply

    assert make_client().call("CLN_USR_GET", {"SELECT_ID": 101})[0]["NAME"]
    with pytest.raises(MalformedReply, match="max_reply_bytes"):
        make_client(max_reply_bytes=1000).call("CLN_USR_GET", {"SELECT_ID": 101})
