"""The command line: demo, wsdl and check, run as a user would run them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep

from serving import free_port, ipv6_loopback, serve_process, stop, wait_until_up
from soap_gateway.demo import render_config

ROOT = Path(__file__).parent.parent


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
            cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "soap_gateway", *args], capture_output=True, text=True,
                          env=environ, timeout=timeout, cwd=cwd)


def test_wsdl_command_prints_the_committed_wsdl(tmp_path: Path) -> None:
    out = tmp_path / "billing.wsdl"
    result = run_cli("wsdl", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == (ROOT / "wsdl" / "billing.wsdl").read_bytes()


def start_demo(cwd: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    """``soap-gateway demo`` on any free ports with its own empty TMPDIR; returns it and what it printed."""
    (cwd / "tmp").mkdir(exist_ok=True)
    process = subprocess.Popen([sys.executable, "-m", "soap_gateway", "demo", "--port", "0", "--billing-port", "0",
                                *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd,
                               env={**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(cwd / "tmp")})
    lines = []
    for line in process.stdout:  # type: ignore[union-attr]
        lines.append(line)
        if "Press Ctrl-C" in line:
            break
    return process, "".join(lines)


def stop_demo(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0 and "stopped" in rest, rest
    return rest


def printed_commands(text: str) -> list[str]:
    """Each command the demo prints: a line indented by two spaces, with its more-indented continuation lines."""
    commands: list[str] = []
    for line in text[text.index("Try it with zeep:"):text.index("Press Ctrl-C")].splitlines():
        if line.startswith("    ") and commands:
            commands[-1] += "\n" + line
        elif line.startswith("  ") and line.strip():
            commands.append(line[2:])
    return commands


def test_demo_prints_commands_that_work_pasted_verbatim(tmp_path: Path) -> None:
    demo, text = start_demo(tmp_path, "--dir", "demo")
    serving = None
    try:
        wsdl_url = re.search(r"WSDL:\s+(\S+)", text)[1]  # type: ignore[index]
        client = zeep.Client(wsdl_url, settings=zeep.Settings(strict=True, force_https=False))
        assert client.service.CLN_USR_GET(SELECT_ID=101).NAME == "Иванов Иван Иванович"
        zeep_dump, one_liner, curl, serve = printed_commands(text)
        assert "-m zeep" in zeep_dump and '-c "import zeep' in one_liner and curl.startswith("curl -s")
        for command, expected in ((zeep_dump, "CLN_USR_GET("), (one_liner, "Иванов Иван Иванович"),
                                  (curl, "<tns:IDENTIFY>Иванов Иван Иванович</tns:IDENTIFY>")):
            done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60, cwd=tmp_path)
            assert done.returncode == 0 and expected in done.stdout, (command, done.stdout[-2000:], done.stderr)
        # the user's own gateway, with the configuration the demo wrote (only the port is ours, by the
        # environment, which overrides the file: 8001 may be taken on a shared machine)
        assert serve.endswith("serve --config demo/gateway.toml")
        config = (tmp_path / "demo" / "gateway.toml").read_text(encoding="utf-8")
        billing_port = re.search(r"billing:\s+https://127.0.0.1:(\d+)/", text)[1]  # type: ignore[index]
        assert config == render_config("demo", int(billing_port))
        port = free_port()
        log = tmp_path / "serve.log"
        with log.open("wb") as sink:
            serving = subprocess.Popen(["bash", "-c", serve], stdout=sink, stderr=subprocess.STDOUT, cwd=tmp_path,
                                       env={**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path / "tmp"),
                                            "SOAP_GATEWAY_LISTEN": f"127.0.0.1:{port}", "HOME": "/nonexistent"})
        wait_until_up(port, serving, log, "/healthz")
        own = zeep.Client(f"http://127.0.0.1:{port}/soap?wsdl", settings=zeep.Settings(force_https=False))
        assert own.service.CLN_USR_GET(SELECT_ID=101).NAME == "Иванов Иван Иванович"
    finally:
        if serving is not None:
            stop(serving)
        stop_demo(demo)
    output = log.read_text(errors="replace")
    assert serving.returncode == 0, output
    assert "[ERROR]" not in output and "Traceback" not in output, output  # e.g. gunicorn's control socket
    assert list((tmp_path / "tmp").iterdir()) == []  # serve's metrics directory went with it
    assert (tmp_path / "demo" / "cashier1.pfx").exists()  # --dir keeps the certificates


def test_the_shipped_demo_configuration_is_what_the_demo_writes() -> None:
    assert (ROOT / "deploy" / "demo.toml").read_text(encoding="utf-8") == render_config("demo", 1443)
    assert "--billing-port BILLING_PORT" in run_cli("demo", "--help").stdout  # 1443 by default, as the file says


def test_demo_without_dir_leaves_nothing_behind(tmp_path: Path) -> None:
    demo, text = start_demo(tmp_path)
    try:
        (workdir,) = (tmp_path / "tmp").iterdir()  # a CA key and a cashier's .pfx while it runs
        assert workdir.name.startswith("soap-gateway-demo-") and (workdir / "cashier1.pfx").exists()
        assert "serve --config" not in text and "--dir DIR" in text
    finally:
        stop_demo(demo)
    assert list((tmp_path / "tmp").iterdir()) == []


def _env(billing_settings: Any, **overrides: str) -> dict[str, str]:
    env = {
        "SOAP_GATEWAY_BILLING_URL": billing_settings.url,
        "SOAP_GATEWAY_BILLING_CERT": billing_settings.cert,
        "SOAP_GATEWAY_BILLING_CERT_PASSWORD": "",
        "SOAP_GATEWAY_BILLING_CA": billing_settings.ca,
        "SOAP_GATEWAY_BILLING_SERVER_NAME": billing_settings.server_name,
        "SOAP_GATEWAY_BILLING_LOGIN": billing_settings.login,
        "SOAP_GATEWAY_BILLING_PASSWORD": billing_settings.password,
    }
    return {**env, **overrides}


def test_check_passes_against_a_working_billing(billing_settings: Any, tmp_path: Path) -> None:
    result = run_cli("check", env=_env(billing_settings), cwd=tmp_path)  # its journal lands there
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok    login: logged in as Administrator" in result.stdout
    assert "everything works" in result.stdout


@pytest.mark.parametrize("case, expected", [
    ("missing-file", "does not exist"),
    ("wrong-pfx-password", "wrong password"),
    ("other-ca", "not signed by the configured CA"),
    ("unreachable", "reachable"),
    ("login-refused", "refused the login"),
])
def test_check_says_what_is_wrong(billing_settings: Any, pki: Any, other_ca: Any, tmp_path: Path, case: str,
                                  expected: str) -> None:
    overrides = {
        "missing-file": {"SOAP_GATEWAY_BILLING_CERT": str(tmp_path / "nope.pfx")},
        "wrong-pfx-password": {"SOAP_GATEWAY_BILLING_CERT": str(pki.clients["cashier2"]),
                               "SOAP_GATEWAY_BILLING_CERT_PASSWORD": "Wrong123"},
        "other-ca": {"SOAP_GATEWAY_BILLING_CA": str(other_ca.ca_cert)},
        "unreachable": {"SOAP_GATEWAY_BILLING_URL": "https://127.0.0.1:9/api.php"},
        "login-refused": {"SOAP_GATEWAY_BILLING_PASSWORD": "not-the-password"},
    }[case]
    result = run_cli("check", env=_env(billing_settings, **overrides), cwd=tmp_path)
    assert result.returncode == 1
    assert "FAIL" in result.stdout and expected in result.stdout, result.stdout
    assert "Wrong123" not in result.stdout + result.stderr
    assert "not-the-password" not in result.stdout + result.stderr


def test_serve_runs_gunicorn_workers_that_answer(billing_settings: Any, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "gateway.toml"
    config.write_text("[server]\nworkers = 2\nthreads = 2\n[auth]\nmode = \"none\"\n", encoding="utf-8")
    env = {**os.environ, **_env(billing_settings),
           "SOAP_GATEWAY_LISTEN": f"127.0.0.1:{port}", "SOAP_GATEWAY_PUBLIC_URL": "https://gw.isp.example/soap"}
    log = tmp_path / "serve.log"
    with serve_process(config, port, log, env, cwd=tmp_path) as process:
        wsdl = requests.get(f"http://127.0.0.1:{port}/soap?wsdl", timeout=10).text
        assert 'location="https://gw.isp.example/soap"' in wsdl
        client = zeep.Client(f"http://127.0.0.1:{port}/soap?wsdl", settings=zeep.Settings(force_https=False))
        service = client.create_service("{urn:soap-gateway:billing}BillingGateway", f"http://127.0.0.1:{port}/soap")
        assert service.CLN_USR_GET(SELECT_ID=101).NAME == "Иванов Иван Иванович"
    output = log.read_text(errors="replace")
    assert process.returncode == 0, output
    assert output.count("Booting worker") == 2
    assert not list(tmp_path.glob("journal*"))  # the journal is in the state directory, not the working one
    assert "servicemode" not in output


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine cannot bind [::1] (no IPv6 loopback)")
def test_serve_listens_on_an_ipv6_address(billing_settings: Any, tmp_path: Path) -> None:
    port = free_port("::1")
    config = tmp_path / "gateway.toml"
    config.write_text("[server]\nworkers = 1\nthreads = 1\n[auth]\nmode = \"none\"\n", encoding="utf-8")
    env = {**os.environ, **_env(billing_settings), "SOAP_GATEWAY_LISTEN": f"[::1]:{port}"}
    log = tmp_path / "serve.log"
    with serve_process(config, port, log, env, cwd=tmp_path, host="::1") as process:
        client = zeep.Client(f"http://[::1]:{port}/soap?wsdl", settings=zeep.Settings(force_https=False))
        # the address the WSDL publishes is one a consumer can call: zeep calls it below
        assert client.wsdl.services["BillingService"].ports["BillingGateway"].binding_options["address"] == \
            f"http://[::1]:{port}/soap"
        assert client.service.CLN_USR_GET(SELECT_ID=101).NAME == "Иванов Иван Иванович"
    assert process.returncode == 0, log.read_text(errors="replace")
