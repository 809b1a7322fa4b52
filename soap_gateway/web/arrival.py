"""How long a request body may take to arrive, enforced on the socket itself.

A WSGI read blocks until the bytes asked for are there, and gunicorn's
readers loop until they are, so a client sending one byte every few seconds
would hold a worker thread for as long as it likes; checking the clock
between reads does not help.  One watchdog thread per process keeps the
deadlines of the bodies being read; at a deadline it shuts the socket's
read side, the blocked read returns what it has, and the caller sees
``expired``.  Under a server that gives no socket (the development server,
tests calling the app directly), the clock is checked between reads only.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from typing import Any


class Arrival:
    """One body being read: ``expired`` once its deadline passed before ``done()``."""

    def __init__(self, deadline: float, sock: socket.socket | None) -> None:
        self.deadline = deadline
        self.sock = sock
        self.finished = False
        self.expired = False

    def late(self) -> bool:
        return self.expired or time.monotonic() > self.deadline




class Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, Arrival]] = []
        self._order = itertools.count()
        self._pid = 0  # the thread is started lazily, in the process that reads (after gunicorn forks)

    def watch(self, seconds: float, environ: dict[str, Any]) -> Arrival:
        sock = environ.get("gunicorn.socket")
        arrival = Arrival(time.monotonic() + seconds, sock if isinstance(sock, socket.socket) else None)
        if arrival.sock is not None:
            with self._lock:
                if self._pid != os.getpid():
                    self._pid = os.getpid()
                    self._heap.clear()
                    threading.Thread(target=self._run, name="body-arrival", daemon=True).start()
                while self._heap and self._heap[0][2].finished:  # bodies end in about the order they began
                    heapq.heappop(self._heap)
                heapq.heappush(self._heap, (arrival.deadline, next(self._order), arrival))
                self._lock.notify()
        return arrival

    def done(self, arrival: Arrival) -> bool:
        """The body is read (or given up on); True when it arrived in time."""
        with self._lock:  # so the watchdog never shuts a socket whose body was complete
            arrival.finished = True
            return not arrival.late()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._heap:
                    self._lock.wait()
                deadline, _, arrival = self._heap[0]
                if arrival.finished:
                    heapq.heappop(self._heap)
                    continue
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._lock.wait(wait)
                    continue
                heapq.heappop(self._heap)
                arrival.expired = True
                try:
                    assert arrival.sock is not None
                    arrival.sock.shutdown(socket.SHUT_RD)  # the blocked read returns; the reply can still go
                except OSError:
                    pass  # already closed


WATCHDOG = Watchdog()
