"""Running the gateway (or nginx) as a separate process in tests: a free port, wait until up, stop."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests


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
