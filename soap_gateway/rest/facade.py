"""The REST facade: /api/v1/<OPERATION> for every operation, the OpenAPI document, the reference page.

Routes are derived from the operations (soap_gateway.operations), never
written per operation: reads answer ``GET`` with query parameters and
``POST`` with a JSON object, everything else ``POST`` only (a login's
password, or any secret argument, never travels in a URL).  Arguments are checked against what the
catalogue publishes; replies are JSON (money as decimal strings, ISO 8601
timestamps, null for absent); a list streams as a JSON array, or as NDJSON
when the caller accepts ``application/x-ndjson``.  Errors are problem
documents (problems.py).  ``Idempotency-Key`` on a write is the same key as
SOAP's IDEMPOTENCY_KEY element, in the same journal.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from ..catalogue.types import Integer
from ..config import Settings
from ..core import Gateway
from ..errors import GatewayError, InvalidArgument, MethodNotAllowed, RequestRefused, UnknownOperation
from ..operations import KEY_MAX_LEN, Operation, Reply, operations
from ..web import CallContext, Response
from ..web.app import respond
from ..web.limits import read_body
from ..web.streamed import StreamedBody
from . import reference
from .openapi import openapi_document
from .problems import problem_response
from .values import JSON, NDJSON, record, rows_chunks

log = logging.getLogger("soap_gateway.rest")
PREFIX = "/api"
VERSION_PATH = "/api/v1/"
OPENAPI_PATH = "/api/openapi.json"
KEY_HEADER = "HTTP_IDEMPOTENCY_KEY"
SUID_HEADER = "HTTP_X_BILLING_SUID"
_KEY = re.compile(r'"?(\S{1,%d}?)"?' % KEY_MAX_LEN)  # a bare token or an RFC 8941 string


class RestFacade:
    """/api: JSON over HTTP; a web.Facade."""

    name = "rest"
    prefix = PREFIX

    def __init__(self, settings: Settings, gateway: Gateway) -> None:
        self.settings = settings
        zone = ZoneInfo(settings.billing.timezone) if settings.server.datetime_output == "offset" else None
        self.operations = operations(gateway.catalogue, gateway, zone, settings.server.buffer_rows,
                                     marked=settings.journal.evidence == "marker")
        self.openapi = openapi_document(settings, offered=self.operations.values())
        self.reference = reference.Pages(OPENAPI_PATH)

    def describes(self, environ: dict[str, Any]) -> bool:
        path = str(environ.get("PATH_INFO", ""))
        return environ.get("REQUEST_METHOD", "GET") == "GET" and (
            path == OPENAPI_PATH or path.startswith(reference.PATH))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any],
                 call: CallContext) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith(VERSION_PATH):
            return self._operation(path[len(VERSION_PATH):], method, environ, start_response, call)
        if method != "GET":
            raise MethodNotAllowed(method=method, allowed="GET", allow="GET")
        if path == OPENAPI_PATH:
            return respond(start_response, "200 OK", [("Content-Type", JSON)], self.openapi)
        page = self.reference.get(path)
        if page is None:
            raise UnknownOperation(operation=path)
        return respond(start_response, "200 OK", [("Content-Type", page[0])], page[1])

    def render(self, exc: GatewayError, call: CallContext) -> Response:
        call.outcome = exc.code
        return problem_response(exc, call.correlation_id)

    def _operation(self, name: str, method: str, environ: dict[str, Any], start_response: Callable[..., Any],
                   call: CallContext) -> Iterable[bytes]:
        operation = self.operations.get(name)
        if operation is None:
            raise UnknownOperation(operation=name[:64])
        call.operation = operation.name
        allowed = "GET, POST" if operation.by_query else "POST"
        if method not in allowed.split(", "):
            raise MethodNotAllowed(method=method, allowed=allowed, allow=allowed)
        server = self.settings.server
        raw = _query(environ) if method == "GET" else _body(environ, server.max_body_bytes, server.body_timeout)
        args = operation.check(_whole_numbers(operation, raw))
        key = _idempotency_key(environ, operation)
        suid = _suid(environ, operation)
        try:
            reply = operation(call, args, key=key, suid=suid)
        except GatewayError as exc:
            return self._error(exc, call, start_response)
        return self._reply(operation, reply, _wants_ndjson(environ), start_response, call)

    def _error(self, exc: GatewayError, call: CallContext, start_response: Callable[..., Any]) -> list[bytes]:
        call.outcome = exc.code
        return respond(start_response, *problem_response(exc, call.correlation_id))

    def _reply(self, operation: Operation, reply: Reply, ndjson: bool, start_response: Callable[..., Any],
               call: CallContext) -> Iterable[bytes]:
        if reply.rows is None:
            body = record({c.name: None for c in operation.proc.columns} | dict(reply.value or {}))
            return respond(start_response, "200 OK", [("Content-Type", JSON)], body)
        content_type = NDJSON if ndjson else JSON
        chunks = rows_chunks(reply.rows, ndjson)
        if reply.complete:
            return respond(start_response, "200 OK", [("Content-Type", content_type)], b"".join(chunks))
        streamed = _closing(chunks, reply)
        call.on_close.append(streamed.close)  # the server closes the body it abandons; that ends the billing call
        first = next(streamed, b"")  # the buffered head rows: nothing read from the billing yet can fail here
        start_response("200 OK", [("Content-Type", content_type)])
        return StreamedBody(first, streamed, call)


def _closing(chunks: Iterable[bytes], reply: Reply) -> Any:
    """``chunks``, and ``reply.close`` told how they ended (a no-op for rows read to their end)."""
    outcome = "Abandoned"
    try:
        yield from chunks
        outcome = "ok"
    except GeneratorExit:
        raise
    except Exception as exc:
        outcome = type(exc).__name__
        log.error("reply cut mid-stream: %s", exc)
        raise
    finally:
        reply.close(outcome)


def _query(environ: dict[str, Any]) -> dict[str, Any]:
    try:
        pairs = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True, strict_parsing=False,
                         errors="strict")
    except UnicodeDecodeError:
        raise RequestRefused(detail="the query string is not UTF-8") from None
    repeated = [(name, "given more than once") for name, values in pairs.items() if len(values) > 1]
    if repeated:
        raise InvalidArgument("query", repeated)
    return {name: values[0] for name, values in pairs.items()}


def _body(environ: dict[str, Any], limit: int, seconds: float) -> dict[str, Any]:
    content_type = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    body = read_body(environ, limit, seconds)
    if not body.strip():  # no arguments (wsgiref reports a missing Content-Type as text/plain)
        return {}
    if content_type != JSON:
        raise RequestRefused(detail="send the arguments as a JSON object (Content-Type: application/json)")
    try:
        value = json.loads(body, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestRefused(detail=f"the body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise RequestRefused(detail="the body must be a JSON object of arguments")
    return {name: item for name, item in value.items() if item is not None}


def _whole_numbers(operation: Operation, args: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema counts 7.0 as an integer, so an integer argument takes it; money never takes a number."""
    integers = {a.name for a in operation.params if isinstance(a.type, Integer)}
    return {name: int(value) if name in integers and isinstance(value, float) and value.is_integer() else value
            for name, value in args.items()}


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a JSON value")


def _idempotency_key(environ: dict[str, Any], operation: Operation) -> str | None:
    header = environ.get(KEY_HEADER)
    if header is None:
        return None
    match = _KEY.fullmatch(header.strip())
    if match is None:
        raise InvalidArgument(operation.name, [("Idempotency-Key", f"1-{KEY_MAX_LEN} characters, no spaces")])
    if not operation.proc.writes:
        raise InvalidArgument(operation.name, [("Idempotency-Key", "only a write takes an idempotency key")])
    return match[1]


def _suid(environ: dict[str, Any], operation: Operation) -> str | None:
    header: str | None = environ.get(SUID_HEADER)
    if header is None or not operation.proc.session:
        return None
    if not re.fullmatch(r"-?\d{1,19}", header.strip()):
        raise InvalidArgument(operation.name, [("X-Billing-SUID", "an integer from CLN_AUTH_LOGIN")])
    return header.strip()


def _wants_ndjson(environ: dict[str, Any]) -> bool:
    accept = environ.get("HTTP_ACCEPT", "")
    return NDJSON in accept and JSON not in accept.replace(NDJSON, "")

