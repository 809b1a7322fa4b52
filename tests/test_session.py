"""SessionManager: one SUID shared by all threads, one login per expiry (single flight)."""

from __future__ import annotations

import threading
import time
from typing import Callable

import pytest

from soap_gateway.backend.session import SessionManager

THREADS = 20


class SlowLogin:
    """A login that takes a while and hands out SUIDs 1001, 1002, ..."""

    def __init__(self, delay: float = 0.05) -> None:
        self.delay = delay
        self.calls = 0
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self.calls += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            suid = str(1000 + self.calls)
        time.sleep(self.delay)
        with self._lock:
            self.active -= 1
        return suid


def run_together(action: Callable[[], str], count: int = THREADS) -> list[str]:
    """Start ``count`` threads that call ``action`` at the same moment; their results."""
    barrier = threading.Barrier(count)
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        try:
            value = action()
        except BaseException as exc:  # reported below, not lost in the thread
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(value)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors
    return results


def test_concurrent_first_use_logs_in_once() -> None:
    login = SlowLogin()
    manager = SessionManager(login)
    results = run_together(manager.current)
    assert login.calls == 1 and manager.logins == 1
    assert results == ["1001"] * THREADS
    assert manager.current() == "1001" and login.calls == 1  # cached afterwards


def test_concurrent_invalidation_causes_one_more_login() -> None:
    login = SlowLogin()
    manager = SessionManager(login)
    stale = manager.current()

    def expired() -> str:
        manager.invalidate(stale)
        return manager.current()

    results = run_together(expired)
    assert login.calls == 2 and manager.logins == 2
    assert results == ["1002"] * THREADS
    assert login.max_active == 1


def test_concurrent_renew_logs_in_once() -> None:
    login = SlowLogin()
    manager = SessionManager(login)
    stale = manager.current()
    results = run_together(lambda: manager.renew(stale))
    assert login.calls == 2
    assert set(results) == {"1002"}


def test_invalidating_an_old_suid_keeps_the_newer_one() -> None:
    login = SlowLogin(delay=0)
    manager = SessionManager(login)
    first = manager.current()
    manager.invalidate(first)
    second = manager.current()
    assert (first, second) == ("1001", "1002")
    manager.invalidate(first)  # a late caller still holding the old SUID
    assert manager.current() == "1002" and login.calls == 2
    assert manager.renew(first) == "1002" and login.calls == 2
    assert manager.renew(second) == "1003" and login.calls == 3


def test_a_failed_login_caches_nothing() -> None:
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("billing down")
        return "2001"

    manager = SessionManager(flaky)
    with pytest.raises(ConnectionError):
        manager.current()
    assert manager.logins == 0
    assert manager.current() == "2001" and manager.logins == 1 and len(attempts) == 2
