"""The reconciliation marker: how a posting in the billing is tied back to its idempotency key.

``[gw:<16 hex>]`` (the first 64 bits of the key's SHA-256), appended to the
procedure's marker argument (DESCR of CLN_FIN_OPER_ADD) after one space.
Fixed length, so the room it takes is known in advance and published in the
WSDL; plain ASCII, so it survives the billing's windows-1251.  NUMBER
(VARCHAR(10)) stays the caller's: it is their document number.
"""

from __future__ import annotations

import hashlib

PREFIX = "[gw:"
LENGTH = len(PREFIX) + 16 + 1
RESERVED = LENGTH + 1  # the marker and the space before it


def marker_for(key: str) -> str:
    return f"{PREFIX}{hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]}]"


def with_marker(text: str | None, marker: str) -> str:
    """The caller's text with the marker appended (the marker alone for no text)."""
    return f"{text} {marker}" if text else marker


def carries(text: str | None, marker: str) -> bool:
    return bool(text) and marker in str(text)
