"""The gateway's one exception hierarchy; standard library only.

    GatewayError
    ├── ConfigurationError      settings, certificate or catalogue unusable
    ├── InvalidArgument         a caller's arguments break the catalogue
    ├── NotAuthenticated        the caller gave no or wrong gateway credentials
    ├── AddressNotAllowed       the caller's address is outside the allow-list
    ├── PermissionDenied        the caller may not run this operation
    ├── IdempotencyConflict     an idempotency key reused with another payload
    ├── AuthenticationFailed    the billing refused the login
    ├── BillingError            the billing ran the call and reported an error
    │   └── SessionExpired      ... saying the SUID is invalid or expired
    ├── BillingUnavailable      the billing could not be reached or understood
    │   ├── BillingTimeout      no answer in time
    │   ├── TLSFailure          the TLS handshake failed (certificate, CA, pin)
    │   ├── MalformedReply      an answer that is not the billing's XML
    │   └── CircuitOpen         too many recent failures: not even tried
    ├── OutcomeUnknown          a write was sent, its outcome is not known
    └── JournalUnavailable      the write journal cannot record: nothing was sent

Messages never carry passwords or SUIDs. The mapping to SOAP faults lives in
``soap_gateway.soap.faults`` and nowhere else.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose."""

    fmt = "gateway error"

    def __init__(self, message: str | None = None, **context: Any) -> None:
        self.context = context
        for key, value in context.items():
            setattr(self, key, value)
        super().__init__(message if message is not None else self.fmt.format(**context))

    @property
    def message(self) -> str:
        return str(self)


class ConfigurationError(GatewayError):
    """Settings, the client certificate or a catalogue file cannot be used."""

    fmt = "configuration error: {detail}"


class InvalidArgument(GatewayError):
    """One or more arguments break the catalogue; ``problems`` lists them all."""

    def __init__(self, procedure: str, problems: list[tuple[str, str]]) -> None:
        text = "; ".join(f"{field}: {why}" for field, why in problems)
        super().__init__(f"{procedure}: {text}", procedure=procedure, problems=problems)

    @property
    def field(self) -> str:
        """The first offending field, for callers that report one."""
        return str(self.problems[0][0])


class NotAuthenticated(GatewayError):
    """The caller sent no credentials, or ones the gateway does not accept (which, is not said)."""

    fmt = "authentication required"


class AddressNotAllowed(GatewayError):
    """The caller's address is not in the gateway's allow-list."""

    fmt = "the address {address} is not allowed to call this gateway"


class PermissionDenied(GatewayError):
    """The authenticated caller's role does not allow the operation."""

    fmt = "caller {caller!r} may not call {operation}"


class IdempotencyConflict(GatewayError):
    """An idempotency key arrived again with a different payload."""

    fmt = "idempotency key {key!r} was already used for a different request"


class AuthenticationFailed(GatewayError):
    """The billing refused the login (wrong login or password, account locked)."""

    fmt = "the billing refused the login for {login!r}: {billing_message}"


class BillingError(GatewayError):
    """The billing executed the procedure and answered with an error message."""

    fmt = "the billing reported an error in {procedure}: {billing_message}"


class SessionExpired(BillingError):
    """The billing says the SUID is unknown or expired; a new login is needed."""

    fmt = "the billing session expired during {procedure}"


class BillingUnavailable(GatewayError):
    """The billing could not be reached or did not answer usably.

    ``sent`` tells whether the request may have reached the billing: a write
    with ``sent=True`` may have been committed and must never be repeated blind.
    """

    fmt = "the billing is unavailable: {detail}"

    def __init__(self, message: str | None = None, *, sent: bool = False, **context: Any) -> None:
        super().__init__(message, sent=sent, **context)


class BillingTimeout(BillingUnavailable):
    """The billing did not connect or answer within the configured timeout."""

    fmt = "the billing did not answer in time: {detail}"


class TLSFailure(BillingUnavailable):
    """The TLS handshake with the billing failed: its certificate, our CA or pin."""

    fmt = "TLS handshake with the billing failed: {detail}"


class MalformedReply(BillingUnavailable):
    """The billing answered something that is not its XML reply."""

    fmt = "the billing's reply could not be read: {detail}"


class CircuitOpen(BillingUnavailable):
    """The circuit breaker is open after repeated failures; the call was not sent."""

    fmt = "the billing failed {failures} times in a row; calls are refused for {retry_in:.0f} s more"


class OutcomeUnknown(GatewayError):
    """A write reached the billing (maybe) but its answer was lost."""

    fmt = "{procedure} was sent to the billing but its outcome is unknown: {detail}"


class JournalUnavailable(GatewayError):
    """The write journal could not record a write, so the billing was not called."""

    fmt = "the write journal is unavailable: {detail}"
