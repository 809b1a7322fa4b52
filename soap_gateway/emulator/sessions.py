"""Billing accounts and SUID sessions (random numeric(18,0) ids with a sliding lifetime)."""
from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Mapping

DEFAULT_ACCOUNTS = {"Administrator": "servicemode"}
SESSION_EXPIRED = "Сессия SUID не найдена или устарела"
BAD_LOGIN = "Неверное имя пользователя или пароль"


class Sessions:
    def __init__(self, lifetime: float = 3600, accounts: Mapping[str, str] | None = None) -> None:
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._accounts = dict(DEFAULT_ACCOUNTS, **(accounts or {}))
        self._suids: dict[int, tuple[str, float]] = {}
        self.issued: deque[int] = deque(maxlen=10_000)  # SUIDs handed out, for secret-leak tests

    def add_account(self, login: str, password: str) -> None:
        with self._lock:
            self._accounts[login] = password

    def check(self, login: str | None, password: str | None) -> bool:
        with self._lock:
            expected = self._accounts.get(login or "")
        # compare_digest: the emulator should not teach anyone timing-leaky habits
        return expected is not None and hmac.compare_digest((password or "").encode(), expected.encode())

    def login(self, login: str | None, password: str | None) -> int | None:
        if not self.check(login, password):
            return None
        suid = 10**17 + secrets.randbelow(9 * 10**17)  # always 18 digits, fits numeric(18,0)
        with self._lock:
            self._suids[suid] = (str(login), time.monotonic() + self.lifetime)
            self.issued.append(suid)
        return suid

    def resolve(self, suid: int) -> str | None:
        """The account behind a live SUID (and the lifetime restarts), else None."""
        now = time.monotonic()
        with self._lock:
            entry = self._suids.get(suid)
            if entry is None:
                return None
            if entry[1] <= now:
                del self._suids[suid]
                return None
            self._suids[suid] = (entry[0], now + self.lifetime)
            return entry[0]

    def peek(self, suid: int) -> str | None:
        """The account behind a SUID, without touching its lifetime (for the request log)."""
        with self._lock:
            entry = self._suids.get(suid)
        return entry[0] if entry and entry[1] > time.monotonic() else None

    def expire_all(self) -> int:
        with self._lock:
            count = len(self._suids)
            self._suids.clear()
        return count

    def active(self) -> int:
        now = time.monotonic()
        with self._lock:
            return sum(1 for _, expires in self._suids.values() if expires > now)
