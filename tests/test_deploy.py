"""deploy/ exercised: gunicorn with deploy/gunicorn.conf.py (several workers, metrics that add up, JSON logs),
the real nginx terminating TLS in front of it with zeep over HTTPS, and the systemd unit checked by systemd-analyze.
"""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import zeep
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, pkcs12
from lxml import etree

from envelopes import HEADERS, operation
from serving import free_port, serve_process, stop, wait_until_up
from soap_gateway.certs import create_server_cert

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
WORKERS = 4


def post(url: str, user_id: Any, correlation_id: str = "") -> requests.Response:
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    if correlation_id:
        headers["X-Correlation-ID"] = correlation_id
    return requests.post(url, data=operation("CLN_USR_GET", SELECT_ID=user_id).encode(), headers=headers, timeout=30)


def gateway_environment(billing: Any, workdir: Path, listen: str, config: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "SOAP_GATEWAY_CONFIG": str(config),
        "SOAP_GATEWAY_BILLING_URL": billing.url, "SOAP_GATEWAY_BILLING_CERT": billing.cert,
        "SOAP_GATEWAY_BILLING_CERT_PASSWORD": billing.cert_password, "SOAP_GATEWAY_BILLING_CA": billing.ca,
        "SOAP_GATEWAY_BILLING_SERVER_NAME": billing.server_name, "SOAP_GATEWAY_BILLING_LOGIN": billing.login,
        "SOAP_GATEWAY_BILLING_PASSWORD": billing.password, "SOAP_GATEWAY_LISTEN": listen,
        "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
    }


@dataclass
class Gunicorn:
    url: str
    public_url: str
    log: Path
    metrics_dir: Path
    nginx_port: int


@pytest.fixture(scope="module")
def gunicorn(billing_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    """gunicorn -c deploy/gunicorn.conf.py with sync workers and JSON logs, as the docs say to run it."""
    workdir = tmp_path_factory.mktemp("gunicorn")
    port, nginx_port = free_port(), free_port()
    public_url = f"https://127.0.0.1:{nginx_port}/soap"
    config = workdir / "gateway.toml"
    config.write_text(f'[server]\npublic_url = "{public_url}"\nworkers = {WORKERS}\nthreads = 1\n'
                      'log_format = "json"\n[billing]\nread_timeout = 10.0\n'
                      '[auth]\nmode = "none"\n', encoding="utf-8")  # nginx in front is the only caller
    env = gateway_environment(billing_settings, workdir, f"127.0.0.1:{port}", config)
    # samples an earlier run left behind: a restart must not add them to this run's
    (workdir / "metrics").mkdir()
    subprocess.run([sys.executable, "-c", "from soap_gateway.ops import metrics\n"
                    "for _ in range(1000): metrics.observe_request('soap', 'CLN_USR_GET', 'ok', 0.1)"],
                   env=env, check=True, timeout=60)
    assert list((workdir / "metrics").glob("*.db"))
    log = workdir / "gunicorn.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py"),
             "soap_gateway.wsgi:application"],
            env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=workdir)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(port, process, log, "/healthz")
        deadline = time.monotonic() + 60  # every worker, not only the first, has built its app
        while log.read_text().count('"worker ') < WORKERS:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.1)
        yield Gunicorn(url, public_url, log, workdir / "metrics", nginx_port)
    finally:
        stop(process)


def scrape(url: str) -> str:
    response = requests.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200
    return response.text


