"""THE mapping from gateway errors to RFC 9457 problem documents (application/problem+json).

The code, the Russian title and the HTTP status are the error's own
(errors.py), the same the SOAP fault carries; a problem adds the offending
fields, the billing's message and the correlation id, as the fault's detail does.
"""

from __future__ import annotations

from typing import Any

from .. import errors
from ..web.app import Response, status_line
from .values import dumps

PROBLEM = "application/problem+json"
TYPE_BASE = "urn:soap-gateway:problem:"


def problem(exc: errors.GatewayError, correlation_id: str) -> dict[str, Any]:
    document: dict[str, Any] = {
        "type": TYPE_BASE + exc.code, "title": exc.title, "status": exc.http_status, "detail": str(exc),
        "code": exc.code, "correlationId": correlation_id,
    }
    if isinstance(exc, errors.InvalidArgument):
        document["field"] = [name for name, _ in exc.problems]
        document["errors"] = [{"field": name, "detail": why} for name, why in exc.problems]
    if isinstance(exc, (errors.BillingError, errors.AuthenticationFailed)) and getattr(exc, "billing_message", None):
        document["billingMessage"] = exc.billing_message
    return document


def problem_response(exc: errors.GatewayError, correlation_id: str) -> Response:
    headers = [("Content-Type", PROBLEM)]
    if isinstance(exc, errors.MethodNotAllowed):
        headers.append(("Allow", str(getattr(exc, "allow", "POST"))))
    return status_line(exc.http_status), headers, dumps(problem(exc, correlation_id))


def problem_schema() -> dict[str, Any]:
    """The JSON Schema of every problem document the REST facade answers."""
    return {
        "type": "object",
        "required": ["type", "title", "status", "detail", "code", "correlationId"],
        "properties": {
            "type": {"type": "string", "description": f"{TYPE_BASE}<code>"},
            "title": {"type": "string", "description": "Что случилось, по-русски (как в SOAP fault) / the summary"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string", "description": "This occurrence, in English"},
            "code": {"type": "string", "description": "The stable code, the same as in the SOAP fault's detail",
                     "examples": ["VALIDATION_ERROR", "BILLING_ERROR"]},
            "correlationId": {"type": "string", "description": "Also in the X-Correlation-ID header and the logs"},
            "field": {"type": "array", "items": {"type": "string"}, "description": "Offending arguments"},
            "errors": {"type": "array", "items": {
                "type": "object", "required": ["field", "detail"],
                "properties": {"field": {"type": "string"}, "detail": {"type": "string"}}}},
            "billingMessage": {"type": "string", "description": "What the billing said, verbatim"},
        },
    }
