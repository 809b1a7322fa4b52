"""Starting the gateway: the one sequence behind ``soap-gateway serve``, ``soap_gateway.wsgi`` and
deploy/gunicorn.conf.py.

Nothing here imports prometheus_client or spyne at module level: the master
sets PROMETHEUS_MULTIPROC_DIR (``ops.multiproc.ensure_dir``) after importing
this module and before the workers fork, and the library picks its
multiprocess mode on first import.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable

from .config import ServerSettings, Settings, check_runtime, write_budget
from .ops import multiproc
from .ops.logs import configure_logging
from .security.settings import require_auth_decision

log = logging.getLogger("soap_gateway")


def load_settings(config_path: str | None) -> Settings:
    """The settings to serve with; ConfigurationError, in plain words, on anything serving cannot work with."""
    settings = Settings.load(config_path or None)
    require_auth_decision(settings.auth)
    check_runtime(settings)
    return settings


def create_worker_app(settings: Settings) -> Any:
    """In a worker, after the fork: its own app, billing session (SUID), TLS context and journal connections."""
    from .application import create_app

    configure_logging(settings.server.log_format)
    app = create_app(settings)
    log.info("worker %d ready, WSDL at %s?wsdl", os.getpid(), settings.server.wsdl_address)
    return app


def bind_address(server: ServerSettings) -> str:
    """gunicorn's form of server.listen: an IPv6 host in brackets (``[::1]:8000``)."""
    host, port = server.address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """Every gunicorn setting the gateway needs, from its own configuration.

    Options given on gunicorn's command line still win over these when they
    come through deploy/gunicorn.conf.py.
    """
    server = settings.server
    return {
        "bind": bind_address(server),
        # Processes, about one per core: building and parsing SOAP envelopes is
        # CPU-bound Python (SOAP-INTEROP §1.7), so only processes add throughput.
        "workers": server.workers,
        # Threads per process: a request spends most of its time waiting for the
        # billing, and a waiting thread holds no GIL.  The billing connection pool
        # (billing.pool_size) is raised to this if lower (deploy/TUNING.md).
        "threads": server.threads,
        "worker_class": "gthread" if server.threads > 1 else "sync",
        # A worker that has not reported for this long is killed: well above the
        # billing's read timeout, so a slow billing call ends with our
        # Server.BillingUnavailable fault rather than a killed worker and an empty reply.
        "timeout": max(server.timeout, int(settings.billing.read_timeout) + 10),
        # On SIGTERM (systemctl stop, a deploy) requests in flight get this long to
        # finish: the longest a journaled write can take, so a payment under way is
        # settled in the journal before its worker exits.  The unit's TimeoutStopSec must exceed it.
        "graceful_timeout": max(30, int(write_budget(settings.billing, settings.journal)) + 1),
        # Behind nginx, which keeps upstream connections open for a few seconds.
        "keepalive": 5,
        # Each worker builds its own app after the fork; nothing is shared between processes.
        "preload_app": False,
        # A worker keeps what its allocator has freed (large or hostile requests leave it tens of MiB
        # above its idle size: bench/RESULTS.md, "Hostile request documents"), so it is replaced after
        # about this many requests, gracefully; the jitter keeps the workers from restarting together.
        "max_requests": server.max_requests,
        "max_requests_jitter": server.max_requests // 10,
        # ... and one that has grown past server.max_worker_memory_mib is replaced too: lxml keeps every
        # element name and namespace it has parsed, so distinct names add up whatever the count.
        "post_request": memory_ceiling(server.max_worker_memory_mib),
        # One line per SOAP request comes from the app itself; the reverse proxy keeps the access log.
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        # The heartbeat file lives in memory (a disk-backed /tmp can stall it).
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,
        # gunicorn >= 25 opens a control socket for gunicornc under $HOME, which the unit's
        # account (home /nonexistent) cannot create: an error at every start.  Nothing uses it
        # (older gunicorn does not know the name: skipped by serve, ignored in a config file).
        "control_socket_disable": True,
        # Only the local reverse proxy may set X-Forwarded-*; the WSDL address never
        # comes from request headers anyway (server.public_url).
        "forwarded_allow_ips": "127.0.0.1,::1",
        "on_starting": on_starting,
        "child_exit": child_exit,
        "worker_exit": worker_exit,
        "on_exit": on_exit,
    }


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


_STATM: dict[int, int] = {}  # process id -> its open /proc/<pid>/statm: read after every request


def _resident_bytes() -> int:
    pid = os.getpid()
    fd = _STATM.get(pid)
    if fd is None:
        fd = _STATM[pid] = os.open(f"/proc/{pid}/statm", os.O_RDONLY | os.O_CLOEXEC)
    return int(os.pread(fd, 128, 0).split()[1]) * _PAGE


_PAGE = os.sysconf("SC_PAGE_SIZE")


def on_starting(server: Any) -> None:
    """Samples left by an earlier run would be added to this run's (not on HUP: workers keep counting)."""
    multiproc.clear_stale()


def child_exit(server: Any, worker: Any) -> None:
    """Forget a dead worker's in-flight and circuit gauges."""
    multiproc.worker_exited(worker.pid)


def on_exit(server: Any) -> None:
    """A metrics directory this master made in /tmp goes with it (the unit names its own under /run)."""
    multiproc.remove_own_dir()


def worker_exit(server: Any, worker: Any) -> None:
    """Close the worker's journal connections once its last request has finished."""
    gateway = getattr(getattr(worker, "wsgi", None), "gateway", None)
    if gateway is not None:
        gateway.close()
