"""The journal in PostgreSQL (psycopg 3): for several gateway instances on several machines.

The same decisions as the SQLite store, made safe across instances by the
database: INSERT ... ON CONFLICT (scope, key) DO NOTHING lets exactly one request
create a key, SELECT ... FOR UPDATE makes the others wait for it before they
look.  The password belongs in PGPASSWORD or a ~/.pgpass file rather than in
the URL; the URL is never logged.
"""

from __future__ import annotations

import os
import re
import socket
from contextlib import contextmanager
from typing import Any, Iterator

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from ..errors import JournalUnavailable
from .store import AUDIT_DDL, ENTRIES_DDL, INDEXES, META_DDL, SESSIONS_DDL, SqlJournal

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

    def __init__(self, url: str, pool_size: int = 10) -> None:
        self.where = "PostgreSQL (journal.url)"
        self.instance = f"{socket.gethostname()}:{os.getpid()}"
        self._pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=False, timeout=CONNECT_TIMEOUT,
                                    kwargs={"connect_timeout": CONNECT_TIMEOUT, "application_name": "soap-gateway"})
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except (psycopg.Error, PoolTimeout) as exc:  # the server is not there, or refuses us
            self._pool.close()
            raise JournalUnavailable(detail=f"PostgreSQL: cannot connect ({_reason(exc)})") from None
        self._create_schema()

    def _create_schema(self) -> None:
        # DDL on tables in use takes locks that deadlock with running claims
        # (an index on the audit held, one on the entries awaited, while a claim
        # holds its entry and waits for the audit): an instance that starts
        # while others post runs no DDL when the schema is already complete.
        statements = (ENTRIES_DDL, AUDIT_DDL, META_DDL, SESSIONS_DDL, *INDEXES, *APPEND_ONLY)
        relations = [m for s in statements for m in re.findall(r"IF NOT EXISTS (\w+)", s)]
        triggers = [m for s in statements for m in re.findall(r"CREATE OR REPLACE TRIGGER (\w+)", s)]
        with self._tx() as cur:
            cur.execute("SELECT count(*) FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NULL",
                        (relations,))
            missing = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM pg_trigger WHERE tgname = ANY(%s)", (triggers,))
            complete = missing == 0 and cur.fetchone()[0] == len(triggers)
            cur.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
                        "AND table_name = 'journal_entries' AND column_name = 'scope'")
            if complete and cur.fetchone()[0] == 1:  # and keys already scoped (an earlier version's are not)
                return
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            self._create(cur, "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
            for statement in APPEND_ONLY:
                cur.execute(statement)

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s")

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[Any]:
        # The pool hands out a connection inside a transaction and commits (or
        # rolls back) when the block ends; broken connections are replaced.
        try:
            with self._pool.connection() as conn, conn.cursor() as cur:
                yield cur
        except (psycopg.Error, PoolTimeout) as exc:
            raise JournalUnavailable(detail=f"PostgreSQL: {_reason(exc)}") from None

    def close(self) -> None:
        self._pool.close()


def _reason(exc: BaseException) -> str:
    # psycopg's connection errors can quote the conninfo; keep the first line, which does not
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
