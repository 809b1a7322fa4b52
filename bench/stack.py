"""The processes under test: the billing emulator, gateways and Spyne floors under gunicorn.

Each runs as its own process group with its output in the work directory, so CPU and memory are
read per process and nothing of the benchmark's own threads is counted against the servers.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from soap_gateway.certs import create_demo_pki

from . import procs

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "billing.local"
ADMIN = ("Administrator", "servicemode")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for name in list(env):  # the servers read their configuration from the file only
        if name.startswith("SOAP_GATEWAY_"):
            del env[name]
    return env


@dataclass
class Server:
    """One started process (a gunicorn master or the emulator)."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    settings: str = ""
    ready_path: str = "/"
    expected_workers: int = 1
    _log_handle: IO[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def workers(self) -> list[int]:
        """gunicorn's worker processes (the emulator is its own single worker)."""
        return procs.children(self.pid) or [self.pid]

    def cpu(self) -> float:
        return sum(procs.cpu_seconds(pid) for pid in self.workers())

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        if self._log_handle:
            self._log_handle.close()


def _spawn(name: str, argv: list[str], workdir: Path) -> tuple[subprocess.Popen[bytes], Path, IO[bytes]]:
    log = workdir / f"{name}.log"
    handle = log.open("wb")
    process = subprocess.Popen(argv, cwd=ROOT, env=_env(), stdout=handle, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    return process, log, handle


def start_emulator(workdir: Path, pki: dict[str, str], users: int, ops: int) -> Server:
    argv = [sys.executable, "-m", "soap_gateway", "emulator", "--port", "0", "--cert", pki["cert"],
            "--key", pki["key"], "--client-ca", pki["ca"], "--seed-users", str(users), "--seed-ops", str(ops)]
    process, log, handle = _spawn("emulator", argv, workdir)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        match = re.search(r"listening on (https://\S+)/api\.php", log.read_text(errors="replace"))
        if match:
            return Server("emulator", process, match[1], log, _log_handle=handle)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"the emulator did not start; see {log}")


def gateway_config(workdir: Path, name: str, port: int, billing: str, pki: dict[str, str],
                   workers: int, threads: int, extra: str = "", read_timeout: float = 300,
                   journal: str = "") -> Path:
    """``extra``: more [billing] keys; ``journal``: a whole [journal] section (default: an SQLite file)."""
    path = workdir / f"{name}.toml"
    journal = journal or f'[journal]\npath = "{workdir / (name + "-journal.sqlite3")}"\n'
    path.write_text(f"""[billing]
url = "{billing}/api.php"
cert = "{pki['pfx']}"
ca = "{pki['ca']}"
server_name = "{DOMAIN}"
login = "{ADMIN[0]}"
password = "{ADMIN[1]}"
read_timeout = {read_timeout}
{extra}
[server]
listen = "127.0.0.1:{port}"
workers = {workers}
threads = {threads}
timeout = 600
[auth]
mode = "none"
{journal}""", encoding="utf-8")
    return path


def launch_gateway(workdir: Path, name: str, billing: str, pki: dict[str, str], workers: int, threads: int,
                   extra: str = "", read_timeout: float = 300, journal: str = "") -> Server:
    port = free_port()
    config = gateway_config(workdir, name, port, billing, pki, workers, threads, extra, read_timeout, journal)
    argv = [sys.executable, "-m", "soap_gateway", "serve", "--config", str(config)]
    process, log, handle = _spawn(name, argv, workdir)
    return Server(name, process, f"http://127.0.0.1:{port}", log, _settings(workers, threads), "/healthz", workers,
                  handle)


def launch_floor(workdir: Path, name: str, reply: Path, workers: int, threads: int) -> Server:
    """The Spyne floor under the same gunicorn settings the gateway's server.py derives."""
    return _launch_app(workdir, name, f"BENCH_FLOOR_REPLY={reply}", "bench.floor_app:application", workers, threads)


def launch_lxml_floor(workdir: Path, name: str, reply: Path, workers: int, threads: int) -> Server:
    """The raw lxml floor (bench/lxml_floor_app.py) under the same gunicorn settings."""
    return _launch_app(workdir, name, f"BENCH_LXML_REPLY={reply}", "bench.lxml_floor_app:application", workers,
                       threads)


def _launch_app(workdir: Path, name: str, env: str, app: str, workers: int, threads: int) -> Server:
    """A WSGI ``app`` of the bench under gunicorn with the gateway's worker settings; ``env``: NAME=value."""
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--threads", str(threads), "--worker-class", "gthread" if threads > 1 else "sync",
            "--timeout", "600", "--env", env, app]
    process, log, handle = _spawn(name, argv, workdir)
    return Server(name, process, f"http://127.0.0.1:{port}", log, _settings(workers, threads), "/soap?wsdl", workers,
                  handle)


def _settings(workers: int, threads: int) -> str:
    return f"{'gthread' if threads > 1 else 'sync'} {workers}×{threads}"


def wait_ready(server: Server) -> Server:
    """Wait until the port answers and every worker has started loading the app."""
    path, workers = server.ready_path, server.expected_workers
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(server.url + path, timeout=5) as response:
                # a worker still building the app does not accept yet; the warm-up calls wait for it
                if response.status == 200 and len(procs.children(server.pid)) >= workers:
                    return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{server.name} did not start; see {server.log}")


def make_pki(workdir: Path) -> dict[str, str]:
    """RSA-2048 keys, as the billing issues them; the client .pfx also as PEM for plain requests."""
    made = create_demo_pki(workdir / "pki", domain=DOMAIN, rsa_key=True)
    pfx = made.clients["cashier1"]
    key, cert, _ = pkcs12.load_key_and_certificates(pfx.read_bytes(), None)
    assert key is not None and cert is not None
    pem, pem_key = workdir / "pki" / "cashier1.crt", workdir / "pki" / "cashier1.key"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem_key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return {"cert": str(made.server_cert), "key": str(made.server_key), "ca": str(made.ca_cert), "pfx": str(pfx),
            "pem": str(pem), "pem_key": str(pem_key)}
