"""THE mapping from gateway errors to SOAP 1.1 faults, and the envelopes for them.

Faults are plain Spyne faults with a dotted faultcode, a faultstring that
starts with a stable code (1C shows only the faultstring), and a namespaced
``detail`` element (Spyne's typed faults serialise outside ``detail``, where
.NET, Java and zeep never look: SOAP-INTEROP §1.5).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from lxml import etree
from spyne import Application, Fault

from .. import errors
from .models import TNS

log = logging.getLogger("soap_gateway.soap")

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"

# error class -> (faultcode, detail code, Russian text for 1C's ОписаниеОшибки()).
FAULTS: dict[type[errors.GatewayError], tuple[str, str, str]] = {
    errors.InvalidArgument: ("Client.ValidationError", "VALIDATION_ERROR", "Неверные аргументы"),
    errors.NotAuthenticated: ("Client.AuthenticationRequired", "AUTHENTICATION_REQUIRED",
                              "Требуется аутентификация"),
    errors.AddressNotAllowed: ("Client.AddressNotAllowed", "ADDRESS_NOT_ALLOWED", "Адрес клиента не разрешён"),
    errors.PermissionDenied: ("Client.PermissionDenied", "PERMISSION_DENIED", "Операция запрещена"),
    errors.IdempotencyConflict: ("Client.IdempotencyConflict", "IDEMPOTENCY_CONFLICT",
                                 "Ключ идемпотентности уже использован для другого запроса"),
    errors.AuthenticationFailed: ("Client.AuthenticationFailed", "AUTHENTICATION_FAILED",
                                  "Биллинг отклонил логин"),
    errors.SessionExpired: ("Server.SessionExpired", "SESSION_EXPIRED",
                            "Сессия биллинга истекла, повторите запрос"),
    errors.BillingError: ("Server.BillingError", "BILLING_ERROR", "Биллинг вернул ошибку"),
    errors.BillingTimeout: ("Server.BillingUnavailable", "BILLING_TIMEOUT", "Биллинг не ответил вовремя"),
    errors.TLSFailure: ("Server.BillingUnavailable", "BILLING_TLS", "Ошибка TLS при соединении с биллингом"),
    errors.MalformedReply: ("Server.BillingUnavailable", "BILLING_MALFORMED_REPLY",
                            "Некорректный ответ биллинга"),
    errors.CircuitOpen: ("Server.BillingUnavailable", "BILLING_CIRCUIT_OPEN",
                         "Биллинг недоступен, запросы временно не отправляются"),
    errors.BillingUnavailable: ("Server.BillingUnavailable", "BILLING_UNAVAILABLE", "Биллинг недоступен"),
    errors.OutcomeUnknown: ("Server.OutcomeUnknown", "OUTCOME_UNKNOWN",
                            "Результат операции неизвестен; повторите с тем же ключом"),
    errors.JournalUnavailable: ("Server.JournalUnavailable", "JOURNAL_UNAVAILABLE",
                                "Журнал операций недоступен, операция не выполнена"),
    errors.ConfigurationError: ("Server.Configuration", "CONFIGURATION", "Ошибка конфигурации шлюза"),
    errors.GatewayError: ("Server", "INTERNAL_ERROR", "Внутренняя ошибка шлюза"),
}
# Spyne's own request faults, renamed into our vocabulary.
SPYNE_FAULTS = {
    "Client.SchemaValidationError": ("Client.ValidationError", "VALIDATION_ERROR", "Неверные аргументы"),
    "Client.ValidationError": ("Client.ValidationError", "VALIDATION_ERROR", "Неверные аргументы"),
}
_SCHEMA_FIELD = re.compile(r"Element '(?:\{[^}]*\})?([^']+)'")


def detail_element(code: str, message: str, **extra: Any) -> etree._Element:
    """``<tns:GatewayFault>`` with code, message and optional fields, inside <detail>."""
    root = etree.Element(f"{{{TNS}}}GatewayFault", nsmap={"gw": TNS})
    for name, value in (("code", code), ("message", message), *extra.items()):
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if item is not None and item != "":
                etree.SubElement(root, f"{{{TNS}}}{name}").text = str(item)
    return root


def lookup(exc: errors.GatewayError) -> tuple[str, str, str]:
    for cls in type(exc).__mro__:
        if cls in FAULTS:
            return FAULTS[cls]
    raise LookupError(type(exc))


def to_fault(exc: errors.GatewayError, correlation_id: str | None = None) -> Fault:
    faultcode, code, russian = lookup(exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, errors.InvalidArgument):
        extra["field"] = [field for field, _ in exc.problems]
    if isinstance(exc, (errors.BillingError, errors.AuthenticationFailed)):
        extra["billingMessage"] = getattr(exc, "billing_message", None)
    extra["correlationId"] = correlation_id
    message = str(exc)
    return Fault(faultcode=faultcode, faultstring=f"[{code}] {russian}: {message}",
                 detail=detail_element(code, message, **extra))


def schema_fault(text: str) -> Fault:
    """A libxml2 schema error as our validation fault, naming the field."""
    faultcode, code, russian = SPYNE_FAULTS["Client.SchemaValidationError"]
    match = _SCHEMA_FIELD.search(text)
    field = match[1] if match else None
    message = re.sub(r"\{[^}]*\}", "", text).strip()
    return Fault(faultcode=faultcode, faultstring=f"[{code}] {russian}: {message}",
                 detail=detail_element(code, message, field=field))


class GatewayApplication(Application):
    """Spyne Application whose call_wrapper applies the one error mapping."""

    def call_wrapper(self, ctx: Any) -> Any:
        correlation_id = getattr(ctx.udc, "correlation_id", None)
        try:
            return super().call_wrapper(ctx)
        except Fault:
            raise
        except errors.GatewayError as exc:
            raise to_fault(exc, correlation_id) from None
        except Exception:
            log.exception("unexpected error in %s", getattr(ctx.descriptor, "name", "?"))
            raise to_fault(errors.GatewayError("internal error"), correlation_id) from None


def error_envelope(exc: errors.GatewayError) -> bytes:
    """The fault envelope for an error raised outside Spyne (HTTP-level guards)."""
    faultcode, code, russian = lookup(exc)
    return fault_envelope(faultcode, code, f"{russian}: {exc}")


def fault_envelope(faultcode: str, code: str, message: str) -> bytes:
    """A complete SOAP 1.1 fault envelope, for errors raised outside Spyne."""
    return _envelope(faultcode, f"[{code}] {message}", detail_element(code, message))


def operation_envelope(exc: errors.GatewayError, correlation_id: str | None = None) -> bytes:
    """The envelope of ``to_fault``, as Spyne would send it, for an operation's error raised after
    Spyne handed the reply over (a streamed list's rows before the first byte)."""
    fault = to_fault(exc, correlation_id)
    return _envelope(fault.faultcode, fault.faultstring, fault.detail)


def _envelope(faultcode: str, faultstring: str, detail: etree._Element) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap11env": SOAP_ENV})
    fault = etree.SubElement(etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body"), f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soap11env:{faultcode}"
    etree.SubElement(fault, "faultstring").text = faultstring
    etree.SubElement(fault, "detail").append(detail)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
