"""The operator's and the integrator's GET endpoints: /healthz, /readyz, /metrics and the help page at /."""

from __future__ import annotations

import json
import time
from typing import Any, Callable
from urllib.parse import parse_qs

from ..errors import GatewayError
from ..ops import metrics
from ..ops.health import Readiness, billing_checks
from ..ops.helppage import HelpPage
from .app import Response, WebApp

_NO_STORE = ("Cache-Control", "no-store")


def install(app: WebApp, page: HelpPage) -> None:
    """Add the routes to the web app; features add their checks to ``app.readiness``."""
    client = app.gateway.client
    readiness = app.readiness
    for name, check in billing_checks(client):
        readiness.add(name, check)
    if app.gateway.journal is not None:
        readiness.add("journal", app.gateway.journal.ping)
    app.routes.update({
        "/healthz": lambda environ: _json("200 OK", {"status": "ok"}),
        "/readyz": lambda environ: ready(readiness, detailed=_detailed(app, environ)),
        "/metrics": lambda environ: scrape(getattr(client, "circuit_state", None),
                                           getattr(app.gateway.journal, "counts", None),
                                           getattr(app.gateway.journal, "unresolved", None)),
        "/": lambda environ: help_page(page, environ),
    })


def ready(readiness: Readiness, detailed: bool = True) -> Response:
    """Each check's state; its detail (a login, a path, an error's words) and latency only when ``detailed``."""
    ok, results = readiness.run()
    metrics.set_readiness({r.name: r.state == "ok" for r in results})
    checks = [r.as_dict() if detailed else {"name": r.name, "state": r.state} for r in results]
    body = json.dumps({"status": "ready" if ok else "not ready", "checks": checks},
                      ensure_ascii=False).encode("utf-8")
    return ("200 OK" if ok else "503 Service Unavailable"), [("Content-Type", "application/json"), _NO_STORE], body


def _detailed(app: WebApp, environ: dict[str, Any]) -> bool:
    """/readyz tells more than ready or not only by setting, or to a caller that authenticates as an admin.

    The path is public (load balancers probe it without credentials), so the
    guard has not looked at the caller; credentials sent anyway are checked
    here.  In mode "none" every caller is anonymous, so only the setting counts.
    """
    auth = app.settings.auth
    if auth.readyz_details:
        return True
    guard = app.guard
    if guard.mode == "none" or not (environ.get("HTTP_AUTHORIZATION") or guard.certificate_cn(environ)):
        return False
    try:
        principal, _ = guard.authenticate(environ, guard.client_address(environ))
    except GatewayError:
        return False
    return "admin" in principal.roles


def scrape(circuit_state: Callable[[], str] | None,
           journal_counts: Callable[[], dict[str, int]] | None = None,
           journal_unresolved: Callable[[], tuple[int, float | None]] | None = None) -> Response:
    if callable(circuit_state):
        metrics.set_circuit_state(circuit_state())
    if callable(journal_counts):
        metrics.set_journal_states(journal_counts())
    if callable(journal_unresolved):
        count, oldest = journal_unresolved()
        metrics.set_journal_unresolved(count, max(0.0, time.time() - oldest) if oldest else 0.0)
    content_type, body = metrics.exposition()
    return "200 OK", [("Content-Type", content_type), _NO_STORE], body


def help_page(page: HelpPage, environ: dict[str, Any]) -> Response:
    lang = parse_qs(environ.get("QUERY_STRING", "")).get("lang", ["ru"])[0]
    return "200 OK", [("Content-Type", "text/html; charset=utf-8")], page.render(lang)


def _json(status: str, payload: dict[str, Any]) -> Response:
    return status, [("Content-Type", "application/json")], json.dumps(payload).encode()
