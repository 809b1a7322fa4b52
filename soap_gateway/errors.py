"""The gateway's one exception hierarchy; standard library only.

    GatewayError
    ├── ConfigurationError      settings, certificate or catalogue unusable
    ├── InvalidArgument         a caller's arguments break the catalogue
    ├── RequestRefused          the HTTP request itself cannot be served
    │   ├── RequestTooLarge     ... its body is over the size limit
    │   ├── RequestTimeout      ... its body did not arrive in time
    │   ├── UnreadableRequest   ... its document: encoding, XML, a limit, the envelope (``code`` says which)
    │   ├── MethodNotAllowed    ... its method is not one the route takes
    │   └── UnknownOperation    ... it names no operation of ours
    ├── NotAuthenticated        the caller gave no or wrong gateway credentials
    ├── AddressNotAllowed       the caller's address is outside the allow-list
    ├── PermissionDenied        the caller may not run this operation
    ├── IdempotencyConflict     an idempotency key reused with another payload
    ├── AuthenticationFailed    the billing refused the login
    ├── BillingError            the billing ran the call and reported an error
    │   ├── SessionExpired      ... saying the SUID is invalid or expired
    │   └── BillingRefused      ... about the caller's request (billing.error_patterns)
    │       ├── NotFound        ... no such subscriber, home, service, ...
    │       ├── InvalidValue    ... a value it does not accept
    │       ├── Duplicate       ... it exists already
    │       └── NotPermitted    ... the billing does not allow it
    ├── BillingUnavailable      the billing could not be reached or understood
    │   ├── BillingTimeout      no answer in time
    │   ├── TLSFailure          the TLS handshake failed (certificate, CA, pin)
    │   ├── MalformedReply      an answer that is not the billing's XML
    │   └── CircuitOpen         too many recent failures: not even tried
    ├── OutcomeUnknown          a write was sent, its outcome is not known
    └── JournalUnavailable      the write journal cannot record: nothing was sent

Messages never carry passwords or SUIDs.  Each class carries what every facade
says about it alike: a stable ``code`` (1C and scripts match on it), the Russian
``title`` 1C shows, and the HTTP status (``http_status``).  How a facade words it lives in
one place per facade: SOAP faultcodes in ``soap_gateway.soap.faults``,
problem documents in ``soap_gateway.rest.problems``.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """Base of every error the gateway raises on purpose.

    Keyword context becomes attributes; a subclass declares the ones callers read, so they are typed.
    """

    fmt = "gateway error"
    code = "INTERNAL_ERROR"
    title = "Внутренняя ошибка шлюза"
    http_status = 500

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
    code = "CONFIGURATION"
    title = "Ошибка конфигурации шлюза"
    http_status = 500


class InvalidArgument(GatewayError):
    """One or more arguments break the catalogue; ``problems`` lists them all."""

    code = "VALIDATION_ERROR"
    title = "Неверные аргументы"
    http_status = 400
    procedure: str
    problems: list[tuple[str, str]]

    def __init__(self, procedure: str, problems: list[tuple[str, str]]) -> None:
        text = "; ".join(f"{field}: {why}" for field, why in problems)
        super().__init__(f"{procedure}: {text}", procedure=procedure, problems=problems)

    @property
    def field(self) -> str:
        """The first offending field, for callers that report one."""
        return str(self.problems[0][0])


class RequestRefused(GatewayError):
    """The HTTP request cannot be served as sent (before any operation runs)."""

    fmt = "the request cannot be served: {detail}"
    code = "BAD_REQUEST"
    title = "Запрос не может быть обработан"
    http_status = 400


class RequestTooLarge(RequestRefused):
    """The request body is larger than ``server.max_body_bytes``."""

    fmt = "the body exceeds {limit} bytes"
    code = "REQUEST_TOO_LARGE"
    title = "Слишком большой запрос"
    http_status = 413


class RequestTimeout(RequestRefused):
    """The request body did not arrive in full within ``server.body_timeout`` seconds."""

    fmt = "the request body did not arrive within {seconds:g} s"
    code = "REQUEST_TIMEOUT"
    title = "Запрос не получен вовремя"
    http_status = 408


class UnreadableRequest(RequestRefused):
    """The request document is refused before anything builds it: its encoding, its XML, a limit
    or the envelope's shape.  ``code`` says which (ENCODING_MISMATCH, XML_LIMIT_EXCEEDED, ...)."""

    fmt = "{detail}"
    code = "UNREADABLE_REQUEST"
    title = "Запрос не может быть прочитан"
    http_status = 400

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail=detail)
        self.code = code


class MethodNotAllowed(RequestRefused):
    """The route exists but does not take this HTTP method."""

    fmt = "{method} is not allowed here: {allowed}"
    code = "METHOD_NOT_ALLOWED"
    title = "Метод HTTP не поддерживается"
    http_status = 405


class UnknownOperation(RequestRefused):
    """The request names no operation the gateway offers."""

    fmt = "no such operation: {operation}"
    code = "UNKNOWN_OPERATION"
    title = "Нет такой операции"
    http_status = 404


class NotAuthenticated(GatewayError):
    """The caller sent no credentials, or ones the gateway does not accept (which, is not said)."""

    fmt = "authentication required"
    code = "AUTHENTICATION_REQUIRED"
    title = "Требуется аутентификация"
    http_status = 401


