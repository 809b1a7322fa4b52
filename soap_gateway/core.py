"""The gateway core: what happens to a call between the SOAP face and the billing client.

The SOAP layer hands over validated operation arguments; the core applies
the per-call policy (who may call it, whose session, login handling) and
returns typed rows with the secret columns the caller may not see blanked.
"""

from __future__ import annotations

from typing import Any, Mapping

from .backend import BillingClient, Credentials, Row
from .errors import AuthenticationFailed, BillingError
from .security.roles import Principal, redact, secret_columns


class Gateway:
    """Runs catalogue operations for SOAP callers."""

    def __init__(self, client: BillingClient) -> None:
        self.client = client
        self.catalogue = client.catalogue
        self.secret_names = secret_columns(self.catalogue)

    def invoke(self, name: str, args: Mapping[str, Any], *, suid: str | None = None,
               credentials: Credentials | None = None, principal: Principal | None = None) -> list[Row]:
        """One operation; ``suid`` is a caller's own billing session from the SOAP header.

        ``principal`` is the authenticated caller (None: a library caller, who
        may run anything but sees no secret column either).
        """
        proc = self.client.procedure(name)
        if principal is not None:
            principal.authorize(proc)
        if proc.mode == "login":
            try:
                return self.client.call(name, args)
            except BillingError as exc:
                raise AuthenticationFailed(login=str(args.get("LOGIN", "")),
                                           billing_message=exc.billing_message) from None
        rows = self.client.call(name, args, suid=suid, credentials=credentials)
        visible = principal.secrets if principal is not None else frozenset()
        return redact(proc, rows, visible, self.secret_names)

    def authenticate(self, credentials: Credentials) -> None:
        """Check a cashier's own billing login (pass-through mode); the SUID stays cached for its calls.

        In one-step login mode there is no session to open: the billing checks
        the login on every call instead.
        """
        if self.client.settings.login_mode == "session":
            self.client.session(credentials).current()

    def close(self) -> None:
        self.client.close()
