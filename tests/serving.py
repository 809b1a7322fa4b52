"""Running the gateway in tests: in this process (a thread serving real HTTP), or (like nginx) as a separate
process: a free port, wait until up, stop."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pytest
import requests

from soap_gateway.application import create_app
from soap_gateway.config import Settings
from soap_gateway.core import Gateway
from soap_gateway.devserver import BackgroundServer

ROOT = Path(__file__).parent.parent


@contextmanager
def gateway_in_thread(settings: Settings, make_gateway: Callable[[Settings], Gateway] = Gateway.from_settings,
                      **server: Any) -> Iterator[BackgroundServer]:
    """The gateway on a free port of this process, its WSDL naming that port (``server``: ServerSettings
    overrides); ``.app`` is its WSGI app, and its gateway is closed afterwards."""
    http = BackgroundServer(None)  # bound first: the settings name its port
    settings = dataclasses.replace(settings, server=dataclasses.replace(
        settings.server, listen=f"127.0.0.1:{http.port}", **server))
    app = create_app(settings, make_gateway(settings))
    http.set_app(app)
    http.app = app  # type: ignore[attr-defined]
    try:
        with http:
            yield http
    finally:
        app.gateway.close()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def ipv6_loopback() -> bool:
    """Whether [::1] can be bound here (some containers have no IPv6 at all)."""
    try:
        free_port("::1")
    except OSError:
        return False
    return True


def wait_until_up(port: int, process: subprocess.Popen[bytes], log: Path, http_path: str = "",
                  timeout: float = 60, host: str = "127.0.0.1") -> None:
    """Until the port accepts connections (and, for plain HTTP, ``http_path`` answers)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            socket.create_connection((host, port), timeout=1).close()
            if http_path:
                authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                requests.get(f"http://{authority}{http_path}", timeout=5)
            return
        except (OSError, requests.RequestException):  # not listening yet, or the workers are still loading
            time.sleep(0.1)
    pytest.fail(f"port {port} did not answer within {timeout} s:\n{log.read_text(errors='replace')[-3000:]}")


def stop(process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """SIGTERM (gunicorn's graceful stop), then SIGKILL if it does not end in time."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serve_process(config: Path, port: int, log: Path, env: Mapping[str, str] | None = None, cwd: Path = ROOT,
                  host: str = "127.0.0.1") -> Iterator[subprocess.Popen[bytes]]:
    """``python -m soap_gateway serve --config`` (gunicorn, its output in ``log``) until /healthz answers on
    ``port``; stopped gracefully at the end (its ``returncode`` is then set).  ``env``: instead of ours."""
    environ = dict(os.environ if env is None else env)
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")]))
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "soap_gateway", "serve", "--config", str(config)],
                                   cwd=cwd, env=environ, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_up(port, process, log, "/healthz", host=host)
        yield process
    finally:
        stop(process)
