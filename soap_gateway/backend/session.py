"""The billing session (SUID): one login shared by all threads, renewed once on expiry."""

from __future__ import annotations

import threading
from typing import Callable


class SessionManager:
    """Caches one SUID; concurrent callers that find it expired cause one login."""

    def __init__(self, login: Callable[[], str]) -> None:
        self._login = login
        self._lock = threading.Lock()
        self._suid: str | None = None
        self.logins = 0

    def current(self) -> str:
        """The cached SUID, logging in first if there is none (single flight)."""
        suid = self._suid
        if suid is not None:
            return suid
        with self._lock:
            if self._suid is None:
                self._suid = self._login()
                self.logins += 1
            return self._suid

    def invalidate(self, stale: str) -> None:
        """Forget ``stale``, unless another thread already replaced it."""
        with self._lock:
            if self._suid == stale:
                self._suid = None

    def renew(self, stale: str) -> str:
        """Replace an expired SUID: the first caller logs in, the others reuse its SUID."""
        self.invalidate(stale)
        return self.current()
