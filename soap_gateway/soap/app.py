"""The SOAP facade: /soap and /soap?wsdl on the shared web layer, the WSDL built once, Spyne behind.

The web layer (soap_gateway.web) has already checked the caller's address and
credentials; before Spyne sees a byte this facade applies the body size limit,
then decodes the body once and checks every XML limit and the envelope's shape
while streaming, no tree built (xmlguard.py).  An error raised before the reply's first
byte becomes a SOAP fault envelope instead of a bare HTTP 500.  Replies are
not buffered here: a long list streams (writer.py, web/streamed.py).  With
``server.soap_path = "fast"`` (the default) a request is then answered by the
path compiled from the catalogue and the published models (fastpath.py,
fastpath_models.py); Spyne publishes the WSDL and answers only what is none of
our operations.
"""

from __future__ import annotations

import io
import logging
import sys
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
from ..errors import GatewayError, MethodNotAllowed, UnreadableRequest
from ..execute import OPERATION as EXECUTE
from ..execute import Executor
from ..operations import Operation, operations
from ..web import CallContext, Response
from ..web.app import respond, status_line
from ..web.context import ENVIRON_KEY
from ..web.limits import read_body
from ..web.streamed import StreamedBody
from .accounting import accounting_operations, accounting_runs, guard_allowances
from .decoding import FORWARDED_CONTENT_TYPE
from .faults import (GatewayApplication, error_envelope, lookup, operation_envelope, request_fault, schema_fault,
                     stamp_correlation_id)
from .execute import execute_operation, execute_run
from .fastpath import Answer, Compiled, CompiledOperation, FastPath
from .fastpath_models import CompiledRun, Run
from .models import TNS
from .services import build_service
from .writer import StreamingSoap11
from .xmlguard import Limits, guard_request

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
        except Fault as fault:
            raise request_fault(fault) from None

    def decompose_incoming_envelope(self, ctx: Any, message: Any) -> None:
        try:
            super().decompose_incoming_envelope(ctx, message)
        except Fault as fault:
            raise request_fault(fault) from None

    def deserialize(self, ctx: Any, message: Any) -> None:
        try:
            super().deserialize(ctx, message)
        except Fault as fault:  # Spyne's own wording gets our code in front (1C shows only the faultstring)
            raise request_fault(fault) from None

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


def soap_operations(catalogue: Catalogue, gateway: Gateway | None, settings: Settings) -> dict[str, Operation]:
    """Every operation SOAP offers but EXECUTE and the accounting ones (soap_runs), for both request paths."""
    zone = ZoneInfo(settings.billing.timezone) if settings.server.datetime_output == "offset" else None
    return operations(catalogue, gateway, zone, settings.server.buffer_rows,
                      marked=settings.journal.evidence == "marker")


def soap_runs(catalogue: Catalogue, gateway: Gateway | None, settings: Settings) -> dict[str, Run]:
    """The operations SOAP offers beyond ``soap_operations``, for both request paths: the accounting ones,
    and EXECUTE when ``billing.execute_procedures`` lists procedures (off by default: not in the WSDL)."""
    runs = accounting_runs(gateway, settings.accounting)
    if settings.billing.execute_procedures:
        runs[EXECUTE] = execute_run(Executor(gateway.client if gateway else None, gateway.writes if gateway else None,
                                             settings.billing.execute_procedures, catalogue))
    return runs


def build_application(catalogue: Catalogue, gateway: Gateway | None, settings: Settings,
                      ops: dict[str, Operation] | None = None,
                      runs: dict[str, Run] | None = None) -> GatewayApplication:
    runs = runs if runs is not None else soap_runs(catalogue, gateway, settings)
    extra = accounting_operations(runs)
    if EXECUTE in runs:
        extra.update(execute_operation(runs[EXECUTE]))
    service = build_service(ops if ops is not None else soap_operations(catalogue, gateway, settings), extra)
    app = GatewayApplication([service], tns=TNS, name=APP_NAME,
                             in_protocol=GatewaySoap11(validator="lxml"), out_protocol=StreamingSoap11())
    app.event_manager.add_listener("method_call", _attach_call_context)
    app.out_protocol.event_manager.add_listener("before_serialize", _stamp_fault)
    return app


def _stamp_fault(ctx: Any) -> None:
    """Faults Spyne raised itself (schema, XML syntax, no such operation) name the call too."""
    call = ctx.transport.req_env.get(ENVIRON_KEY)
    if isinstance(ctx.out_error, Fault) and call is not None:
        stamp_correlation_id(ctx.out_error, call.correlation_id)


def _attach_call_context(ctx: Any) -> None:
    ctx.udc = ctx.transport.req_env[ENVIRON_KEY]  # a web.CallContext, typed


def _record_outcome(ctx: Any) -> None:
    """After Spyne answered (fault or not): which operation it was and how it ended."""
    call: CallContext = ctx.transport.req_env[ENVIRON_KEY]
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
        if "parameterOrder" in operation.attrib:
            del operation.attrib["parameterOrder"]
    for schema in root.iter(f"{{{XS}}}schema"):
        # Spyne emits top-level types in hash order; sorted, the file diffs cleanly.
        schema[:] = sorted(schema, key=lambda e: (_SCHEMA_ORDER.get(e.tag, 9), e.get("name", "")))
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def build_wsdl(settings: Settings, catalogue: Catalogue | None = None) -> bytes:
    """The WSDL without a billing connection (``soap-gateway wsdl``, the drift test)."""
    catalogue = catalogue or load_catalogue(settings.billing.catalogue_files, settings.billing.arg_counts)
    return render_wsdl(WsgiApplication(build_application(catalogue, None, settings)),
                       settings.server.wsdl_address)


