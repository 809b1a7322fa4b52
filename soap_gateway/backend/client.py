"""BillingClient.call(name, args): prepare (validate, encode), send with a SUID, decode.

Knows nothing of SOAP.  Reads are retried a bounded number of times on
transport failures (never on a reply that could not be decoded: the billing
answered, and would answer the same) and repeated once after a session renewal; a write is
never sent twice: if it may have reached the billing, the caller gets
OutcomeUnknown instead of a guess.  A circuit breaker refuses calls at once
while the billing keeps failing.  ``stream`` is ``call`` for long lists: the
same policy up to the first row, then rows decoded as they are consumed.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence, TypeVar
from zoneinfo import ZoneInfo

from ..catalogue import Catalogue, Procedure, WireFormat, load_catalogue
from ..config import DEFAULT_ERROR_PATTERNS, BillingSettings
from ..errors import (AuthenticationFailed, BillingError, BillingUnavailable, CircuitOpen, InvalidArgument,
                      MalformedReply, NotFound, OutcomeUnknown, SessionExpired)
from ..ops import metrics
from . import codec, dirty
from .breaker import CircuitBreaker
from .prepared import PreparedCall
from .session import SessionManager
from .stream import RowStream, log_billing_call
from .transport import Transport
from .writereply import check_write_reply

log = logging.getLogger("soap_gateway.billing")
Result = TypeVar("Result")


@dataclass(frozen=True)
class Credentials:
    """A billing account: the service account, or a cashier's own (pass-through)."""

    login: str
    password: str = field(repr=False)

    @property
    def key(self) -> tuple[str, str]:
        # A cached SUID is only reused for the same login *and* password.
        return self.login, hashlib.sha256(self.password.encode()).hexdigest()


