"""gunicorn settings for soap-gateway.

    gunicorn -c deploy/gunicorn.conf.py soap_gateway.wsgi:application

Sizes come from the gateway's own configuration (SOAP_GATEWAY_CONFIG and the
SOAP_GATEWAY_* variables), so the TOML file stays the one place to tune them;
options given on gunicorn's command line still win over this file.
"""

import os
import sys

# Metrics: set PROMETHEUS_MULTIPROC_DIR *before* anything imports prometheus_client,
# which picks its multiprocess mode on first import; the workers forked from this
# master inherit the variable and each write their samples there.
from soap_gateway.ops import multiproc

multiproc.ensure_dir()

from soap_gateway.config import Settings, check_runtime, write_budget  # noqa: E402  (after the variable is set)
from soap_gateway.errors import ConfigurationError  # noqa: E402
from soap_gateway.server import memory_ceiling  # noqa: E402

try:
    _settings = Settings.load(os.environ.get("SOAP_GATEWAY_CONFIG") or None)
    check_runtime(_settings)  # refuse to start in plain words, not with a traceback per worker
except ConfigurationError as exc:
    sys.exit(f"soap-gateway: configuration error: {exc}")

_host, _port = _settings.server.address
bind = f"[{_host}]:{_port}" if ":" in _host else f"{_host}:{_port}"

# Processes, about one per core: building and parsing SOAP envelopes is
# CPU-bound Python (SOAP-INTEROP §1.7), so only processes add throughput.
workers = _settings.server.workers

# Threads per process: a request spends most of its time waiting for the
# billing, and a waiting thread holds no GIL.  The billing connection pool
# (billing.pool_size) is raised to this if lower: threads never queue for a
# connection (measured reasoning in deploy/TUNING.md).
threads = _settings.server.threads
worker_class = "gthread" if threads > 1 else "sync"

# A worker that has not reported for this long is killed.  It must be well
# above the billing's read timeout, so a slow billing call ends with our
# Server.BillingUnavailable fault rather than a killed worker and an empty reply.
timeout = max(_settings.server.timeout, int(_settings.billing.read_timeout) + 10)

# On SIGTERM (systemctl stop, a deploy) requests in flight get this long to
# finish: the longest a journaled write can take (its post and the lookups
# that reconcile a lost answer), so a payment under way is settled in the
# journal before its worker exits.  The unit's TimeoutStopSec must exceed it.
graceful_timeout = max(30, int(write_budget(_settings.billing, _settings.journal)) + 1)

# A worker keeps what its allocator has freed (large or hostile requests leave it tens of MiB
# above its idle size: bench/RESULTS.md, "Hostile request documents"), so it is replaced after
# about this many requests, gracefully; the jitter keeps the workers from restarting together.
max_requests = _settings.server.max_requests
max_requests_jitter = _settings.server.max_requests // 10
# ... and one that has grown past server.max_worker_memory_mib is replaced too: lxml keeps every
# element name and namespace it has parsed, so distinct names add up whatever the count.
post_request = memory_ceiling(_settings.server.max_worker_memory_mib)

# Behind nginx, which keeps upstream connections open for a few seconds.
keepalive = 5

# Each worker builds its own app after the fork: its own billing session
# (SUID), TLS context and connection pool; nothing is shared between processes.
preload_app = False

# Recycle a worker now and then to bound slow memory growth; the jitter keeps
# the workers from restarting at the same moment.
max_requests = 20000
max_requests_jitter = 2000

# One line per SOAP request comes from the app itself (operation, caller,
# outcome, duration, correlation id); the reverse proxy keeps the access log.
accesslog = None
errorlog = "-"
loglevel = "info"

# The heartbeat file lives in memory (a disk-backed /tmp can stall it).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# gunicorn >= 25 opens a control socket for gunicornc under $HOME, which the unit's
# account (home /nonexistent) cannot create: an error at every start. Nothing here uses it
# (older gunicorn ignores the name).
control_socket_disable = True

# Only the local reverse proxy may set X-Forwarded-*; the WSDL address never
# comes from request headers anyway (server.public_url).
forwarded_allow_ips = "127.0.0.1,::1"


def on_starting(server):  # noqa: ANN001 - gunicorn hook signature
    """Samples left by an earlier run would be added to this run's (not on HUP: workers keep counting)."""
    multiproc.clear_stale()


def child_exit(server, worker):  # noqa: ANN001 - gunicorn hook signature
    """Forget a dead worker's in-flight and circuit gauges."""
    multiproc.worker_exited(worker.pid)


def on_exit(server):  # noqa: ANN001 - gunicorn hook signature
    """A metrics directory this master made in /tmp goes with it (the unit names its own under /run)."""
    multiproc.remove_own_dir()


def worker_exit(server, worker):  # noqa: ANN001 - gunicorn hook signature
    """Close the worker's journal connections once its last request has finished."""
    gateway = getattr(getattr(worker, "wsgi", None), "gateway", None)
    if gateway is not None:
        gateway.close()
