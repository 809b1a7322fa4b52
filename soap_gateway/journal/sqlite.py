"""The journal in one SQLite file: WAL, BEGIN IMMEDIATE, a connection per transaction.

Safe for every worker process and thread of one machine: BEGIN IMMEDIATE
takes SQLite's write lock before the key is read, so two workers never
decide about one key at the same time.  Not for several machines (network
file systems break SQLite's locks): use PostgreSQL there.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import JournalUnavailable
from .store import SqlJournal

APPEND_ONLY = [
    f"""CREATE TRIGGER IF NOT EXISTS journal_audit_no_{verb} BEFORE {verb.upper()} ON journal_audit
        BEGIN SELECT RAISE(ABORT, 'journal_audit is append-only'); END""" for verb in ("update", "delete")
]
BUSY_TIMEOUT = 30.0  # seconds a writer waits for another process's transaction


class SqliteJournal(SqlJournal):
    """The default journal: a file shared by the workers of one instance."""

    def __init__(self, path: str) -> None:
        self.path = str(Path(path).expanduser().absolute())  # relative: to the working directory
        self.where = f"SQLite {self.path}"
        self.instance = f"{socket.gethostname()}:{os.getpid()}"
        if not Path(self.path).parent.is_dir():
            raise JournalUnavailable(detail=f"the directory of journal.path {self.path} does not exist")
        try:
            with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)) as conn:
                conn.execute("PRAGMA journal_mode=WAL")  # persistent: readers never block the writer
        except sqlite3.Error as exc:
            raise JournalUnavailable(detail=f"{self.where}: {exc}") from None
        with self._tx() as cur:
            self._create(cur, "INTEGER PRIMARY KEY AUTOINCREMENT")
            for statement in APPEND_ONLY:
                cur.execute(statement)

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[Any]:
        # A connection per transaction: opening a local file costs less than a
        # thread-local cache that short-lived threads (dev server, probes) leak.
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.Error as exc:
            raise JournalUnavailable(detail=f"{self.where}: {exc}") from None
        with closing(conn):
            try:
                conn.execute("PRAGMA synchronous=FULL")  # a committed 'pending' survives a power cut
                cur = conn.cursor()
                cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                yield cur
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise JournalUnavailable(detail=f"{self.where}: {exc}") from None
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
