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
    """The deadlines of the bodies being read, and the thread that shuts a late one's socket.

    A request does not wake the thread: it sleeps until the earliest deadline, or while none is
    kept for the shortest time a body may take (a body that starts later cannot be due sooner),
    and is woken only for a deadline before the one it sleeps until.  Waking a thread on every
    request cost a sync worker about a fifth of its CPU.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, Arrival]] = []
        self._order = itertools.count()
        self._pid = 0  # the thread is started lazily, in the process that reads (after gunicorn forks)
        self._shortest = float("inf")  # the shortest time a body was given
        self._wake_at = float("-inf")  # when the thread looks next

    def watch(self, seconds: float, environ: dict[str, Any]) -> Arrival:
        sock = environ.get("gunicorn.socket")
        arrival = Arrival(time.monotonic() + seconds, sock if isinstance(sock, socket.socket) else None)
        if arrival.sock is not None:
            with self._lock:
                if self._pid != os.getpid():
                    self._pid = os.getpid()
                    self._heap.clear()
                    self._wake_at = float("-inf")
                    threading.Thread(target=self._run, name="body-arrival", daemon=True).start()
                self._shortest = min(self._shortest, seconds)
                while self._heap and self._heap[0][2].finished:  # bodies end in about the order they began
                    heapq.heappop(self._heap)
                heapq.heappush(self._heap, (arrival.deadline, next(self._order), arrival))
                if arrival.deadline < self._wake_at:
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
                while self._heap and self._heap[0][2].finished:
                    heapq.heappop(self._heap)
                now = time.monotonic()
                if not self._heap or self._heap[0][0] > now:
                    self._wake_at = self._heap[0][0] if self._heap else now + self._shortest
                    self._lock.wait(max(0.0, min(self._wake_at - now, threading.TIMEOUT_MAX)))
                    continue
                _, _, arrival = heapq.heappop(self._heap)
                arrival.expired = True
                try:
                    assert arrival.sock is not None
                    arrival.sock.shutdown(socket.SHUT_RD)  # the blocked read returns; the reply can still go
                except OSError:
                    pass  # already closed


WATCHDOG = Watchdog()
