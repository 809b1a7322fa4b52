"""``soap-gateway serve``: the WSGI app under gunicorn, configured by ``bootstrap`` like deploy/gunicorn.conf.py.

The app (and with it the billing session, SSLContext and WSDL) is created in
each worker after the fork, so no connection or SUID is shared between
processes.  On SIGTERM gunicorn stops accepting and lets in-flight requests
finish: the graceful timeout covers the longest journaled write, so a
payment under way is completed and settled in the journal before exit.
"""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from .bootstrap import create_worker_app, gunicorn_options, load_settings
from .config import Settings
from .ops import multiproc


class GatewayServer(BaseApplication):  # type: ignore[misc]
    """gunicorn configured from Settings rather than from its own command line."""

    def __init__(self, settings: Settings, config_path: str | None) -> None:
        self.settings, self.config_path = settings, config_path
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_options(self.settings).items():
            if key in self.cfg.settings:  # control_socket_disable is unknown to gunicorn < 25
                self.cfg.set(key, value)
        multiproc.ensure_dir()  # before the workers fork: they inherit the variable

    def load(self) -> Any:
        return create_worker_app(load_settings(self.config_path))


def run_gunicorn(config_path: str | None) -> int:
    """Serve until stopped; the settings are checked here first, in plain words, not in every worker."""
    GatewayServer(load_settings(config_path), config_path).run()
    return 0
