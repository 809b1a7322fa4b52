"""The journal in one SQLite file: WAL, BEGIN IMMEDIATE, one connection per thread.

Safe for every worker process and thread of one machine: BEGIN IMMEDIATE
takes SQLite's write lock before the key is read, so two workers never
decide about one key at the same time.  Not for several machines (network
file systems break SQLite's locks): use PostgreSQL there.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import JournalUnavailable
from .store import AUDIT_DDL, ENTRIES_DDL, INDEXES, SqlJournal

APPEND_ONLY = [
    f"""CREATE TRIGGER IF NOT EXISTS journal_audit_no_{verb} BEFORE {verb.upper()} ON journal_audit
        BEGIN SELECT RAISE(ABORT, 'journal_audit is append-only'); END""" for verb in ("update", "delete")
]
BUSY_TIMEOUT = 30.0  # seconds a writer waits for another process's transaction


class SqliteJournal(SqlJournal):
    """The default journal: a file shared by the workers of one instance."""

    def __init__(self, path: str) -> None:
        self.path = str(Path(path).expanduser())
        self.instance = f"{socket.gethostname()}:{os.getpid()}"
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        parent = Path(self.path).parent
        if not parent.is_dir():
            raise JournalUnavailable(detail=f"the directory of journal.path {self.path} does not exist")
        with self._tx() as cur:
            for statement in (ENTRIES_DDL, AUDIT_DDL.format(id="INTEGER PRIMARY KEY AUTOINCREMENT"),
                              *INDEXES, *APPEND_ONLY):
                cur.execute(statement)

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            conn.execute("PRAGMA synchronous=FULL")  # a committed 'pending' survives a power cut
            self._local.conn, self._local.pid = conn, os.getpid()
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def _tx(self, write: bool = True) -> Iterator[Any]:
        try:
            conn = self._connection()
            cur = conn.cursor()
            cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            raise JournalUnavailable(detail=f"SQLite {self.path}: {exc}") from None
        try:
            yield cur
            conn.execute("COMMIT")
        except BaseException as exc:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if isinstance(exc, sqlite3.Error):
                raise JournalUnavailable(detail=f"SQLite {self.path}: {exc}") from None
            raise

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error:
                pass
