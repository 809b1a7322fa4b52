"""The background resolver: keeps looking for writes of unknown outcome, so a late commit is found unasked.

A payment whose answer was lost stays ``unknown`` until its posting is found;
the caller may never retry (a cashier's till closed for the day).  Each worker
runs one resolver thread that looks each unknown (or abandoned) entry up again
``first`` seconds after it was last looked at, then doubling the pause up to
``MAX_PAUSE``: bounded work on a billing that is slow or down.  It only ever
*finds*: it never posts and never marks a write failed.  Several workers and
instances share the journal; ``SqlJournal.take_over`` lets one look at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from ..errors import GatewayError
from .model import DONE, PENDING, UNKNOWN, Entry, Who

log = logging.getLogger("soap_gateway.journal")
MAX_PAUSE = 900.0
BATCH = 20  # entries looked at per round, at most
WHO = Who("gateway (background resolver)")


class Resolver:
    """One per process; ``start`` it, ``stop`` it before the journal is closed."""

    def __init__(self, entries: Callable[[], list[Entry]], look_again: Callable[[Entry, Who], str],
                 first: float) -> None:
        self.entries, self.look_again, self.first = entries, look_again, first
        self._pause: dict[tuple[str, str], float] = {}  # per entry: the pause before its next look
        self._due: dict[tuple[str, str], float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="journal-resolver", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        tick = min(5.0, max(0.2, self.first / 2))
        while not self._stop.wait(tick):
            try:
                self.run_once(time.time())
            except GatewayError as exc:  # the journal is down: try again next round
                log.warning("background resolver: %s", exc)

    def run_once(self, now: float) -> dict[str, int]:
        """One round: look again at the entries that are due; how many ended in which state."""
        waiting = [e for e in self.entries() if e.state == UNKNOWN or (
            e.state == PENDING and e.sent_at is not None and (e.lease_until or 0) < now)]
        live = {(e.scope, e.key) for e in waiting}
        for known in set(self._due) - live:  # settled meanwhile (a retry, an operator)
            self._due.pop(known, None)
            self._pause.pop(known, None)
        done: dict[str, int] = {}
        for entry in waiting:
            ident = (entry.scope, entry.key)
            due = self._due.setdefault(ident, max(entry.updated_at, entry.sent_at or 0) + self.first)
            if due > now or sum(done.values()) >= BATCH:
                continue
            if self._stop.is_set():
                break
            try:
                state = self.look_again(entry, WHO)
            except GatewayError as exc:
                log.warning("background resolver: key %s: %s", entry.key, exc)
                state = UNKNOWN
            done[state] = done.get(state, 0) + 1
            if state == DONE:
                self._due.pop(ident, None)
                self._pause.pop(ident, None)
                log.info("background resolver: key %s found in the billing", entry.key)
                continue
            pause = min(MAX_PAUSE, 2 * self._pause.get(ident, self.first / 2))
            self._pause[ident], self._due[ident] = pause, now + pause
        return done
