"""The keep-alive pool to the billing is sized to the gunicorn threads: one connection per thread, reused."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from soap_gateway.application import create_app

THREADS = 4


def test_a_pool_smaller_than_the_threads_is_raised_to_them(gateway_settings: Any, emulator: Any) -> None:
    settings = dataclasses.replace(
        gateway_settings, billing=dataclasses.replace(gateway_settings.billing, pool_size=1),
        server=dataclasses.replace(gateway_settings.server, threads=THREADS))
    client = create_app(settings).gateway.client
    try:
        client.call("CLN_HOME_LIST", {})  # logged in; one connection open
        opened = emulator.stats()["connections"]
        emulator.add_fault("latency", proc="CLN_USR_GET", ms=300, count=THREADS)
        start = threading.Barrier(THREADS)
        results: list[Any] = []

        def call() -> None:
            start.wait()
            results.append(client.call("CLN_USR_GET", {"SELECT_ID": 101}))

        workers = [threading.Thread(target=call) for _ in range(THREADS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        assert len(results) == THREADS
        # a pool of 1 would have queued the threads behind one connection
        assert emulator.stats()["connections"] - opened == THREADS - 1
        for _ in range(3 * THREADS):  # and the connections are kept: no handshake per call
            client.call("CLN_USR_GET", {"SELECT_ID": 101})
        assert emulator.stats()["connections"] - opened == THREADS - 1
    finally:
        client.close()