def sample(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


# -- gunicorn --------------------------------------------------------------------------------------

def test_gunicorn_serves_the_wsdl_with_the_public_address(gunicorn: Gunicorn) -> None:
    response = requests.get(f"{gunicorn.url}/soap?wsdl", timeout=10, headers={"Host": "evil.example"})
    assert response.status_code == 200
    (address,) = etree.fromstring(response.content).xpath("//*[local-name()='address']/@location")
    assert address == gunicorn.public_url
    assert post(f"{gunicorn.url}/soap", 101).status_code == 200


def test_samples_of_an_earlier_run_are_dropped(gunicorn: Gunicorn) -> None:
    ok = 'soap_gateway_requests_total{facade="soap",operation="CLN_USR_GET",outcome="ok"}'
    assert sample(scrape(gunicorn.url), ok) < 1000


def test_metrics_add_up_across_workers(gunicorn: Gunicorn, emulator: Any) -> None:
    ok = 'soap_gateway_requests_total{facade="soap",operation="CLN_USR_GET",outcome="ok"}'
    before = sample(scrape(gunicorn.url), ok)
    slow = WORKERS - 1
    emulator.add_fault("latency", ms=2000, proc="CLN_USR_GET", count=slow)
    emulator.reset_stats()
    with ThreadPoolExecutor(max_workers=8) as pool:
        # sync workers: each slow call holds one worker, so they are answered by different processes
        held = [pool.submit(post, f"{gunicorn.url}/soap", 101) for _ in range(slow)]
        deadline = time.monotonic() + 20
        while len([r for r in emulator.requests() if r.proc == "CLN_USR_GET"]) < slow:
            assert time.monotonic() < deadline, "the slow calls never reached the billing"
            time.sleep(0.02)
        during = scrape(gunicorn.url)  # answered by the one free worker
        assert all(f.result().status_code == 200 for f in held)
        quick = list(pool.map(lambda i: post(f"{gunicorn.url}/soap", 101).status_code, range(20)))
    assert quick == [200] * 20
    assert sample(during, "soap_gateway_requests_in_flight", '{facade="soap"}') == slow
    counts = {sample(scrape(gunicorn.url), ok) for _ in range(2 * WORKERS)}  # whichever worker answers
    assert counts == {before + slow + 20}
    writers = {p.stem.rpartition("_")[2] for p in gunicorn.metrics_dir.glob("counter_*.db")}
    assert len(writers) >= slow, writers
    assert sample(scrape(gunicorn.url), "soap_gateway_requests_in_flight", '{facade="soap"}') == 0


def test_json_log_lines_from_the_workers(gunicorn: Gunicorn) -> None:
    for i in range(3):
        assert post(f"{gunicorn.url}/soap", 101, f"gunicorn-json-{i}").headers["X-Correlation-ID"] == \
            f"gunicorn-json-{i}"
    time.sleep(0.2)
    records = [json.loads(line) for line in gunicorn.log.read_text().splitlines() if line.startswith("{")]
    for i in range(3):
        mine = [r for r in records if r.get("correlation_id") == f"gunicorn-json-{i}"]
        assert sorted(r["logger"] for r in mine) == ["soap_gateway.billing", "soap_gateway.request"]
        (request,) = [r for r in mine if r["logger"] == "soap_gateway.request"]
        assert (request["operation"], request["outcome"], request["status"]) == ("CLN_USR_GET", "ok", "200")


def test_gunicorn_refuses_a_missing_certificate(billing_settings: Any, tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[auth]\nmode = "none"\n', encoding="utf-8")
    env = gateway_environment(billing_settings, tmp_path, f"127.0.0.1:{free_port()}", config)
    env["SOAP_GATEWAY_BILLING_CERT"] = str(tmp_path / "kassa1.pfx")
    done = subprocess.run([sys.executable, "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py"),
                           "soap_gateway.wsgi:application"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "configuration error: billing.cert: " in done.stderr and "kassa1.pfx does not exist" in done.stderr


# -- nginx in front --------------------------------------------------------------------------------

SITE_VALUES = {  # what the example site names -> what this test uses
    "listen 443 ssl;": "listen 127.0.0.1:{port} ssl;",
    "listen [::]:443 ssl;": "",
    "server 127.0.0.1:8000;": "server 127.0.0.1:{upstream};",
    "/etc/ssl/soap-gateway/gateway.pem": "{cert}",
    "/etc/ssl/soap-gateway/gateway.key": "{key}",
    "/etc/ssl/soap-gateway/clients-ca.pem": "{client_ca}",
    "server_name gateway.isp.example;": "server_name 127.0.0.1;",
}


def site_config(values: dict[str, Any], require_client_cert: bool) -> str:
    text = (DEPLOY / "nginx-soap-gateway.conf").read_text(encoding="utf-8")
    assert "proxy_intercept_errors off;" in text  # SOAP-INTEROP rule 11
    for example, ours in SITE_VALUES.items():
        assert example in text, f"deploy/nginx-soap-gateway.conf no longer says {example!r}"
        text = text.replace(example, ours.format(**values))
    if require_client_cert:
        text = text.replace("#ssl_client_certificate", "ssl_client_certificate").replace(
            "#ssl_verify_client on;", "ssl_verify_client on;")
    return text


def start_nginx(nginx: str, workdir: Path, site: str, port: int) -> subprocess.Popen[bytes]:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "site.conf").write_text(site, encoding="utf-8")
    temp = "\n".join(f"    {kind}_temp_path {workdir / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                           "uwsgi", "scgi"))
    (workdir / "nginx.conf").write_text(f"""
{"user root;" if os.geteuid() == 0 else ""}
daemon off;
worker_processes 1;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} info;
events {{ worker_connections 64; }}
http {{
    access_log {workdir / "access.log"};
{temp}
    include {workdir / "site.conf"};
}}
""", encoding="utf-8")
    command = [nginx, "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(workdir / "nginx.conf")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    log = workdir / "nginx.out"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_until_up(port, process, workdir / "error.log")
    except BaseException:
        stop(process)
        raise
    return process


@pytest.fixture(scope="module")
def tls(pki: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """nginx's certificate (for 127.0.0.1) and a client certificate as PEM, from the test CA."""
    workdir = tmp_path_factory.mktemp("tls")
    cert, key = create_server_cert(pki.ca_cert, pki.ca_key, "gateway.test", workdir, ("127.0.0.1",))
    client_key, client_cert, _ = pkcs12.load_key_and_certificates(pki.clients["cashier1"].read_bytes(), None)
    (workdir / "client.pem").write_bytes(client_cert.public_bytes(Encoding.PEM))
    (workdir / "client.key").write_bytes(client_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                                                  NoEncryption()))
    return {"cert": cert, "key": key, "client_cert": workdir / "client.pem", "client_key": workdir / "client.key"}


@pytest.fixture(scope="module")
def nginx_binary(tool: Any) -> str:
    return tool("nginx")


@pytest.fixture(scope="module")
def nginx(nginx_binary: str, gunicorn: Gunicorn, tls: dict[str, Path], pki: Any,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    values = {"port": gunicorn.nginx_port, "upstream": gunicorn.url.rpartition(":")[2], "cert": tls["cert"],
              "key": tls["key"], "client_ca": pki.ca_cert}
    process = start_nginx(nginx_binary, tmp_path_factory.mktemp("nginx"), site_config(values, False),
                          gunicorn.nginx_port)
    yield f"https://127.0.0.1:{gunicorn.nginx_port}"
    stop(process)


def https_session(ca: Path) -> requests.Session:
    session = requests.Session()
    session.verify = str(ca)
    session.trust_env = False  # REQUESTS_CA_BUNDLE (set by conftest) would replace our CA
    return session


def test_zeep_over_https_through_nginx(nginx: str, pki: Any) -> None:
    from zeep.plugins import HistoryPlugin
    from zeep.transports import Transport

    history = HistoryPlugin()
    client = zeep.Client(f"{nginx}/soap?wsdl", transport=Transport(session=https_session(pki.ca_cert)),
                         plugins=[history], settings=zeep.Settings(strict=True, force_https=False))
    assert client.service._binding_options["address"] == f"{nginx}/soap"  # the WSDL advertises https
    user = client.service.CLN_USR_GET(SELECT_ID=101)
    assert user.NAME == "Иванов Иван Иванович"
    with pytest.raises(zeep.exceptions.Fault) as caught:  # a fault arrives as a fault, not an nginx page
        client.service.CLN_USR_GET(SELECT_ID=999999)
    assert caught.value.code.endswith("Client.NotFound")


def test_correlation_id_passes_through_nginx(nginx: str, pki: Any) -> None:
    response = https_session(pki.ca_cert).post(
        f"{nginx}/soap", data=operation("CLN_USR_GET", SELECT_ID=101).encode(), timeout=30,
        headers={"Content-Type": "text/xml; charset=utf-8", "X-Correlation-ID": "through-nginx-1"})
    assert response.status_code == 200 and response.headers["X-Correlation-ID"] == "through-nginx-1"


def test_nginx_can_require_client_certificates(nginx_binary: str, gunicorn: Gunicorn, tls: dict[str, Path],
                                               pki: Any, tmp_path: Path) -> None:
    port = free_port()
    values = {"port": port, "upstream": gunicorn.url.rpartition(":")[2], "cert": tls["cert"], "key": tls["key"],
              "client_ca": pki.ca_cert}
    process = start_nginx(nginx_binary, tmp_path / "nginx-mtls", site_config(values, True), port)
    try:
        session = https_session(pki.ca_cert)
        url = f"https://127.0.0.1:{port}/soap?wsdl"
        assert session.get(url, timeout=10).status_code == 400  # "No required SSL certificate was sent"
        session.cert = (str(tls["client_cert"]), str(tls["client_key"]))
        assert session.get(url, timeout=10).status_code == 200
    finally:
        stop(process)


# -- slow clients at nginx -------------------------------------------------------------------------

SLOW_CLIENTS = 8
HEALTHZ_SECONDS = 3.0  # each probe; the aim is under a second, the bound is loose for a loaded machine
CLIENT_TIMEOUT = 10  # client_header_timeout / client_body_timeout of the site


def _tls_connection(port: int, ca: Path) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(ca))
    raw = socket.create_connection(("127.0.0.1", port), timeout=60)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def _drip(port: int, ca: Path, first: bytes, drop: bytes, done: threading.Event) -> None:
    """Send ``first``, then ``drop`` every half second until ``done`` (or until nginx hangs up)."""
    with _tls_connection(port, ca) as conn:
        conn.sendall(first)
        while not done.wait(0.5):
            try:
                conn.sendall(drop)
            except OSError:
                return


def _closed_within(conn: ssl.SSLSocket, seconds: float) -> float | None:
    """How long until nginx answers or closes a connection that sends nothing more; None if it never does."""
    started = time.monotonic()
    conn.settimeout(seconds)
    try:
        while conn.recv(4096):
            pass
    except TimeoutError:
        return None
    except OSError:
        pass
    return time.monotonic() - started


def test_slow_clients_wait_at_nginx_while_gunicorn_answers(nginx: str, gunicorn: Gunicorn, pki: Any) -> None:
    """Eight slow uploads and eight slow header senders against four sync workers: nginx holds them."""
    port = gunicorn.nginx_port
    upload = (b"POST /soap HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml; charset=utf-8\r\n"
              b"Content-Length: 4000\r\n\r\n<")
    header = b"POST /soap HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    done = threading.Event()
    clients = [threading.Thread(target=_drip, args=(port, pki.ca_cert, first, drop, done), daemon=True)
               for first, drop in [(upload, b" ")] * SLOW_CLIENTS + [(header, b"X-Slow: 1\r\n")] * SLOW_CLIENTS]
    silent_header, silent_body = _tls_connection(port, pki.ca_cert), _tls_connection(port, pki.ca_cert)
    silent_header.sendall(header)
    silent_body.sendall(upload)
    for client in clients:
        client.start()
    session = https_session(pki.ca_cert)
    worst, rounds, started = 0.0, 0, time.monotonic()
    try:
        time.sleep(1)  # every slow client is connected and sending
        while time.monotonic() - started < 6:
            probe = time.monotonic()
            assert session.get(f"{nginx}/healthz", timeout=30).status_code == 200
            worst = max(worst, time.monotonic() - probe)
            if rounds % 4 == 0:  # and a SOAP call goes through a worker too
                answer = session.post(f"{nginx}/soap", data=operation("CLN_USR_GET", SELECT_ID=101).encode(),
                                      timeout=30, headers=HEADERS)
                assert answer.status_code == 200
            rounds += 1
            time.sleep(0.2)
        # a client that sends nothing more is dropped by nginx, not kept forever
        for conn in (silent_header, silent_body):
            closed = _closed_within(conn, CLIENT_TIMEOUT + 20)
            assert closed is not None and time.monotonic() - started >= CLIENT_TIMEOUT - 1
    finally:
        done.set()
        silent_header.close()
        silent_body.close()
        for client in clients:
            client.join(timeout=10)
    assert rounds >= 5 and worst < HEALTHZ_SECONDS, (rounds, worst)


# -- systemd ---------------------------------------------------------------------------------------

@pytest.fixture
def analyze(tool: Any) -> str:
    return tool("systemd-analyze")


@pytest.fixture
def unit(tmp_path: Path, tool: Any) -> Path:
    """The unit with ExecStart pointing at this machine's gunicorn (verify checks that it exists)."""
    text = (DEPLOY / "soap-gateway.service").read_text(encoding="utf-8")
    example = "/opt/soap-gateway/venv/bin/gunicorn"
    assert example in text
    gunicorn = Path(sys.executable).parent / "gunicorn"
    path = tmp_path / "soap-gateway.service"
    path.write_text(text.replace(example, str(gunicorn if gunicorn.exists() else tool("gunicorn"))))
    return path


def test_systemd_unit_verifies(analyze: str, unit: Path) -> None:
    done = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), done.stderr


def test_systemd_unit_is_hardened(analyze: str, unit: Path) -> None:
    text = unit.read_text()
    for directive in ("User=soap-gateway", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                      "PrivateTmp=yes", "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service"):
        assert directive in text, directive
    done = subprocess.run([analyze, "security", "--offline=yes", "--no-pager", "--threshold=20", str(unit)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    (level,) = re.findall(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", done.stdout)
    assert float(level[0]) <= 2.0 and level[1] == "OK", level  # systemd's scale: 0 safest, 10 exposed


def test_soap_gateway_serve_runs_gunicorn_with_shared_metrics(billing_settings: Any, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "gateway.toml"
    config.write_text('[server]\nworkers = 2\nthreads = 2\n[auth]\nmode = "none"\n', encoding="utf-8")
    env = gateway_environment(billing_settings, tmp_path, f"127.0.0.1:{port}", config)
    del env["PROMETHEUS_MULTIPROC_DIR"]  # serve makes its own
    log = tmp_path / "serve.log"
    with serve_process(config, port, log, env, cwd=tmp_path):
        url = f"http://127.0.0.1:{port}"
        wsdl = requests.get(f"{url}/soap?wsdl", timeout=10)
        assert wsdl.status_code == 200 and f'location="{url}/soap"'.encode() in wsdl.content
        ok = 'soap_gateway_requests_total{facade="soap",operation="CLN_USR_GET",outcome="ok"}'
        with ThreadPoolExecutor(max_workers=6) as pool:
            assert set(pool.map(lambda i: post(f"{url}/soap", 101).status_code, range(12))) == {200}
        assert {sample(scrape(url), ok) for _ in range(4)} == {12.0}
    assert "Booting worker" in log.read_text()


def test_gunicorn_with_the_conf_leaves_nothing_behind(billing_settings: Any, tmp_path: Path) -> None:
    """Without a named metrics directory the master makes one in TMPDIR and removes it at exit; under a
    home it cannot write (the unit's /nonexistent) gunicorn logs no control-socket error."""
    config = tmp_path / "gateway.toml"
    config.write_text('[server]\nworkers = 1\nthreads = 1\n[auth]\nmode = "none"\n', encoding="utf-8")
    port = free_port()
    env = gateway_environment(billing_settings, tmp_path, f"127.0.0.1:{port}", config)
    del env["PROMETHEUS_MULTIPROC_DIR"]
    (tmp_path / "tmp").mkdir()
    env.update(TMPDIR=str(tmp_path / "tmp"), HOME="/nonexistent")
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py"),
                                    "soap_gateway.wsgi:application"], env=env, stdout=sink, stderr=subprocess.STDOUT,
                                   cwd=tmp_path)
    try:
        wait_until_up(port, process, log, "/healthz")
        assert [p.name[:21] for p in (tmp_path / "tmp").iterdir()] == ["soap-gateway-metrics-"]
        assert post(f"http://127.0.0.1:{port}/soap", 101).status_code == 200
    finally:
        stop(process)
    output = log.read_text(errors="replace")
    assert process.returncode == 0 and "[ERROR]" not in output, output[-3000:]
    assert list((tmp_path / "tmp").iterdir()) == []