class BillingClient:
    """Calls the billing's stored procedures by catalogue name."""

    def __init__(self, settings: BillingSettings, catalogue: Catalogue, transport: Transport,
                 transports: Mapping[str, Transport] | None = None) -> None:
        self.settings = settings
        self.catalogue = catalogue
        self.transport = transport
        # cashier name -> the transport (a connection pool) with that cashier's own certificate
        self.transports = dict(transports or {})
        self.wire = WireFormat(timestamp_format=settings.timestamp_format, zone=ZoneInfo(settings.timezone))
        self.expired = [re.compile(p) for p in settings.session_expired_patterns]
        self.classes = codec.error_classes({**DEFAULT_ERROR_PATTERNS, **settings.error_patterns})
        self.selected = frozenset(name.upper() for name in settings.select_procedures)
        self.service_account = Credentials(settings.login, settings.password)
        self._sessions: dict[tuple[str, ...], SessionManager] = {}
        self._sessions_lock = threading.Lock()
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_reset_seconds)

    @classmethod
    def from_settings(cls, settings: BillingSettings, catalogue: Catalogue | None = None,
                      certificates: Mapping[str, tuple[str, str]] | None = None) -> BillingClient:
        """Load the client certificate and build the one SSLContext for this process.

        ``certificates``: cashier name -> (.pfx path, password) of cashiers who reach the billing with
        their own certificate; each gets its own pool, verified by the same CA, name and pin.
        """
        from .tls import build_ssl_context, load_client_identity, normalize_fingerprint

        catalogue = catalogue or load_catalogue(settings.catalogue_files, settings.arg_counts)
        if settings.pin_sha256:
            settings = dataclasses.replace(settings, pin_sha256=normalize_fingerprint(settings.pin_sha256))
        context = None
        own: dict[str, Transport] = {}
        if settings.url.startswith("https:"):
            identity = load_client_identity(settings.cert, settings.cert_password or None)
            context = build_ssl_context(identity, settings.ca or None)
            for name, (path, password) in (certificates or {}).items():
                cashier = load_client_identity(path, password or None)
                own[name] = Transport(settings, build_ssl_context(cashier, settings.ca or None))
        return cls(settings, catalogue, Transport(settings, context), own)

    def procedure(self, name: str) -> Procedure:
        try:
            return self.catalogue[name]
        except KeyError:
            raise InvalidArgument(name, [("procedure", "not in the catalogue")]) from None

    def circuit_state(self) -> str:
        """The circuit breaker's state: "closed", "open" or "half_open" (a probe may go out)."""
        return self.breaker.state()

    def prepare(self, proc: Procedure | str, args: Mapping[str, Any] | None = None) -> PreparedCall:
        """``args`` checked against the procedure (raises InvalidArgument) and encoded; nothing is sent.

        ``proc``: a catalogue name, or a procedure described outside the catalogue (the generic EXECUTE).
        """
        proc = self.procedure(proc) if isinstance(proc, str) else proc
        clean = codec.validate_args(proc, args or {}, self.settings.charset)
        return PreparedCall(proc, clean, tuple(codec.encode_args(proc, clean, self.wire)))

    def amend(self, call: PreparedCall, changes: Mapping[str, Any]) -> PreparedCall:
        """``call`` with the arguments in ``changes`` replaced; only those are checked and encoded again."""
        proc = call.proc
        # the same checks as ``prepare``, on the changed arguments alone
        changed = dataclasses.replace(proc, args=tuple(a for a in proc.args if a.name in changes))
        clean = codec.validate_args(changed, changes, self.settings.charset)
        args = {k: v for k, v in call.args.items() if k not in changes} | clean
        wire = dict(zip((a.name for a in changed.args), codec.encode_args(changed, clean, self.wire)))
        return PreparedCall(proc, args, tuple(wire.get(a.name, v) for a, v in zip(proc.args, call.positional)))

    def call(self, name: str, args: Mapping[str, Any] | None = None, *, credentials: Credentials | None = None,
             suid: str | None = None, cashier: str | None = None) -> list[codec.Row]:
        """Run one procedure; ``suid`` uses a caller's own billing session as is; ``cashier`` names the
        caller, whose own certificate is used if one is configured."""
        return self.send(self.prepare(name, args), credentials=credentials, suid=suid, cashier=cashier)

    def call_procedure(self, proc: Procedure, args: Mapping[str, Any] | None = None, *,
                       credentials: Credentials | None = None, suid: str | None = None,
                       cashier: str | None = None) -> list[codec.Row]:
        """Run a procedure described outside the catalogue (the generic EXECUTE)."""
        return self.send(self.prepare(proc, args), credentials=credentials, suid=suid, cashier=cashier)

    def send(self, call: PreparedCall, *, credentials: Credentials | None = None, suid: str | None = None,
             cashier: str | None = None) -> list[codec.Row]:
        """Send a prepared call as it is and read the whole reply.

        A read of one record (result = "row") whose reply has no row, or only nil columns, is NotFound:
        the billing does not know the id asked for (CLN_USR_GET answers an unknown id so).
        """
        proc = call.proc
        rows = self._run(call, credentials, suid, _read_all, cashier)
        if proc.mode == "read" and proc.result == "row" and not any(
                row.unreadable or any(v is not None for v in row.values.values()) for row in rows):
            raise NotFound(procedure=proc.name, billing_message="the billing answered no record for "
                           + ", ".join(f"{k}={v}" for k, v in call.args.items()))
        return rows

    def stream(self, name: str, args: Mapping[str, Any] | None = None, *, credentials: Credentials | None = None,
               suid: str | None = None, cashier: str | None = None) -> RowStream:
        """Like ``call``, but the rows are decoded as the caller iterates; close the stream when done.

        Everything up to the first row (sending, the HTTP status, an error reply, an expired
        session) is retried and renewed exactly as in ``call``; a failure after it ends the
        iteration with the error.
        """
        return self._run(self.prepare(name, args), credentials, suid, RowStream.peek, cashier)

    def certificate_of(self, cashier: str | None) -> str | None:
        """The name of the cashier's own certificate, or None: the gateway's."""
        return cashier if cashier is not None and cashier in self.transports else None

    def _run(self, call: PreparedCall, credentials: Credentials | None, suid: str | None,
             finish: Callable[[RowStream], Result], cashier: str | None = None) -> Result:
        cert = self.certificate_of(cashier)
        transport = self.transports[cert] if cert is not None else self.transport
        proc, positional = call.proc, call.positional
        build_query = functools.partial(codec.build_query, encoding=self.settings.arg_charset,
                                        command="select" if proc.name in self.selected else "execute")

        def send(query: str) -> Result:
            # the breaker sees the call up to what ``finish`` reads: the whole reply, or its first row
            with self.breaker.guard():
                return finish(self._open(proc, query, transport))

        if not proc.session:
            return send(build_query(proc.name, positional))
        if suid is not None:
            query = build_query(proc.name, positional, suid=suid)
            return self._with_retries(proc, lambda: send(query))
        account = credentials or self.service_account
        if self.settings.login_mode == "one-step":
            query = build_query(proc.name, positional, login=(account.login, account.password))
            return self._with_retries(proc, lambda: send(query))
        return self._with_retries(proc, lambda: self._call_in_session(proc, positional, account, send, build_query,
                                                                      cert))

    def login(self, credentials: Credentials, cert: str | None = None) -> str:
        """Log in (the catalogue's "login" procedure) and return the new SUID; ``cert``: over that cashier's
        own certificate."""
        proc = self.catalogue.role("login")
        named = {a.role: a.name for a in proc.args if a.role}  # the loader checked both are there
        args = {named["login"]: credentials.login, named["password"]: credentials.password}
        try:
            rows = self.call(proc.name, args, cashier=cert)
        except InvalidArgument:
            metrics.count_login(ok=False)
            raise AuthenticationFailed(login=credentials.login, billing_message="login or password too long") from None
        except BillingError as exc:
            metrics.count_login(ok=False)
            raise AuthenticationFailed(login=credentials.login, billing_message=exc.billing_message) from None
        metrics.count_login(ok=True)
        session = proc.role_column("session")
        suid = rows[0].get(session.name) if rows and session else None
        if suid is None:
            raise MalformedReply(detail="the login reply carries no SUID")
        return str(suid)

    def session(self, credentials: Credentials, cert: str | None = None) -> SessionManager:
        """The cached billing session of an account, one per certificate it is used over."""
        key = (*credentials.key, cert or "")
        with self._sessions_lock:
            manager = self._sessions.get(key)
            if manager is None:
                manager = SessionManager(lambda: self._login_or_forget(credentials, cert, key))
                self._sessions[key] = manager
            return manager

    def _login_or_forget(self, credentials: Credentials, cert: str | None, key: tuple[str, ...]) -> str:
        # A refused login leaves no cache entry: with pass-through, callers choose
        # the credentials, and wrong guesses must not grow this table.
        try:
            return self.login(credentials, cert)
        except AuthenticationFailed:
            with self._sessions_lock:
                self._sessions.pop(key, None)
            raise

    @property
    def logins(self) -> int:
        return sum(m.logins for m in self._sessions.values())

    def close(self) -> None:
        self.transport.close()
        for transport in self.transports.values():
            transport.close()

    def _call_in_session(self, proc: Procedure, positional: Sequence[str], account: Credentials,
                         send: Callable[[str], Result], build_query: Callable[..., str],
                         cert: str | None = None) -> Result:
        manager = self.session(account, cert)
        suid = manager.current()
        try:
            return send(build_query(proc.name, positional, suid=suid))
        except SessionExpired:
            metrics.count_relogin()
            fresh = manager.renew(suid)
            if proc.writes:
                raise  # the billing refused it; the caller decides whether to repeat a write
            log.info("billing session renewed, repeating %s", proc.name)
            return send(build_query(proc.name, positional, suid=fresh))

    def _with_retries(self, proc: Procedure, attempt: Callable[[], Result]) -> Result:
        tries = 1 + (self.settings.read_retries if not proc.writes else 0)
        for number in range(1, tries + 1):
            try:
                return attempt()
            except CircuitOpen:
                raise  # retrying would only wait for the same refusal
            except BillingUnavailable as exc:
                if proc.writes and exc.sent:
                    raise OutcomeUnknown(procedure=proc.name, detail=str(exc)) from exc
                if number == tries or isinstance(exc, MalformedReply):
                    raise  # the billing answered: the same request would get the same answer
                delay = min(2.0, 0.1 * 2 ** (number - 1)) * random.uniform(0.5, 1.5)
                log.warning("billing call %s failed (%s); retry %d/%d in %.2fs",
                            proc.name, exc, number, tries - 1, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _open(self, proc: Procedure, query: str, transport: Transport) -> RowStream:
        started = time.perf_counter()
        try:
            response = transport.get(query)
        except Exception as exc:
            log_billing_call(proc.name, type(exc).__name__, time.perf_counter() - started)
            raise
        body: Any = response.body
        # A write's reply is small and must be a known shape before it is believed; a write that answers
        # rows (the generic EXECUTE) hands every column to its caller as it came.
        if proc.writes and proc.result != "rows":
            body = response.body.read()
            check_write_reply(proc, body, response.charset, self.settings.write_success)
        rows = dirty.reported(proc, codec.decode_rows(proc, body, http_charset=response.charset, fmt=self.wire,
                                                      expired_patterns=self.expired, classes=self.classes))
        return RowStream(proc.name, rows, response, started)


def _read_all(stream: RowStream) -> list[codec.Row]:
    return list(stream)
