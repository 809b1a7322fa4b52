"""The WSGI application: routing, request guards, the WSDL built once, Spyne behind.

Guards run before Spyne sees a byte: the caller's address and credentials
(auth.py), body size, DOCTYPE/entities (SOAP 1.1 §3 forbids a DTD), nesting
depth and element count (xmlguard.py), and a catch-all that turns anything
escaping before the reply's first byte into a SOAP fault envelope instead of a
bare HTTP 500.  Replies are not buffered here: a long list streams (writer.py,
streamed.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

import spyne.const
from lxml import etree
from spyne import Fault
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from ..catalogue import Catalogue, load_catalogue
from ..config import Settings
from ..core import Gateway
from ..errors import GatewayError
from ..execute import Executor
from ..ops import endpoints, metrics
from ..ops.observe import correlation_id_from, soap_request
from .auth import CREDENTIALS, PRINCIPAL, AuthGuard
from .faults import GatewayApplication, fault_envelope, lookup, operation_envelope, schema_fault
from .execute import execute_operation
from .models import TNS
from .services import build_service
from .streamed import StreamedBody, release
from .writer import StreamingSoap11
from .xmlguard import prescan

log = logging.getLogger("soap_gateway.soap")
APP_NAME = "BillingGateway"
XS = "http://www.w3.org/2001/XMLSchema"
_SCHEMA_ORDER = {f"{{{XS}}}{tag}": i for i, tag in enumerate(("import", "simpleType", "complexType", "element"))}
SOAP_PATH = "/soap"
_SOAP_HEADERS = [("Content-Type", "text/xml; charset=utf-8")]

# Spyne logs malformed requests verbatim (passwords, SUIDs) and client faults
# with tracebacks; we log one line per request ourselves (SOAP-INTEROP rule 13).
for _name in ("spyne.protocol.soap.soap11.invalid", "spyne.protocol.xml.invalid"):
    logging.getLogger(_name).disabled = True
logging.getLogger("spyne.application.client").setLevel(logging.CRITICAL)
logging.getLogger("spyne.application.server").setLevel(logging.CRITICAL)
# With _wsdl_part_name Spyne's response wrapper is a "customized class" and it
# warns on every response it builds; the wrapper is correct, the warning is noise.
logging.getLogger("spyne.model.complex").setLevel(logging.ERROR)
# Spyne's DEBUG records print whole request and response documents (passwords
# included): a filter, not a level, so turning every logger up cannot bring them back.
for _name in [n for n in logging.root.manager.loggerDict if n.split(".")[0] == "spyne"]:
    logging.getLogger(_name).addFilter(lambda record: record.levelno >= logging.WARNING)
# Spyne runs a full gc.collect() once a second per process when a request's
# context closes: ≈8 ms added to whichever request triggers it (bench/ANALYSIS.md).
# Python's own generational collector already reclaims the cycles it worries about.
spyne.const.MIN_GC_INTERVAL = float("inf")


class GatewaySoap11(Soap11):
    """Soap11 whose schema validation is thread-safe and reports our fault."""

    def set_validator(self, validator: Any) -> None:
        super().set_validator(validator)
        if self.validator is self.SCHEMA_VALIDATION:
            # Spyne binds its own validator per instance here; ours replaces it.
            self.validate_document = self._validate_schema

    def create_in_document(self, ctx: Any, charset: Any = None) -> None:
        try:
            super().create_in_document(ctx, charset)
        except (UnicodeError, LookupError):
            # Spyne decodes the body itself and lets these escape as a bare 500.
            raise Fault("Client.XMLSyntaxError", "[XML_SYNTAX_ERROR] the body is not text in the declared "
                                                 "encoding (or the encoding is unknown)") from None

    def base_from_element(self, ctx: Any, cls: Any, element: Any) -> Any:
        try:
            return super().base_from_element(ctx, cls, element)
        except ValueError:
            # e.g. 24:00:00 passes the schema, then Python's datetime refuses it.
            field = etree.QName(element).localname
            raise schema_fault(f"Element '{field}': {element.text!r} is not a valid value") from None

    def _validate_schema(self, payload: Any) -> None:
        try:
            self.validation_schema.assertValid(payload)  # the error travels with the exception
        except etree.DocumentInvalid as exc:
            raise schema_fault(str(exc)) from None


@dataclass
class CallContext:
    """What the HTTP side knows about a call; reaches the service as ``ctx.udc``."""

    correlation_id: str
    credentials: Any = None
    caller: str = "anonymous"
    principal: Any = None  # security.roles.Principal: what the caller's roles allow
    operation: str = "-"  # set once Spyne has dispatched the request
    outcome: str = "ok"  # or the faultcode answered
    # Run when the server is done with the reply, also when it gave up mid-stream.
    on_close: list[Callable[[], None]] = field(default_factory=list)


def build_application(catalogue: Catalogue, gateway: Gateway | None, settings: Settings) -> GatewayApplication:
    zone = ZoneInfo(settings.billing.timezone) if settings.server.datetime_output == "offset" else None
    extra = None
    if settings.billing.execute_procedures:  # off by default: no EXECUTE in the WSDL
        client: Any = gateway.client if gateway is not None else None
        extra = execute_operation(Executor(client, settings.billing.execute_procedures, catalogue))
    service = build_service(catalogue, gateway, zone, extra, settings.server.buffer_rows)  # type: ignore[arg-type]
    app = GatewayApplication([service], tns=TNS, name=APP_NAME,
                             in_protocol=GatewaySoap11(validator="lxml"), out_protocol=StreamingSoap11())
    app.event_manager.add_listener("method_call", _attach_call_context)
    return app


def _attach_call_context(ctx: Any) -> None:
    ctx.udc = ctx.transport.req_env.get("soap_gateway.call")


def _record_outcome(ctx: Any) -> None:
    """After Spyne answered (fault or not): which operation it was and how it ended."""
    call = ctx.transport.req_env.get("soap_gateway.call")
    if call is None:
        return
    if ctx.descriptor is not None:
        call.operation = ctx.descriptor.name
    elif ctx.method_request_string in ctx.app.interface.service_method_map:  # refused before dispatch
        call.operation = etree.QName(ctx.method_request_string).localname
    # else: not one of our operations; what the caller sent is never a metric label
    error = ctx.out_error or ctx.in_error
    call.outcome = str(getattr(error, "faultcode", "Server")) if error is not None else "ok"


def render_wsdl(spyne_wsgi: WsgiApplication, address: str) -> bytes:
    """Build the WSDL exactly once, for the configured address, in a stable UTF-8 form."""
    spyne_wsgi.doc.wsdl11.build_interface_document(address)
    root = etree.fromstring(spyne_wsgi.doc.wsdl11.get_interface_document())
    for operation in root.iter("{http://schemas.xmlsoap.org/wsdl/}operation"):
        # Spyne names a part that does not exist here once parts are 'parameters'.
        operation.attrib.pop("parameterOrder", None)
    for schema in root.iter(f"{{{XS}}}schema"):
        # Spyne emits top-level types in hash order; sorted, the file diffs cleanly.
        schema[:] = sorted(schema, key=lambda e: (_SCHEMA_ORDER.get(e.tag, 9), e.get("name", "")))
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def build_wsdl(settings: Settings, catalogue: Catalogue | None = None) -> bytes:
    """The WSDL without a billing connection (``soap-gateway wsdl``, the drift test)."""
    catalogue = catalogue or load_catalogue(settings.billing.catalogue_files, settings.billing.arg_counts)
    return render_wsdl(WsgiApplication(build_application(catalogue, None, settings)),
                       settings.server.wsdl_address)


class GatewayWSGI:
    """Routes /soap, /soap?wsdl and /healthz; /readyz, /metrics and / plug in via ``routes``."""

    def __init__(self, settings: Settings, gateway: Gateway) -> None:
        self.settings = settings
        self.gateway = gateway
        self.spyne = WsgiApplication(build_application(gateway.catalogue, gateway, settings),
                                     max_content_length=settings.server.max_body_bytes)
        self.wsdl = render_wsdl(self.spyne, settings.server.wsdl_address)
        self.spyne.app.out_protocol.prepare()  # the reply writers, compiled from the interface just built
        self.guard = AuthGuard(settings.auth, gateway.catalogue, gateway)
        self.spyne.event_manager.add_listener("wsgi_close", _record_outcome)
        # a streamed reply is still being written when the app returns: record it once it starts
        self.spyne.app.event_manager.add_listener("method_return_string", _record_outcome)
        self.routes: dict[str, Callable[[dict[str, Any]], tuple[str, list[tuple[str, str]], bytes]]] = {
            "/healthz": lambda environ: _json("200 OK", {"status": "ok"}),
        }
        self.readiness = endpoints.install(self)
        if gateway.journal is not None:
            self.readiness.add("journal", gateway.journal.ping)
        self._circuit_state = getattr(gateway.client, "circuit_state", None)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        wsdl = method == "GET" and environ.get("QUERY_STRING", "").lower().startswith("wsdl")
        refusal = self.guard.check(environ, wsdl=wsdl and path.rstrip("/") == SOAP_PATH)
        if refusal is not None:
            return _respond(start_response, *refusal)
        if path.rstrip("/") == SOAP_PATH:
            if wsdl:
                return _respond(start_response, "200 OK", [("Content-Type", "text/xml; charset=utf-8")], self.wsdl)
            if method == "POST":
                return self.soap(environ, start_response)
            return _fault(start_response, "405 Method Not Allowed", "Client.RequestNotAllowed", "METHOD_NOT_ALLOWED",
                          "POST a SOAP 1.1 envelope here, or GET ?wsdl")
        route = self.routes.get(path.rstrip("/") or "/")
        if route is None or method not in ("GET", "HEAD"):
            return _respond(start_response, "404 Not Found", [("Content-Type", "text/plain")], b"not found\n")
        status, headers, body = route(environ)
        return _respond(start_response, status, headers, body)

    def soap(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        correlation_id = correlation_id_from(environ.get("HTTP_X_CORRELATION_ID"))
        principal = environ.get(PRINCIPAL)
        call = environ.setdefault("soap_gateway.call", CallContext(
            correlation_id, credentials=environ.get(CREDENTIALS), principal=principal,
            caller=principal.name if principal is not None else "anonymous"))
        with contextlib.ExitStack() as observed:
            record = observed.enter_context(soap_request(call.correlation_id))

            def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                record.status = status
                return start_response(status, [*headers, ("X-Correlation-ID", call.correlation_id)], exc_info)

            def finish() -> None:
                record.operation, record.outcome, record.caller = call.operation, call.outcome, call.caller
            chunks = self._soap(environ, start, call)
            if isinstance(chunks, StreamedBody):  # observed (and logged) until the server is done with it
                chunks.when_done(finish)
                chunks.when_done(observed.pop_all().close)
            else:
                finish()
        if callable(self._circuit_state):
            metrics.set_circuit_state(self._circuit_state())
        return chunks

    def _soap(self, environ: dict[str, Any], start_response: Callable[..., Any],
              call: CallContext) -> list[bytes] | StreamedBody:
        body = _read_body(environ, self.settings.server.max_body_bytes)
        if body is None:
            call.outcome = "Client.RequestTooLarge"
            return _fault(start_response, "413 Request Entity Too Large", "Client.RequestTooLarge",
                          "REQUEST_TOO_LARGE", f"the body exceeds {self.settings.server.max_body_bytes} bytes")
        refused = prescan(body, self.settings.server.max_depth, self.settings.server.max_elements)
        if refused is not None:
            call.outcome = refused[0]
            return _fault(start_response, "500 Internal Server Error", *refused)
        environ = dict(environ, **{"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
        try:
            chunks = iter(self.spyne(environ, start_response))
            first = next(chunks, b"")  # a whole small reply; of a streamed one, its first part
        except GatewayError as exc:  # a streamed row failed before the first byte: still a fault
            log.warning("reply failed before it started: %s", exc)
            release(call)
            call.outcome = lookup(exc)[0]
            return _respond(start_response, "500 Internal Server Error", list(_SOAP_HEADERS),
                            operation_envelope(exc, call.correlation_id), sys.exc_info())
        except Exception:
            log.exception("request escaped the SOAP stack")
            release(call)
            call.outcome = "Server"
            return _fault(start_response, "500 Internal Server Error", "Server", "INTERNAL_ERROR", "internal error",
                          sys.exc_info())
        if call.on_close:  # the writer is streaming: the rest is read while the server sends it
            return StreamedBody(first, chunks, call)
        return [first, *chunks]


def _read_body(environ: dict[str, Any], limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` (never read past it).

    Without a Content-Length (a chunked upload) it reads to the end or to one
    byte past the limit, so an oversized body is refused, never cut short;
    reads loop because a WSGI stream may return less than asked.
    """
    stream = environ["wsgi.input"]
    try:
        declared = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        declared = -1
    if declared > limit:
        return None
    wanted = declared if declared >= 0 else limit + 1
    chunks: list[bytes] = []
    received = 0
    while received < wanted:
        chunk = stream.read(min(wanted - received, 1 << 16))
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
    return None if received > limit else b"".join(chunks)


def _respond(start_response: Callable[..., Any], status: str, headers: list[tuple[str, str]],
             body: bytes, exc_info: Any = None) -> list[bytes]:
    start_response(status, [*headers, ("Content-Length", str(len(body)))], *([exc_info] if exc_info else []))
    return [body]


def _fault(start_response: Callable[..., Any], status: str, faultcode: str, code: str, message: str,
           exc_info: Any = None) -> list[bytes]:
    """A fault envelope; with ``exc_info`` it replaces a response Spyne started but did not send."""
    return _respond(start_response, status, list(_SOAP_HEADERS), fault_envelope(faultcode, code, message),
                    exc_info)


def _json(status: str, payload: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    return status, [("Content-Type", "application/json")], json.dumps(payload).encode()


def create_app(settings: Settings, gateway: Gateway | None = None) -> GatewayWSGI:
    """The gateway's WSGI app; tests pass a Gateway whose client points at the emulator."""
    return GatewayWSGI(settings, gateway or Gateway.from_settings(settings))
