"""A threaded WSGI server for the demo and the tests; production runs gunicorn."""

from __future__ import annotations

import socketserver
import threading
from typing import Any, Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # the app logs one line per request itself


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class BackgroundServer:
    """Serves a WSGI app on host:port (0 = any free port) in a daemon thread."""

    def __init__(self, app: Callable[..., Any] | None, host: str = "127.0.0.1", port: int = 0) -> None:
        # No app yet (None) is fine: wsgiref only calls it per request, and set_app comes first.
        self.httpd = make_server(host, port, app,  # type: ignore[arg-type]
                                 server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        self.host, self.port = host, self.httpd.server_port
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="wsgi", daemon=True)

    def set_app(self, app: Callable[..., Any]) -> None:
        self.httpd.set_app(app)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
