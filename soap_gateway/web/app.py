"""The WSGI application both facades plug into: routing, the guard, the call context, the request log.

A request under a facade's prefix (``/soap``, ``/api``) gets a ``CallContext``
with a correlation id, passes the guard (allow-list, authentication), and is
observed while the facade answers it: one log line and the request metrics,
labelled with the facade, after the last byte of a streamed reply.  Errors the
guard raises, and anything escaping a facade before its reply started, are the
gateway's own errors rendered by that facade (a SOAP fault, a problem
document).  The operator's GET endpoints (``/healthz``, ``/readyz``,
``/metrics``, ``/``) are plain routes; a refusal there is rendered by the
first facade.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from http import HTTPStatus
from typing import Any, Callable, Iterable, Protocol, Sequence

from ..catalogue import Catalogue
from ..config import Settings
from ..core import Gateway
from ..errors import GatewayError, NotAuthenticated, RequestTimeout
from ..ops import metrics
from ..ops.health import Readiness
from .context import ENVIRON_KEY, CallContext
from .guards import AuthGuard
from .requestlog import correlation_id_from, observed
from .streamed import StreamedBody

log = logging.getLogger("soap_gateway.web")

Response = tuple[str, list[tuple[str, str]], bytes]
Route = Callable[[dict[str, Any]], Response]
StartResponse = Callable[..., Any]


class Facade(Protocol):
    """A wire format the gateway speaks under its own path prefix."""

    name: str  # the facade label of the metrics and the request log
    prefix: str

    def describes(self, environ: dict[str, Any]) -> bool:
        """Whether the request reads the facade's published description (public with ``auth.wsdl_public``)."""

    def __call__(self, environ: dict[str, Any], start_response: StartResponse,
                 call: CallContext) -> Iterable[bytes]:
        """Answer an accepted request; a ``GatewayError`` raised before the reply started is rendered."""

    def render(self, exc: GatewayError, call: CallContext) -> Response:
        """The facade's reply for an error raised outside its operations (and ``call.outcome`` set)."""


class WebApp:
    """Routes to the facades and the operator's endpoints (``routes``: exact path -> GET handler)."""

    def __init__(self, settings: Settings, gateway: Gateway, facades: Sequence[Facade],
                 catalogue: Catalogue | None = None) -> None:
        """``catalogue``: every operation the facades offer, for the roles (default: the billing's)."""
        self.settings = settings
        self.gateway = gateway
        self.facades = sorted(facades, key=lambda f: len(f.prefix), reverse=True)
        self.fallback = facades[0]
        self.by_name = {f.name: f for f in facades}
        self.guard = AuthGuard(settings.auth, catalogue or gateway.catalogue, gateway)
        self.routes: dict[str, Route] = {}
        self.readiness = Readiness()
        self._circuit_state = getattr(gateway.client, "circuit_state", None)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        facade = self.facade_of(path)
        if facade is None:
            return self.plain(environ, start_response, path)
        call = CallContext(correlation_id_from(environ.get("HTTP_X_CORRELATION_ID")), facade.name)
        environ[ENVIRON_KEY] = call

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            call.status = status
            return start_response(status, [*headers, ("X-Correlation-ID", call.correlation_id)],
                                  *([exc_info] if exc_info else []))

        with contextlib.ExitStack() as observing:
            observing.enter_context(observed(call))
            body = self._answer(facade, environ, start, call)
            if isinstance(body, StreamedBody):  # observed (and logged) until the server is done with it
                body.when_done(observing.pop_all().close)
        if callable(self._circuit_state):
            metrics.set_circuit_state(self._circuit_state())
        return body

    def facade_of(self, path: str) -> Facade | None:
        for facade in self.facades:
            if path == facade.prefix or path.startswith(facade.prefix + "/"):
                return facade
        return None

    def _answer(self, facade: Facade, environ: dict[str, Any], start: StartResponse,
                call: CallContext) -> Iterable[bytes]:
        try:
            call.principal, call.credentials = self.guard.check(environ, public_document=facade.describes(environ))
            return facade(environ, start, call)
        except GatewayError as exc:
            call.release()
            return self.refuse(facade, exc, call, start)
        except Exception:
            log.exception("request escaped the %s facade", facade.name)
            call.release()
            return self.refuse(facade, GatewayError("internal error"), call, start)

    def refuse(self, facade: Facade, exc: GatewayError, call: CallContext, start: StartResponse) -> list[bytes]:
        status, headers, body = facade.render(exc, call)
        if isinstance(exc, NotAuthenticated):
            headers = [*headers, ("WWW-Authenticate", self.guard.challenge)]
        if isinstance(exc, RequestTimeout):  # the rest of a late body is not read: the connection cannot go on
            headers = [*headers, ("Connection", "close")]
        # exc_info: it replaces a response the facade started but did not send
        return respond(start, status, headers, body, sys.exc_info() if sys.exc_info()[0] else None)

    def plain(self, environ: dict[str, Any], start_response: StartResponse, path: str) -> list[bytes]:
        """The operator's endpoints: GET only, behind the same guard."""
        try:
            self.guard.check(environ, public_document=False)
        except GatewayError as exc:
            call = CallContext(correlation_id_from(environ.get("HTTP_X_CORRELATION_ID")), self.fallback.name)
            return self.refuse(self.fallback, exc, call, start_response)
        route = self.routes.get(path.rstrip("/") or "/")
        if route is None or environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return respond(start_response, "404 Not Found", [("Content-Type", "text/plain")], b"not found\n")
        return respond(start_response, *route(environ))


def status_line(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


def respond(start_response: StartResponse, status: str, headers: list[tuple[str, str]], body: bytes,
            exc_info: Any = None) -> list[bytes]:
    start_response(status, [*headers, ("Content-Length", str(len(body)))], *([exc_info] if exc_info else []))
    return [body]
