"""The reconciliation marker: how a posting in the billing is tied back to its idempotency key.

``[gw:<16 hex>]``: the first 64 bits of HMAC-SHA256 over the key's scope (the
caller) and the key, under the gateway's secret (``SqlJournal.secret``,
generated once and kept with the journal).  A caller who knows or guesses
someone's key cannot produce its marker, so a posting of theirs is never
taken for someone else's.  It goes in front of the procedure's marker
argument (DESCR of CLN_FIN_OPER_ADD), so a billing that stores the text
shortened still keeps it.  Fixed length, so the room it takes is known in
advance and published in the WSDL; plain ASCII, so it survives windows-1251.
"""

from __future__ import annotations

import hashlib
import hmac
import json

PREFIX = "[gw:"
LENGTH = len(PREFIX) + 16 + 1
RESERVED = LENGTH + 1  # the marker and the space after it


def marker_for(secret: bytes, scope: str, key: str) -> str:
    message = json.dumps([scope, key], ensure_ascii=False).encode("utf-8")
    return f"{PREFIX}{hmac.new(secret, message, hashlib.sha256).hexdigest()[:16]}]"


def with_marker(text: str | None, marker: str) -> str:
    """The marker, then the caller's text (the marker alone for no text)."""
    return f"{marker} {text}" if text else marker


def carries(text: str | None, marker: str) -> bool:
    return bool(text) and marker in str(text)
