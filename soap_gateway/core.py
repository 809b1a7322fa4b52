"""The gateway core: what happens to a call between the SOAP face and the billing client.

The SOAP layer hands over validated operation arguments; the core applies
the per-call policy (whose session, login handling) and returns typed rows.
"""

from __future__ import annotations

from typing import Any, Mapping

from .backend import BillingClient, Credentials, Row
from .errors import AuthenticationFailed, BillingError


class Gateway:
    """Runs catalogue operations for SOAP callers."""

    def __init__(self, client: BillingClient) -> None:
        self.client = client
        self.catalogue = client.catalogue

    def invoke(self, name: str, args: Mapping[str, Any], *, suid: str | None = None,
               credentials: Credentials | None = None) -> list[Row]:
        """One operation; ``suid`` is a caller's own billing session from the SOAP header."""
        proc = self.client.procedure(name)
        if proc.mode == "login":
            try:
                return self.client.call(name, args)
            except BillingError as exc:
                raise AuthenticationFailed(login=str(args.get("LOGIN", "")),
                                           billing_message=exc.billing_message) from None
        return self.client.call(name, args, suid=suid, credentials=credentials)

    def close(self) -> None:
        self.client.close()