class SoapFacade:
    """/soap: POST a SOAP 1.1 envelope, GET ?wsdl; a web.Facade."""

    name = "soap"
    prefix = SOAP_PATH

    def __init__(self, settings: Settings, gateway: Gateway) -> None:
        self.settings = settings
        ops = soap_operations(gateway.catalogue, gateway, settings)
        runs = soap_runs(gateway.catalogue, gateway, settings)  # shared by both paths
        self.spyne = WsgiApplication(build_application(gateway.catalogue, gateway, settings, ops, runs),
                                     max_content_length=settings.server.max_body_bytes)
        self.wsdl = render_wsdl(self.spyne, settings.server.wsdl_address)
        self.spyne.app.out_protocol.prepare()  # the reply writers, compiled from the interface just built
        self.fast = compile_fast_path(self.spyne.app, ops, runs) if settings.server.soap_path == "fast" else None
        self.limits = Limits.of(settings.server)
        self.larger = guard_allowances(settings, self.limits)
        self.spyne.event_manager.add_listener("wsgi_close", _record_outcome)
        # a streamed reply is still being written when the app returns: record it once it starts
        self.spyne.app.event_manager.add_listener("method_return_string", _record_outcome)

    def describes(self, environ: dict[str, Any]) -> bool:
        return environ.get("REQUEST_METHOD", "GET") == "GET" and _asks_wsdl(environ)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any],
                 call: CallContext) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "GET" and _asks_wsdl(environ):
            return respond(start_response, "200 OK", list(_SOAP_HEADERS), self.wsdl)
        if method != "POST":
            raise MethodNotAllowed(method=method, allowed="POST a SOAP 1.1 envelope here, or GET ?wsdl")
        return self._soap(environ, start_response, call)

    def render(self, exc: GatewayError, call: CallContext) -> Response:
        """A fault envelope with the HTTP status of the error (401, 403, 413, 503...): raised
        before any operation ran, so the status says why the request was not served."""
        call.outcome = lookup(exc)[0]
        return status_line(exc.http_status), list(_SOAP_HEADERS), error_envelope(exc, call.correlation_id)

    def _soap(self, environ: dict[str, Any], start_response: Callable[..., Any],
              call: CallContext) -> list[bytes] | StreamedBody:
        body = read_body(environ, self.settings.server.max_body_bytes, self.settings.server.body_timeout)
        try:
            body = guard_request(body, environ.get("CONTENT_TYPE", ""), self.limits, self.larger)
        except UnreadableRequest as exc:  # a SOAP-level fault, so HTTP 500 (SOAP 1.1 §6.2), as .NET expects
            call.outcome = lookup(exc)[0]
            return respond(start_response, "500 Internal Server Error", list(_SOAP_HEADERS),
                           error_envelope(exc, call.correlation_id))
        if self.fast is not None:
            answer = self.fast.answer(body, call)
            if answer is not None:
                return self._fast_reply(answer, start_response, call)
        environ = dict(environ, **{"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
                                   "CONTENT_TYPE": FORWARDED_CONTENT_TYPE})
        try:
            chunks = iter(self.spyne(environ, start_response))
            first = next(chunks, b"")  # a whole small reply; of a streamed one, its first part
        except GatewayError as exc:  # a streamed row failed before the first byte: still a fault
            log.warning("reply failed before it started: %s", exc)
            call.release()
            call.outcome = lookup(exc)[0]
            return respond(start_response, "500 Internal Server Error", list(_SOAP_HEADERS),
                            operation_envelope(exc, call.correlation_id), sys.exc_info())
        if call.on_close:  # the writer is streaming: the rest is read while the server sends it
            return StreamedBody(first, chunks, call)
        return [first, *chunks]

    def _fast_reply(self, answer: Answer, start_response: Callable[..., Any],
                    call: CallContext) -> list[bytes] | StreamedBody:
        if answer.chunks is None:
            return respond(start_response, answer.status, list(_SOAP_HEADERS), answer.body)
        try:
            first = next(answer.chunks, b"")
        except GatewayError as exc:  # a streamed row failed before the first byte: still a fault
            log.warning("reply failed before it started: %s", exc)
            call.release()
            call.outcome = lookup(exc)[0]
            return respond(start_response, "500 Internal Server Error", list(_SOAP_HEADERS),
                           operation_envelope(exc, call.correlation_id))
        start_response(answer.status, list(_SOAP_HEADERS))
        return StreamedBody(first, answer.chunks, call)


def compile_fast_path(app: GatewayApplication, ops: dict[str, Operation], runs: dict[str, Run]) -> FastPath:
    """The fast path for every operation of ``ops`` and the gateway's own ``runs``, from the application
    Spyne built from them."""
    descriptors = {descriptor.name: descriptor
                   for found in app.interface.service_method_map.values() for descriptor in found}
    writers = {name: app.out_protocol.writer(descriptor.out_message) for name, descriptor in descriptors.items()}
    compiled: dict[str, Compiled] = {name: CompiledOperation(op, writers[name]) for name, op in ops.items()}
    for name, run in runs.items():
        descriptor = descriptors[name]
        compiled[name] = CompiledRun(name, run, descriptor.in_message, writers[name], bool(descriptor.in_header))
    return FastPath(compiled, app.in_protocol.validation_schema, app.in_protocol.parser_kwargs)


def _asks_wsdl(environ: dict[str, Any]) -> bool:
    path = (environ.get("PATH_INFO", "") or "/").rstrip("/")
    return path == SOAP_PATH and environ.get("QUERY_STRING", "").lower().startswith("wsdl")