class AddressNotAllowed(GatewayError):
    """The caller's address is not in the gateway's allow-list."""

    fmt = "the address {address} is not allowed to call this gateway"
    code = "ADDRESS_NOT_ALLOWED"
    title = "Адрес клиента не разрешён"
    http_status = 403


class PermissionDenied(GatewayError):
    """The authenticated caller's role does not allow the operation."""

    fmt = "caller {caller!r} may not call {operation}"
    code = "PERMISSION_DENIED"
    title = "Операция запрещена"
    http_status = 403


class IdempotencyConflict(GatewayError):
    """An idempotency key arrived again with a different payload."""

    fmt = "idempotency key {key!r} was already used for a different request"
    code = "IDEMPOTENCY_CONFLICT"
    title = "Ключ идемпотентности уже использован для другого запроса"
    http_status = 422  # the IETF httpapi Idempotency-Key draft: the same key with another payload


class AuthenticationFailed(GatewayError):
    """The billing refused the login (wrong login or password, account locked)."""

    fmt = "the billing refused the login for {login!r}: {billing_message}"
    code = "AUTHENTICATION_FAILED"
    title = "Биллинг отклонил логин"
    http_status = 403
    billing_message: str


class BillingError(GatewayError):
    """The billing executed the procedure and answered with an error message."""

    fmt = "the billing reported an error in {procedure}: {billing_message}"
    code = "BILLING_ERROR"
    title = "Биллинг вернул ошибку"
    http_status = 502
    procedure: str
    billing_message: str


class SessionExpired(BillingError):
    """The billing says the SUID is unknown or expired; a new login is needed."""

    fmt = "the billing session expired during {procedure}"
    code = "SESSION_EXPIRED"
    title = "Сессия биллинга истекла, повторите запрос"
    http_status = 503


class BillingRefused(BillingError):
    """The billing refused the request for a reason the caller can act on; repeating it would not help.

    Which billing messages mean which subclass is configured by patterns (billing.error_patterns);
    only the subclasses are raised.
    """

    kind = ""
    code = "BILLING_REFUSED"
    title = "Биллинг отклонил запрос"
    http_status = 400


class NotFound(BillingRefused):
    """The billing does not know the record the request names."""

    kind = "not_found"
    code = "NOT_FOUND"
    title = "Биллинг не нашёл запрошенное"
    http_status = 404


class InvalidValue(BillingRefused):
    """The billing does not accept a value of the request."""

    kind = "invalid_argument"
    code = "INVALID_ARGUMENT"
    title = "Биллинг не принял значение"
    http_status = 400


class Duplicate(BillingRefused):
    """The billing already has what the request would create."""

    kind = "duplicate"
    code = "DUPLICATE"
    title = "Такая запись в биллинге уже есть"
    http_status = 409


class NotPermitted(BillingRefused):
    """The billing does not allow the request (its rules or the account's rights)."""

    kind = "not_permitted"
    code = "NOT_PERMITTED"
    title = "Биллинг не разрешает эту операцию"
    http_status = 403


REFUSALS: tuple[type[BillingRefused], ...] = (NotFound, Duplicate, NotPermitted, InvalidValue)


class BillingUnavailable(GatewayError):
    """The billing could not be reached or did not answer usably.

    ``sent`` tells whether the request may have reached the billing: a write
    with ``sent=True`` may have been committed and must never be repeated blind.
    """

    fmt = "the billing is unavailable: {detail}"
    code = "BILLING_UNAVAILABLE"
    title = "Биллинг недоступен"
    http_status = 503
    sent: bool  # may the request have reached the billing?
    # What the HTTP library reported (URLs and query strings cut), for the log, never the fault.
    cause: str = ""

    def __init__(self, message: str | None = None, *, sent: bool = False, **context: Any) -> None:
        super().__init__(message, sent=sent, **context)


class BillingTimeout(BillingUnavailable):
    """The billing did not connect or answer within the configured timeout."""

    fmt = "the billing did not answer in time: {detail}"
    code = "BILLING_TIMEOUT"
    title = "Биллинг не ответил вовремя"
    http_status = 504


class TLSFailure(BillingUnavailable):
    """The TLS handshake with the billing failed: its certificate, our CA or pin."""

    fmt = "TLS handshake with the billing failed: {detail}"
    code = "BILLING_TLS"
    title = "Ошибка TLS при соединении с биллингом"
    http_status = 502


class MalformedReply(BillingUnavailable):
    """The billing answered something that is not its XML reply."""

    fmt = "the billing's reply could not be read: {detail}"
    code = "BILLING_MALFORMED_REPLY"
    title = "Некорректный ответ биллинга"
    http_status = 502


class CircuitOpen(BillingUnavailable):
    """The circuit breaker is open after repeated failures; the call was not sent."""

    fmt = "the billing failed {failures} times in a row; calls are refused for {retry_in:.0f} s more"
    code = "BILLING_CIRCUIT_OPEN"
    title = "Биллинг недоступен, запросы временно не отправляются"
    http_status = 503


class OutcomeUnknown(GatewayError):
    """A write reached the billing (maybe) but its answer was lost."""

    fmt = "{procedure} was sent to the billing but its outcome is unknown: {detail}"
    code = "OUTCOME_UNKNOWN"
    title = "Результат операции неизвестен; повторите с тем же ключом"
    http_status = 504


class JournalUnavailable(GatewayError):
    """The write journal could not record a write, so the billing was not called."""

    fmt = "the write journal is unavailable: {detail}"
    code = "JOURNAL_UNAVAILABLE"
    title = "Журнал операций недоступен, операция не выполнена"
    http_status = 503
