"""``soap-gateway serve``: the WSGI app under gunicorn, one app per worker.

The app (and with it the billing session, SSLContext and WSDL) is created in
each worker after the fork, so no connection or SUID is shared between
processes.  On SIGTERM gunicorn stops accepting and lets in-flight requests
finish: the graceful timeout covers the longest journaled write, so a
payment under way is completed and settled in the journal before exit.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable

from gunicorn.app.base import BaseApplication

from .config import Settings, check_runtime, write_budget
from .ops import multiproc

log = logging.getLogger("soap_gateway")


class GatewayServer(BaseApplication):  # type: ignore[misc]
    """gunicorn configured from Settings rather than from its own command line."""

    def __init__(self, settings: Settings, config_path: str | None) -> None:
        self.settings, self.config_path = settings, config_path
        super().__init__()

    def load_config(self) -> None:
        server = self.settings.server
        host, port = server.address
        options: dict[str, Any] = {
            "bind": f"{host}:{port}",
            "workers": server.workers,
            "threads": server.threads,
            "worker_class": "gthread" if server.threads > 1 else "sync",
            # Above the billing's read timeout, so a slow billing call ends
            # with our fault rather than a killed worker.
            "timeout": max(server.timeout, int(self.settings.billing.read_timeout) + 10),
            "graceful_timeout": max(30, int(write_budget(self.settings.billing, self.settings.journal)) + 1),
            "worker_exit": _close_gateway,
            "preload_app": False,
            "max_requests": server.max_requests,
            "max_requests_jitter": server.max_requests // 10,
            "post_request": memory_ceiling(server.max_worker_memory_mib),
            "accesslog": None,  # the app logs one line per SOAP request itself
            "on_starting": lambda server: multiproc.clear_stale(),
            "child_exit": lambda server, worker: multiproc.worker_exited(worker.pid),
            "on_exit": lambda server: multiproc.remove_own_dir(),
            # gunicorn >= 25 opens a control socket under $HOME, which a service account
            # (home /nonexistent) cannot create: it logs an error at every start. Nothing uses it.
            "control_socket_disable": True,
        }
        for key, value in options.items():
            if key in self.cfg.settings:  # control_socket_disable is unknown to gunicorn < 25
                self.cfg.set(key, value)
        multiproc.ensure_dir()  # before the workers fork: they inherit the variable

    def load(self) -> Any:
        from .ops.logs import configure_logging
        from .application import create_app

        settings = Settings.load(self.config_path)
        check_runtime(settings)
        configure_logging(settings.server.log_format)
        app = create_app(settings)
        log.info("worker %d ready, WSDL at %s?wsdl", os.getpid(), settings.server.wsdl_address)
        return app


def memory_ceiling(mib: int) -> Callable[..., None]:
    """gunicorn's post_request hook: a worker grown past ``mib`` MiB resident finishes what it serves
    and is replaced.  Workers keep what their allocator freed, and lxml every name it parsed
    (deploy/TUNING.md); a count of requests alone does not bound that."""
    limit = mib << 20

    def check(worker: Any, req: Any, environ: Any, resp: Any) -> None:
        if limit and worker.alive and _resident_bytes() > limit:
            log.warning("worker %d holds more than server.max_worker_memory_mib (%d MiB): replacing it",
                        os.getpid(), mib)
            worker.alive = False  # gunicorn's graceful exit: requests in flight finish first
    return check


def _resident_bytes() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _close_gateway(server: Any, worker: Any) -> None:
    gateway = getattr(getattr(worker, "wsgi", None), "gateway", None)
    if gateway is not None:
        gateway.close()


def run_gunicorn(settings: Settings, config_path: str | None) -> int:
    GatewayServer(settings, config_path).run()
    return 0
