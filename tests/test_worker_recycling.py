"""`soap-gateway serve` replaces a worker after ``server.max_requests`` requests, or once it holds more than
``server.max_worker_memory_mib``, and no request is lost meanwhile.

Workers keep what their allocator freed and lxml every name it parsed (bench/RESULTS.md, "Hostile request
documents"), so they are recycled; gunicorn's graceful exit lets the old worker finish what it serves
while a new one starts.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

from envelopes import operation
from serving import free_port, serve_process

REPO = Path(__file__).parent.parent
ENVELOPE = operation("CLN_HOME_LIST", P_ID=5)


def _worker(master: int) -> int:
    (child,) = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(child)


def _next_worker(master: int, seen: set[int]) -> int:
    """The worker that replaced those seen: gunicorn lets the old one finish while the new one boots."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            pid = _worker(master)
        except ValueError:  # none, or the old and the new side by side
            pid = 0
        if pid and pid not in seen:
            return pid
        time.sleep(0.05)
    raise AssertionError(f"no new worker within 60 s (seen {sorted(seen)})")


def _served_workers(billing_settings: Any, tmp_path: Path, server_settings: str, requests_sent: int,
                    replaced_each_time: bool = False) -> set[int]:
    """Serve with ``server_settings`` (one worker), send SOAP calls one by one, return every worker pid seen;
    with ``replaced_each_time``, wait after every call for the worker that replaces the one that served it."""
    port = free_port()
    b = billing_settings
    config = tmp_path / "gateway.toml"
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
{server_settings}
[auth]
mode = "none"
""", encoding="utf-8")
    with serve_process(config, port, tmp_path / "serve.log", cwd=tmp_path) as master:
        seen = {_worker(master.pid)}
        for _ in range(requests_sent):
            response = requests.post(f"http://127.0.0.1:{port}/soap", data=ENVELOPE.encode(), timeout=60,
                                     headers={"Content-Type": "text/xml; charset=utf-8", "Connection": "close"})
            assert response.status_code == 200 and "Казань" in response.content.decode()
            if replaced_each_time:
                seen.add(_next_worker(master.pid, seen))
                continue
            try:
                seen.add(_worker(master.pid))
            except ValueError:  # between the old worker's exit and the new one's start
                pass
        return seen


def test_a_worker_is_replaced_after_max_requests(billing_settings: Any, tmp_path: Path) -> None:
    # at most 11 per worker (10 and a jitter of 1)
    assert len(_served_workers(billing_settings, tmp_path, "max_requests = 10", 25)) >= 2


def test_a_worker_past_the_memory_ceiling_is_replaced(billing_settings: Any, tmp_path: Path) -> None:
    # every worker holds more than 1 MiB, so each is replaced after its first call, which still succeeds
    assert len(_served_workers(billing_settings, tmp_path, "max_worker_memory_mib = 1", 3, replaced_each_time=True)) == 4
