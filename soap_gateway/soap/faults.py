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
# Spyne logs every fault an operation raises at ERROR with a traceback; ours are expected answers (a
# subscriber not found), logged once by call_wrapper. Only Fault records are dropped: anything else
# Spyne reports still shows.
logging.getLogger("spyne.application").addFilter(lambda record: not isinstance(record.msg, Fault))

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"

# error class -> faultcode (looked up along the MRO); the detail code and the Russian
# text for 1C's ОписаниеОшибки() are the error's own (errors.py), shared with REST.
FAULTS: dict[type[errors.GatewayError], str] = {
    errors.InvalidArgument: "Client.ValidationError",
    errors.RequestTooLarge: "Client.RequestTooLarge",
    errors.RequestTimeout: "Client.RequestTimeout",
    errors.MethodNotAllowed: "Client.RequestNotAllowed",
    errors.UnknownOperation: "Client.UnknownOperation",
    errors.RequestRefused: "Client.BadRequest",
    errors.NotAuthenticated: "Client.AuthenticationRequired",
    errors.AddressNotAllowed: "Client.AddressNotAllowed",
    errors.PermissionDenied: "Client.PermissionDenied",
    errors.IdempotencyConflict: "Client.IdempotencyConflict",
    errors.AuthenticationFailed: "Client.AuthenticationFailed",
    errors.SessionExpired: "Server.SessionExpired",
    errors.NotFound: "Client.NotFound",
    errors.InvalidValue: "Client.InvalidArgument",
    errors.Duplicate: "Client.Duplicate",
    errors.NotPermitted: "Client.NotPermitted",
    errors.BillingRefused: "Client.BillingRefused",
    errors.BillingError: "Server.BillingError",
    errors.BillingUnavailable: "Server.BillingUnavailable",
    errors.OutcomeUnknown: "Server.OutcomeUnknown",
    errors.JournalUnavailable: "Server.JournalUnavailable",
    errors.ConfigurationError: "Server.Configuration",
    errors.GatewayError: "Server",
}
# An unreadable request's faultcode by its code; VersionMismatch and MustUnderstand are SOAP 1.1's own (§4.4).
DOCUMENT_FAULTS = {
    "ENCODING_NOT_SUPPORTED": "Client.EncodingNotSupported",
    "ENCODING_MISMATCH": "Client.EncodingMismatch",
    "ATTACHMENTS_NOT_SUPPORTED": "Client.AttachmentsNotSupported",
    "XML_SYNTAX_ERROR": "Client.XMLSyntaxError",
    "DTD_NOT_ALLOWED": "Client.DTDNotAllowed",
    "XML_LIMIT_EXCEEDED": "Client.XMLLimitExceeded",
    "INVALID_ENVELOPE": "Client.InvalidEnvelope",
    "VERSION_MISMATCH": "VersionMismatch",
    "MUST_UNDERSTAND": "MustUnderstand",
}
# Spyne's own request faults, renamed into our vocabulary.
SPYNE_FAULTS = {
    "Client.SchemaValidationError": ("Client.ValidationError", "VALIDATION_ERROR", "Неверные аргументы"),
    "Client.ValidationError": ("Client.ValidationError", "VALIDATION_ERROR", "Неверные аргументы"),
    "Client.XMLSyntaxError": ("Client.XMLSyntaxError", "XML_SYNTAX_ERROR", "Неверный XML"),
    "Client.SoapError": ("Client.InvalidEnvelope", "INVALID_ENVELOPE", "Неверный конверт SOAP"),
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
    """(faultcode, detail code, Russian text) of an error."""
    if isinstance(exc, errors.UnreadableRequest):
        return DOCUMENT_FAULTS.get(exc.code, "Client.BadRequest"), exc.code, exc.title
    for cls in type(exc).__mro__:
        if cls in FAULTS:
            return FAULTS[cls], exc.code, exc.title
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


def stamp_correlation_id(fault: Fault, correlation_id: str) -> None:
    """Every fault names its call: Spyne's own and the schema's get our detail, and all a correlationId."""
    detail = fault.detail
    if not isinstance(detail, etree._Element) or detail.tag != f"{{{TNS}}}GatewayFault":
        match = re.match(r"\[(\w+)\] ?(.*)", fault.faultstring or "", re.S)
        code, message = (match[1], match[2]) if match else (str(fault.faultcode), fault.faultstring or "")
        fault.detail = detail = detail_element(code, message)
    if detail.find(f"{{{TNS}}}correlationId") is None:
        etree.SubElement(detail, f"{{{TNS}}}correlationId").text = correlation_id


def schema_fault(text: str) -> Fault:
    """A libxml2 schema error as our validation fault, naming the field."""
    faultcode, code, russian = SPYNE_FAULTS["Client.SchemaValidationError"]
    match = _SCHEMA_FIELD.search(text)
    field = match[1] if match else None
    message = re.sub(r"\{[^}]*\}", "", text).strip()
    return Fault(faultcode=faultcode, faultstring=f"[{code}] {russian}: {message}",
                 detail=detail_element(code, message, field=field))


def request_fault(fault: Fault) -> Fault:
    """A fault Spyne raised while reading a request, in our vocabulary: a mapped faultcode and a [CODE] prefix."""
    if str(fault.faultstring).startswith("["):
        return fault
    faultcode, code, russian = SPYNE_FAULTS.get(fault.faultcode,
                                                (fault.faultcode or "Client", "INVALID_REQUEST", "Неверный запрос"))
    message = str(fault.faultstring)
    return Fault(faultcode=faultcode, faultstring=f"[{code}] {russian}: {message}",
                 detail=detail_element(code, message))


class GatewayApplication(Application):
    """Spyne Application whose call_wrapper applies the one error mapping."""

    def call_wrapper(self, ctx: Any) -> Any:
        correlation_id = ctx.udc.correlation_id if ctx.udc is not None else None
        try:
            return super().call_wrapper(ctx)
        except Fault:
            raise
        except errors.GatewayError as exc:
            fault = to_fault(exc, correlation_id)
            if fault.faultcode.startswith("Server"):  # the caller's own mistakes are in the request line
                log.warning("%s answered %s: %s", getattr(ctx.descriptor, "name", "?"), fault.faultcode, exc)
            raise fault from None
        except Exception:
            log.exception("unexpected error in %s", getattr(ctx.descriptor, "name", "?"))
            raise to_fault(errors.GatewayError("internal error"), correlation_id) from None


def error_envelope(exc: errors.GatewayError, correlation_id: str | None = None) -> bytes:
    """The fault envelope for an error raised outside Spyne (HTTP-level guards)."""
    faultcode, code, russian = lookup(exc)
    return fault_envelope(faultcode, code, f"{russian}: {exc}", correlation_id)


def fault_envelope(faultcode: str, code: str, message: str, correlation_id: str | None = None) -> bytes:
    """A complete SOAP 1.1 fault envelope, for errors raised outside Spyne."""
    return _envelope(faultcode, f"[{code}] {message}", detail_element(code, message, correlationId=correlation_id))


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
