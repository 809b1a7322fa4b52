"""The durable write journal and audit trail (docs/money-safety.md): stores, reconciliation, the guard."""

from __future__ import annotations

from ..config import JournalSettings
from .guard import WriteGuard
from .model import AuditRecord, Entry, Who
from .store import SqlJournal


def open_journal(settings: JournalSettings) -> SqlJournal:
    """The PostgreSQL journal when ``url`` is set, else the SQLite file at ``path``."""
    if settings.url:
        from .postgres import PostgresJournal

        return PostgresJournal(settings.url)
    from .sqlite import SqliteJournal

    return SqliteJournal(settings.path)


__all__ = ["AuditRecord", "Entry", "SqlJournal", "Who", "WriteGuard", "open_journal"]
