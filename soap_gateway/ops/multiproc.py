"""gunicorn's side of multiprocess metrics: the samples directory and dead workers.

Imports no prometheus_client at module level on purpose: the library picks its
multiprocess mode when first imported, so the master must set
PROMETHEUS_MULTIPROC_DIR before anything imports it, or every forked worker
inherits single-process metrics.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# The temporary directory this master made (None when one was named): only that one is removed at exit.
_made: Path | None = None


def ensure_dir() -> Path:
    """In the master, before workers fork: PROMETHEUS_MULTIPROC_DIR, a fresh temporary one if unset.

    Runs again when gunicorn reloads its configuration (HUP); the variable is
    set by then, so old and new workers share the directory.
    """
    global _made
    named = os.environ.get(MULTIPROC_ENV)
    if not named:
        _made = Path(tempfile.mkdtemp(prefix="soap-gateway-metrics-"))
    directory = Path(named or _made)  # type: ignore[arg-type]
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

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]  # unannotated in prometheus_client


def remove_own_dir() -> None:
    """gunicorn ``on_exit`` hook: the temporary directory ``ensure_dir`` made goes with the master.

    A named directory (the unit's /run/soap-gateway/metrics) is left to whoever named it.
    """
    global _made
    if _made is not None:
        shutil.rmtree(_made, ignore_errors=True)
        if os.environ.get(MULTIPROC_ENV) == str(_made):
            del os.environ[MULTIPROC_ENV]
        _made = None
