"""The journal in PostgreSQL (psycopg 3): for several gateway instances on several machines.

The same decisions as the SQLite store, made safe across instances by the
database: INSERT ... ON CONFLICT (key) DO NOTHING lets exactly one request
create a key, SELECT ... FOR UPDATE makes the others wait for it before they
look.  The password belongs in PGPASSWORD or a ~/.pgpass file rather than in
the URL; the URL is never logged.
"""

from __future__ import annotations

import os
import socket
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from ..errors import ConfigurationError, JournalUnavailable
from .store import AUDIT_DDL, ENTRIES_DDL, INDEXES, SqlJournal

SCHEMA_LOCK = 0x6A6F75726E616C  # pg_advisory_xact_lock: workers starting together create the schema once
APPEND_ONLY = [
    """CREATE OR REPLACE FUNCTION journal_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
       $$ BEGIN RAISE EXCEPTION 'journal_audit is append-only'; END $$""",
    """CREATE OR REPLACE TRIGGER journal_audit_no_change BEFORE UPDATE OR DELETE ON journal_audit
       FOR EACH ROW EXECUTE FUNCTION journal_audit_append_only()""",
    """CREATE OR REPLACE TRIGGER journal_audit_no_truncate BEFORE TRUNCATE ON journal_audit
       FOR EACH STATEMENT EXECUTE FUNCTION journal_audit_append_only()""",
]
CONNECT_TIMEOUT = 5


class PostgresJournal(SqlJournal):
    """A journal shared by every instance that points at the same database."""

    lock_clause = " FOR UPDATE"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise ConfigurationError("journal.url needs psycopg: pip install 'soap-gateway[postgres]'") from None
        self._psycopg = psycopg
        self._url = url
        self.instance = f"{socket.gethostname()}:{os.getpid()}"
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            for statement in (ENTRIES_DDL, AUDIT_DDL.format(id="BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
                              *INDEXES, *APPEND_ONLY):
                cur.execute(statement)

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or getattr(self._local, "pid", None) != os.getpid():
            conn = self._psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                                         application_name="soap-gateway")
            self._local.conn, self._local.pid = conn, os.getpid()
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[Any]:
        psycopg = self._psycopg
        try:
            conn = self._connection()
        except psycopg.Error as exc:
            raise JournalUnavailable(detail=f"PostgreSQL: {_reason(exc)}") from None
        try:
            with conn.transaction(), conn.cursor() as cur:
                yield cur
        except psycopg.Error as exc:
            if conn.broken:
                self._local.conn = None  # the next call connects again
            raise JournalUnavailable(detail=f"PostgreSQL: {_reason(exc)}") from None

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for conn in connections:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing at shutdown, nothing to report
                pass


def _reason(exc: Exception) -> str:
    # psycopg's connection errors can quote the conninfo; keep the first line, which does not
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
