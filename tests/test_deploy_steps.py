"""deploy/README's installation, its lines run in their order in a throw-away root directory, then the unit
started the way systemd would start it, called, and stopped.

What a test machine cannot do is left out, and said here: ``adduser`` (it would change the machine's
accounts: the steps use ``nobody``/``nogroup`` instead), the venv and ``pip install`` (the suite's own venv
stands in; tests/test_packaging.py builds the package), nginx (tests/test_deploy.py runs the site), and
systemd itself where it is not PID 1: there the unit's ``[Service]`` section is carried out by this test
(its environment, directories, user, working directory, ``ExecStart``, ``Type=notify``, ``KillMode=mixed``).
Where the service account cannot run this machine's Python (an interpreter under /root), ``check`` and the
service run as the test's own user.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from zeep.transports import Transport

from serving import free_port
from soap_gateway.security.passwords import hash_password

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LEFT_OUT = ("adduser ", "python3.11 -m venv ", "/bin/pip install ", "systemctl ", "nginx")


def install_steps() -> list[str]:
    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Installing on Debian 12"):]
    block = re.search(r"\n\n((?:    .*\n)+)", section)[1]  # type: ignore[index]
    lines = [line[4:] for line in block.splitlines()]
    return "\n".join(lines).replace("\\\n", "").splitlines()  # a continued line is one command, as in bash


def service_section() -> list[tuple[str, str]]:
    text = (DEPLOY / "soap-gateway.service").read_text(encoding="utf-8")
    section = text[text.index("[Service]"):text.index("[Install]")]
    return [(k, v) for k, _, v in (line.partition("=") for line in section.splitlines())
            if v and not k.startswith("#")]


def environment_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


def account_can_run_python() -> bool:
    done = subprocess.run(["runuser", "-u", "nobody", "--", sys.executable, "-c", "pass"], capture_output=True)
    return done.returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="the steps are root's (install -g, runuser)")
def test_the_installation_steps_in_order_then_the_unit(pki: Any, billing_settings: Any, tmp_path: Path) -> None:
    root, work = tmp_path / "root", tmp_path / "work"
    work.mkdir()
    (work / "deploy").symlink_to(DEPLOY)
    (work / "kassa1.pfx").write_bytes(pki.clients["cashier1"].read_bytes())  # what the billing issued
    (work / "billing-ca.pem").write_bytes(pki.ca_cert.read_bytes())
    as_account = account_can_run_python()
    mapped = {} if as_account else {"runuser -u soap-gateway -- ": ""}
    mapped.update({"/etc/soap-gateway": f"{root}/etc/soap-gateway", "/run/soap-gateway": f"{root}/run/soap-gateway",
                   "/var/lib/soap-gateway": f"{root}/var/lib/soap-gateway", "/opt/soap-gateway/venv": sys.prefix,
                   "-u soap-gateway": "-u nobody", "-o soap-gateway": "-o nobody", "-g soap-gateway": "-g nogroup"})

    def in_root(text: str) -> str:
        for example, ours in mapped.items():
            text = text.replace(example, ours)
        return text

    port, password = free_port(), "Kassa-pw-77"
    ran = []
    for step in install_steps():
        if any(part in step for part in LEFT_OUT):
            continue
        done = subprocess.run(["bash", "-c", in_root(step)], capture_output=True, text=True, timeout=120, cwd=work)
        assert done.returncode == 0, (step, done.stdout[-3000:], done.stderr[-3000:])
        ran.append(step.split()[0])
        etc = root / "etc" / "soap-gateway"
        if step.startswith("cp deploy/soap-gateway.example.toml"):  # "edit it", as the reader would
            config = in_root((etc / "gateway.toml").read_text(encoding="utf-8"))
            config = config.replace('allow = ["10.0.0.0/8"]', 'allow = ["127.0.0.0/8"]')
            config = re.sub(r'password_hash = "\$argon2id[^"]*"', f'password_hash = "{hash_password(password)}"',
                            config)
            (etc / "gateway.toml").write_text(config, encoding="utf-8")
        if step.startswith("install -m 600 deploy/soap-gateway.env.example"):  # "passwords go here"
            with (etc / "env").open("a") as env:
                env.write(in_root(
                    f"SOAP_GATEWAY_BILLING_URL={billing_settings.url}\n"
                    f"SOAP_GATEWAY_BILLING_SERVER_NAME={billing_settings.server_name}\n"
                    f"SOAP_GATEWAY_BILLING_LOGIN={billing_settings.login}\n"
                    f"SOAP_GATEWAY_BILLING_PASSWORD={billing_settings.password}\n"
                    f"SOAP_GATEWAY_LISTEN=127.0.0.1:{port}\n"))
            (etc / "env").write_text(in_root((etc / "env").read_text()))
        if "soap-gateway check" in step:
            assert "everything works" in done.stdout, done.stdout
    assert ran == ["install", "cp", "install", "install", "cp", "install", "(set"], ran
    state = root / "var" / "lib" / "soap-gateway"
    assert (state / "journal.sqlite3").exists() and oct((state).stat().st_mode & 0o777) == "0o750"
    run_the_unit(root, in_root, as_account, port, password, tmp_path)


def run_the_unit(root: Path, in_root: Any, as_account: bool, port: int, password: str, tmp_path: Path) -> None:
    """What systemd does with the unit's [Service] section, then a call and a stop."""
    service = service_section()
    settings = dict(service)
    assert (settings["Type"], settings["KillMode"], settings["User"]) == ("notify", "mixed", "soap-gateway")
    environ = {"PATH": SYSTEMD_PATH, "HOME": "/nonexistent", "LANG": "C.UTF-8"}
    environ.update(environment_file(Path(in_root(settings["EnvironmentFile"]))))
    environ.update(in_root(v).split("=", 1) for k, v in service if k == "Environment")  # type: ignore[misc]
    for kind, base in (("RuntimeDirectory", "run"), ("StateDirectory", "var/lib")):
        directory = root / base / settings[kind]
        directory.mkdir(parents=True, exist_ok=True, mode=int(settings[f"{kind}Mode"], 8))
        if as_account:
            os.chown(directory, 65534, 65534)  # nobody, nogroup
    notify = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notify))
    os.chmod(notify, 0o777)
    listener.settimeout(90)
    environ["NOTIFY_SOCKET"] = str(notify)
    command = in_root(settings["ExecStart"]).split()
    if as_account:
        command = ["runuser", "-u", "nobody", "--", *command]
    log = tmp_path / "unit.log"
    with log.open("wb") as sink:
        unit = subprocess.Popen(command, env=environ, cwd=in_root(settings["WorkingDirectory"]), stdout=sink,
                                stderr=subprocess.STDOUT)
    try:
        message = b""
        while b"READY=1" not in message:  # Type=notify: started once gunicorn says so
            assert unit.poll() is None, log.read_text()[-3000:]
            message = listener.recv(4096)
        session = requests.Session()
        session.auth = ("buh1c", password)
        client = zeep.Client(f"http://127.0.0.1:{port}/soap?wsdl", transport=Transport(session=session),
                             settings=zeep.Settings(force_https=False))
        service_proxy = client.create_service("{urn:soap-gateway:billing}BillingGateway",
                                              f"http://127.0.0.1:{port}/soap")
        assert service_proxy.CLN_USR_GET(SELECT_ID=101).NAME == "Иванов Иван Иванович"
        ready = session.get(f"http://127.0.0.1:{port}/readyz", timeout=30)
        assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
        assert list((root / "run" / "soap-gateway" / "metrics").glob("*.db"))  # the unit's metrics directory
    finally:
        unit.send_signal(signal.SIGTERM)  # KillMode=mixed: TERM to the main process only
        unit.wait(timeout=int(settings["TimeoutStopSec"]))
        listener.close()
    output = log.read_text(errors="replace")
    assert unit.returncode == 0, output[-3000:]
    assert "[ERROR]" not in output and "Traceback" not in output, output[-3000:]
