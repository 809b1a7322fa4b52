"""SQLite state of the emulated billing: schema, one lock-guarded connection, transactions.

Money is stored as integer kopecks, timestamps as ISO text, IPv4 as signed INTEGER (as Firebird would).
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from .signatures import FIN_OPER_COLUMNS, HOME_COLUMNS, SWITCH_COLUMNS, USR_GET_COLUMNS, Field
from .sqltypes import Money, kopecks_to_decimal


def _table(name: str, columns: tuple[Field, ...], extra: str = "") -> str:
    cols = ",\n  ".join(f'"{col}" {kind.affinity}' for col, kind in columns)
    return f"CREATE TABLE IF NOT EXISTS {name} (\n  {cols}{extra})"


USER_EXTRA = (("COMMENT", "TEXT"), ("COLOR", "TEXT"))  # FIND_2 columns that CLN_USR_GET does not show

SCHEMA = [
    _table("users", USR_GET_COLUMNS, "".join(f',\n  "{c}" {t}' for c, t in USER_EXTRA)
           + ",\n  PRIMARY KEY (USER_ID)"),
    _table("homes", HOME_COLUMNS, ",\n  PRIMARY KEY (ID)"),
    _table("switches", SWITCH_COLUMNS, ",\n  PRIMARY KEY (ID)"),
    "CREATE TABLE IF NOT EXISTS uslugi (ID INTEGER PRIMARY KEY, NAME TEXT NOT NULL, PRICE INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS usr_uslugi (ID INTEGER PRIMARY KEY, USER_ID INTEGER, USLUGA_ID INTEGER,
       ENABLED INTEGER, CREATE_DATE TEXT, NEXT_DATE TEXT, COUNTT INTEGER, COMMENT TEXT,
       EQUIPMENT_ID INTEGER, SIP_ID TEXT)""",
    _table("fin_opers", tuple(c for c in FIN_OPER_COLUMNS if c[0] != "PARENT_ID"),
           ",\n  ADMIN TEXT,\n  PRIMARY KEY (ID)"),
    "CREATE TABLE IF NOT EXISTS audit (ID INTEGER PRIMARY KEY, TS TEXT, LOGIN TEXT, ACTION TEXT, HOST TEXT,"
    " DETAILS TEXT)",
    "CREATE TABLE IF NOT EXISTS generators (NAME TEXT PRIMARY KEY, VALUE INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS users_parent ON users (PARENT_ID)",
    "CREATE INDEX IF NOT EXISTS fin_opers_user ON fin_opers (USER_ID, OP_DATE)",
    "CREATE INDEX IF NOT EXISTS switches_home ON switches (HOME_ID)",
]

MONEY_USER_COLUMNS = frozenset(c for c, kind in USR_GET_COLUMNS if isinstance(kind, Money))


def _fold(value: object) -> str | None:
    # SQLite's lower() knows only ASCII; Firebird's CONTAINING is case-insensitive for Cyrillic too.
    return None if value is None else str(value).casefold()


def gen_id(conn: sqlite3.Connection, table: str) -> int:
    """Firebird GEN_ID: ids are never reused, even after the row with the highest id is deleted."""
    row = conn.execute("SELECT VALUE FROM generators WHERE NAME = ?", (table,)).fetchone()
    current = row[0] if row else conn.execute(f"SELECT COALESCE(MAX(ID), 0) FROM {table}").fetchone()[0]
    conn.execute("INSERT OR REPLACE INTO generators (NAME, VALUE) VALUES (?, ?)", (table, current + 1))
    return int(current) + 1


class Store:
    """One SQLite connection shared by all server threads, serialised by a re-entrant lock."""

    def __init__(self, path: str = ":memory:") -> None:
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.create_function("fold", 1, _fold, deterministic=True)
        with self.lock:
            for statement in SCHEMA:
                self.conn.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All of a procedure or nothing of it: a billing error rolls back every change."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def is_empty(self) -> bool:
        with self.lock:
            return bool(self.conn.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0)

    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name (a test helper; values exactly as stored)."""
        with self.lock:
            cursor = self.conn.execute(sql, params)
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def user(self, user_id: int) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM users WHERE USER_ID = ?", user_id)
        if not rows:
            return None
        row = rows[0]
        for name in MONEY_USER_COLUMNS:
            if row[name] is not None:
                row[name] = kopecks_to_decimal(row[name])
        return row

    def balance(self, user_id: int) -> Decimal | None:
        rows = self.query("SELECT BALANCE FROM users WHERE USER_ID = ?", user_id)
        return kopecks_to_decimal(rows[0]["BALANCE"] or 0) if rows else None

    def fin_opers(self, user_id: int) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM fin_opers WHERE USER_ID = ? ORDER BY ID", user_id)
        for row in rows:
            row["SUMMA"] = kopecks_to_decimal(row["SUMMA"])
        return rows

    def close(self) -> None:
        with self.lock:
            self.conn.close()
