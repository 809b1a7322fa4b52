"""The operator's and the integrator's GET endpoints: /healthz, /readyz, /metrics and the help page at /."""

from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import parse_qs

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
        "/readyz": lambda environ: ready(readiness),
        "/metrics": lambda environ: scrape(getattr(client, "circuit_state", None),
                                           getattr(app.gateway.journal, "counts", None)),
        "/": lambda environ: help_page(page, environ),
    })


def ready(readiness: Readiness) -> Response:
    ok, results = readiness.run()
    metrics.set_readiness({r.name: r.state == "ok" for r in results})
    body = json.dumps({"status": "ready" if ok else "not ready", "checks": [r.as_dict() for r in results]},
                      ensure_ascii=False).encode("utf-8")
    return ("200 OK" if ok else "503 Service Unavailable"), [("Content-Type", "application/json"), _NO_STORE], body


def scrape(circuit_state: Callable[[], str] | None,
           journal_counts: Callable[[], dict[str, int]] | None = None) -> Response:
    if callable(circuit_state):
        metrics.set_circuit_state(circuit_state())
    if callable(journal_counts):
        metrics.set_journal_states(journal_counts())
    content_type, body = metrics.exposition()
    return "200 OK", [("Content-Type", content_type), _NO_STORE], body


def help_page(page: HelpPage, environ: dict[str, Any]) -> Response:
    lang = parse_qs(environ.get("QUERY_STRING", "")).get("lang", ["ru"])[0]
    return "200 OK", [("Content-Type", "text/html; charset=utf-8")], page.render(lang)


def _json(status: str, payload: dict[str, Any]) -> Response:
    return status, [("Content-Type", "application/json")], json.dumps(payload).encode()
