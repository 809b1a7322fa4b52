"""A prepared call: a procedure's arguments validated and encoded once, ready to send as they are.

The client prepares every call before sending it, and sends nothing else.
The write journal fingerprints a write by its prepared call and sends that
same object (or the one with its reconciliation marker put in), so what was
journaled and what the billing gets cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..catalogue import Procedure


@dataclass(frozen=True)
class PreparedCall:
    """``args``: the caller's arguments checked and made canonical (typed values by name);
    ``positional``: what follows the SUID on the wire, ``null`` for null, fixed ones filled in."""

    proc: Procedure
    args: Mapping[str, Any]
    positional: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.proc.name

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.proc.name, self.positional)


def fingerprint(procedure: str, positional: Sequence[str]) -> str:
    """The payload's identity: the procedure and its arguments exactly as the billing would get them."""
    return hashlib.sha256(json.dumps([procedure, list(positional)], ensure_ascii=False).encode()).hexdigest()
