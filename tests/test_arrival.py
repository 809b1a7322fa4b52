"""The body-arrival watchdog on real sockets: a late body's socket is shut at its deadline, whatever
deadlines the watchdog was already sleeping towards, and a body read in time is left alone."""

from __future__ import annotations

import socket
import time

from soap_gateway.web.arrival import Watchdog


def _reader_shut(sock: socket.socket, within: float) -> bool:
    """Whether a blocked read on ``sock`` returns end-of-stream (its read side shut) within ``within`` s."""
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False


def test_a_shorter_deadline_after_a_longer_one_is_still_kept() -> None:
    watchdog = Watchdog()
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        patient = watchdog.watch(30.0, {"gunicorn.socket": pairs[0][0]})
        time.sleep(0.2)  # the watchdog now sleeps towards the 30 s deadline (or the shortest body time)
        hasty = watchdog.watch(0.3, {"gunicorn.socket": pairs[1][0]})
        started = time.monotonic()
        assert _reader_shut(pairs[1][0], within=10)
        assert 0.2 <= time.monotonic() - started < 10 and hasty.expired and not watchdog.done(hasty)
        assert not _reader_shut(pairs[0][0], within=0.5) and not patient.expired
        in_time = watchdog.watch(0.3, {"gunicorn.socket": pairs[2][0]})
        assert watchdog.done(in_time)
        time.sleep(0.8)
        assert not in_time.expired and not _reader_shut(pairs[2][0], within=0.2)
        assert watchdog.done(patient)
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_bodies_that_follow_one_another_are_each_cut_at_their_own_deadline() -> None:
    watchdog = Watchdog()
    for _ in range(3):  # the watchdog has gone back to sleep between them
        a, b = socket.socketpair()
        with a, b:
            arrival = watchdog.watch(0.3, {"gunicorn.socket": a})
            assert _reader_shut(a, within=10) and arrival.expired
