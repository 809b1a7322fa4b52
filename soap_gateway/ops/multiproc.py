"""gunicorn's side of multiprocess metrics: the samples directory and dead workers.

Imports no prometheus_client at module level on purpose: the library picks its
multiprocess mode when first imported, so the master must set
PROMETHEUS_MULTIPROC_DIR before anything imports it, or every forked worker
inherits single-process metrics.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def ensure_dir() -> Path:
    """In the master, before workers fork: PROMETHEUS_MULTIPROC_DIR, a fresh temporary one if unset.

    Runs again when gunicorn reloads its configuration (HUP); the variable is
    set by then, so old and new workers share the directory.
    """
    directory = Path(os.environ.get(MULTIPROC_ENV) or tempfile.mkdtemp(prefix="soap-gateway-metrics-"))
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory


def clear_stale() -> None:
    """gunicorn ``on_starting`` hook (once per master, not on reload): drop samples of an earlier run.

    Only the library's own ``*.db`` files are removed, whatever directory was named.
    """
    for stale in ensure_dir().glob("*.db"):
        stale.unlink()


def worker_exited(pid: int) -> None:
    """gunicorn ``child_exit`` hook: drop the dead worker's live gauges (in-flight, circuit state)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
