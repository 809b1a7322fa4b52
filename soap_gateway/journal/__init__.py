"""The durable write journal and audit trail (docs/money-safety.md): stores, reconciliation, the guard.

Importing the package loads nothing else of ours: ``soap-gateway journal``
builds its arguments before gunicorn's metrics directory is decided, and
prometheus_client must not be imported before that (ops/multiproc.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import JournalSettings
from ..errors import ConfigurationError

if TYPE_CHECKING:
    from .store import SqlJournal


def open_journal(settings: JournalSettings) -> SqlJournal:
    """The PostgreSQL journal when ``url`` is set, else the SQLite file at ``path``."""
    if settings.url:
        try:
            from .postgres import PostgresJournal
        except ImportError:
            raise ConfigurationError("journal.url needs psycopg: pip install 'soap-gateway[postgres]'") from None
        return PostgresJournal(settings.url)
    from .sqlite import SqliteJournal

    return SqliteJournal(settings.path)


__all__ = ["open_journal"]
