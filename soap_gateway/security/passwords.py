"""Password hashes for HTTP Basic users: argon2id through argon2-cffi, never clear text.

A successful check is remembered as an HMAC under a per-process random key,
so a busy caller pays the deliberately slow argon2 verification once, not on
every request; a wrong password always pays it in full.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from typing import Mapping

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import ConfigurationError

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash (with its parameters and salt) for the [auth.users] table."""
    return _HASHER.hash(password)


class PasswordBook:
    """Checks user passwords against their configured argon2 hashes."""

    def __init__(self, hashes: Mapping[str, str]) -> None:
        for user, encoded in hashes.items():
            try:
                _HASHER.check_needs_rehash(encoded)  # parses the hash: a garbled one fails at startup
            except (InvalidHashError, ValueError):
                raise ConfigurationError(f"auth.users.{user}.password_hash: not a valid argon2 hash") from None
        self._hashes = dict(hashes)
        # Unknown users are checked against a real hash too, so timing does not tell who exists.
        self._decoy = _HASHER.hash(secrets.token_urlsafe(16))
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def check(self, user: str, password: str) -> bool:
        digest = hmac.new(self._key, password.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        known = self._verified.get(user)
        if known is not None and hmac.compare_digest(known, digest):
            return True
        encoded = self._hashes.get(user)
        try:
            _HASHER.verify(encoded or self._decoy, password)
        except (VerificationError, InvalidHashError):
            return False
        if encoded is None:
            return False
        with self._lock:
            self._verified[user] = digest
        return True
