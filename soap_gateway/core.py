"""The gateway core: what happens to a call between the SOAP face and the billing client.

The SOAP layer hands over validated operation arguments; the core applies
the per-call policy (who may call it, whose session, login handling, the
write journal) and returns typed rows with the secret columns the caller may
not see blanked.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Mapping

from .backend import BillingClient, Credentials, PreparedCall, Row, RowStream
from .config import JournalSettings, Settings
from .errors import AuthenticationFailed, BillingError, ConfigurationError, PermissionDenied
from .journal import open_journal
from .journal.guard import WriteGuard
from .journal.model import PENDING, UNKNOWN, Who, who_called
from .journal.resolver import Resolver
from .journal.store import SqlJournal
from .security.roles import Principal, redact, redaction, secret_columns


class Gateway:
    """Runs catalogue operations for SOAP callers; writes go through the journal when there is one."""

    def __init__(self, client: BillingClient, journal: SqlJournal | None = None,
                 journal_settings: JournalSettings | None = None) -> None:
        self.client = client
        self.catalogue = client.catalogue
        self.secret_names = secret_columns(self.catalogue)
        self.journal = journal
        self.sessions = SessionBook(journal)
        journal_settings = journal_settings or JournalSettings()
        self.shared_keys = journal_settings.key_scope == "shared"
        self.writes = WriteGuard(client, journal, journal_settings) if journal else None
        self.resolver: Resolver | None = None
        if journal is not None and self.writes is not None and journal_settings.resolver_seconds > 0:
            self.resolver = Resolver(lambda: journal.entries([UNKNOWN, PENDING]), self.writes.look_again,
                                     journal_settings.resolver_seconds)
            self.resolver.start()

    @classmethod
    def from_settings(cls, settings: Settings) -> Gateway:
        """The production wiring: billing client and the configured journal."""
        billing = settings.billing
        if billing.pool_size < settings.server.threads:
            # each gunicorn thread holds at most one billing connection; fewer would queue calls
            billing = dataclasses.replace(billing, pool_size=settings.server.threads)
        # cashiers with their own billing certificate ([auth.users.<name>] cert)
        certificates = {name: (user.cert, user.cert_password) for name, user in settings.auth.users.items()
                        if user.cert}
        return cls(BillingClient.from_settings(billing, certificates=certificates), open_journal(settings.journal),
                   settings.journal)

    def invoke(self, name: str, args: Mapping[str, Any], *, suid: str | None = None,
               credentials: Credentials | None = None, principal: Principal | None = None,
               idempotency_key: str | None = None, caller: str = "anonymous",
               correlation_id: str = "", decided: Callable[[str], None] | None = None) -> list[Row]:
        """One operation; ``suid`` is a caller's own billing session from the SOAP header.

        ``principal`` is the authenticated caller (None: a library caller, who
        may run anything but sees no secret column either).  Writes are
        journaled and audited under ``caller``; ``idempotency_key`` makes
        an idempotent write safe to repeat, and belongs to ``caller``
        unless keys are shared (docs/money-safety.md); ``decided`` is told
        what the journal made of that key ("post", "replay", "reconcile").
        """
        proc = self.client.procedure(name)
        if principal is not None:
            principal.authorize(proc)
        if proc.mode == "login":
            try:
                rows = self.client.call(name, args, cashier=_name(principal))
            except BillingError as exc:
                login = proc.argument("login")
                raise AuthenticationFailed(login=str(args.get(login.name, "")) if login else "",
                                           billing_message=exc.billing_message) from None
            session = proc.role_column("session")
            for row in rows:
                if session is not None and row.get(session.name) is not None:
                    self.sessions.bind(str(row.get(session.name)), caller)
            return rows
        if suid is not None:
            self.sessions.check(suid, caller, name)
        if proc.writes and self.writes is not None:
            who = Who(who_called(caller, credentials, suid), correlation_id, scope="" if self.shared_keys else caller)
            def post(call: PreparedCall) -> list[Row]:
                return self.client.send(call, suid=suid, credentials=credentials, cashier=_name(principal))
            rows = self.writes.run(self.client.prepare(proc, args), post, idempotency_key, who, decided)
        elif idempotency_key:
            raise ConfigurationError("no write journal is configured, so an idempotency key cannot be honoured")
        else:
            rows = self.client.call(name, args, suid=suid, credentials=credentials, cashier=_name(principal))
        visible = principal.secrets if principal is not None else frozenset()
        return redact(proc, rows, visible, self.secret_names)

    def authenticate(self, credentials: Credentials) -> None:
        """Check a cashier's own billing login (pass-through mode); the SUID stays cached for its calls.

        In one-step login mode there is no session to open: the billing checks
        the login on every call instead.
        """
        if self.client.settings.login_mode == "session":
            self.client.session(credentials, self.client.certificate_of(credentials.login)).current()

    def circuit_state(self) -> str:
        return self.client.circuit_state()

    def stream(self, name: str, args: Mapping[str, Any], *, suid: str | None = None,
               credentials: Credentials | None = None, principal: Principal | None = None) -> RowStream:
        """``invoke`` for a list procedure: rows decoded (and redacted) while the caller consumes them.

        Close the stream when done; a login is never streamed.
        """
        proc = self.client.procedure(name)
        if principal is not None:
            principal.authorize(proc)
        if suid is not None:
            self.sessions.check(suid, principal.name if principal is not None else "anonymous", name)
        visible = principal.secrets if principal is not None else frozenset()
        stream = self.client.stream(name, args, suid=suid, credentials=credentials, cashier=_name(principal))
        return stream.each(redaction(proc, visible, self.secret_names))

    def close(self) -> None:
        if self.resolver is not None:
            self.resolver.stop()
        self.client.close()
        if self.journal is not None:
            self.journal.close()


class SessionBook:
    """Which caller each billing session (SUID) was issued to through the gateway (CLN_AUTH_LOGIN).

    A SOAP BillingSession header runs the call as whoever the SUID belongs to,
    so one is accepted only from the caller the gateway issued it to; any
    other SUID is refused without asking the billing, which makes the gateway
    no oracle for guessing SUIDs.  Kept in the journal, shared by every worker
    and instance (by HMAC, never the SUID itself); without a journal, in this
    process.  With ``auth.mode = "none"`` every caller is "anonymous", so a
    SUID issued through the gateway is accepted from any caller there.
    """

    def __init__(self, journal: SqlJournal | None) -> None:
        self.journal = journal
        self._local: dict[str, str] = {}

    def bind(self, suid: str, caller: str) -> None:
        if self.journal is not None:
            self.journal.bind_session(suid, caller, time.time())
        else:
            self._local[suid] = caller

    def check(self, suid: str, caller: str, operation: str) -> None:
        owner = self.journal.session_owner(suid, time.time()) if self.journal is not None else self._local.get(suid)
        if owner != caller:
            raise PermissionDenied(caller=caller, operation=f"{operation} in a billing session (SUID) that was not "
                                   "issued to it through this gateway")


def _name(principal: Principal | None) -> str | None:
    return principal.name if principal is not None else None
