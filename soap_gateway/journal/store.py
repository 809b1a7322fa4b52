"""The journal's SQL, shared by the SQLite and PostgreSQL stores: one transaction per decision.

Each decision about a key (insert it, or read it locked and take it over) runs
in one transaction that the database serialises: SQLite's BEGIN IMMEDIATE
across processes on one machine, PostgreSQL's INSERT ... ON CONFLICT plus
SELECT ... FOR UPDATE across instances.  So of many concurrent requests with
one key exactly one gets to post.  The audit table is append-only (triggers).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from contextlib import AbstractContextManager
from dataclasses import asdict, replace
from typing import Any, Iterable, Sequence

from ..errors import ConfigurationError
from .model import (CONFLICT, DONE, FAILED, PENDING, RECONCILING, REPLAYED, RESOLVED, STATES, UNKNOWN, Action,
                    AuditRecord, Decision, Entry, Subject, Who)

ENTRY_COLUMNS = ("scope", "key", "procedure", "fingerprint", "state", "marker", "subscriber", "amount", "caller", "args",
                 "evidence", "result", "reason", "attempts", "owner", "lease_until", "created_at", "updated_at",
                 "sent_at")
AUDIT_COLUMNS = ("at", "key", "procedure", "caller", "subscriber", "amount", "outcome", "detail",
                 "correlation_id", "instance")
_JSON = ("args", "evidence")

ENTRIES_DDL = """CREATE TABLE IF NOT EXISTS journal_entries (
  scope TEXT NOT NULL, key TEXT NOT NULL, procedure TEXT NOT NULL, fingerprint TEXT NOT NULL, state TEXT NOT NULL,
  marker TEXT NOT NULL, subscriber BIGINT, amount TEXT, caller TEXT NOT NULL, args TEXT NOT NULL,
  evidence TEXT NOT NULL, result TEXT, reason TEXT NOT NULL, attempts INTEGER NOT NULL, owner TEXT,
  lease_until DOUBLE PRECISION, created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
  sent_at DOUBLE PRECISION, PRIMARY KEY (scope, key))"""
AUDIT_DDL = """CREATE TABLE IF NOT EXISTS journal_audit (
  id {id}, at DOUBLE PRECISION NOT NULL, key TEXT, procedure TEXT NOT NULL, caller TEXT NOT NULL,
  subscriber BIGINT, amount TEXT, outcome TEXT NOT NULL, detail TEXT NOT NULL, correlation_id TEXT NOT NULL,
  instance TEXT NOT NULL)"""
# Facts about this journal's billing that every instance must share: the
# marker secret (generated once, never shown), calibration of the lookups.
META_DDL = """CREATE TABLE IF NOT EXISTS journal_meta (
  name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL)"""
SECRET = "marker_secret"
# Billing sessions (SUIDs) issued through the gateway, by HMAC of the SUID, with the caller they belong to.
SESSIONS_DDL = """CREATE TABLE IF NOT EXISTS journal_sessions (
  digest TEXT PRIMARY KEY, caller TEXT NOT NULL, issued_at DOUBLE PRECISION NOT NULL)"""
SESSION_SECONDS = 24 * 3600  # older bindings are forgotten: a billing session does not live that long
INDEXES = (
    "CREATE INDEX IF NOT EXISTS journal_audit_at ON journal_audit (at)",
    "CREATE INDEX IF NOT EXISTS journal_audit_key ON journal_audit (key)",
    "CREATE INDEX IF NOT EXISTS journal_entries_state ON journal_entries (state, updated_at)",
)


class SqlJournal:
    """The journal's operations over a DB-API connection; subclasses supply transactions."""

    lock_clause = ""  # PostgreSQL: " FOR UPDATE"
    instance = ""  # host:pid, in every audit line this process writes
    where = ""  # where the journal is, for people (never a password)

    def _tx(self, write: bool = True) -> AbstractContextManager[Any]:
        """A cursor inside one transaction (errors become JournalUnavailable); reads need no write lock."""
        raise NotImplementedError

    def _sql(self, text: str) -> str:
        return text

    def close(self) -> None:
        """Release connections."""

    def _create(self, cur: Any, audit_id: str) -> None:
        """The tables, inside the caller's transaction; a journal of an earlier version is brought up to date."""
        self._run(cur, ENTRIES_DDL)
        self._run(cur, "SELECT * FROM journal_entries LIMIT 0")
        if "scope" not in [d[0].lower() for d in cur.description]:
            self._scope_entries(cur)
        for statement in (AUDIT_DDL.format(id=audit_id), META_DDL, SESSIONS_DDL, *INDEXES):
            self._run(cur, statement)

    def _scope_entries(self, cur: Any) -> None:
        """Entries written when keys were global get the scope of the caller that wrote them."""
        old = [c for c in ENTRY_COLUMNS if c != "scope"]
        self._run(cur, f"SELECT {', '.join(old)} FROM journal_entries")
        rows = [dict(zip(old, row)) for row in cur.fetchall()]
        self._run(cur, "DROP TABLE journal_entries")
        self._run(cur, ENTRIES_DDL)
        for row in rows:
            row["scope"] = legacy_scope(row["caller"])
            self._run(cur, f"INSERT INTO journal_entries ({', '.join(ENTRY_COLUMNS)}) VALUES "
                           f"({', '.join('?' * len(ENTRY_COLUMNS))})", [row[c] for c in ENTRY_COLUMNS])

    # -- facts shared by every instance --------------------------------------------------------------
    def secret(self) -> bytes:
        """The marker secret: made by the first process that asks, the same for every one after."""
        if not getattr(self, "_secret", None):
            with self._tx() as cur:
                self._run(cur, "INSERT INTO journal_meta (name, value, updated_at) VALUES (?, ?, ?) "
                               "ON CONFLICT (name) DO NOTHING", (SECRET, secrets.token_hex(32), time.time()))
                self._run(cur, "SELECT value FROM journal_meta WHERE name = ?", (SECRET,))
                (value,) = cur.fetchone()
            self._secret = bytes.fromhex(value)
        return self._secret

    def bind_session(self, suid: str, caller: str, now: float) -> None:
        """Remember that the billing session ``suid`` was issued through the gateway to ``caller``."""
        digest = self._digest(suid)  # before the transaction: the secret may need one of its own
        with self._tx() as cur:
            self._run(cur, "DELETE FROM journal_sessions WHERE issued_at < ?", (now - SESSION_SECONDS,))
            self._run(cur, "INSERT INTO journal_sessions (digest, caller, issued_at) VALUES (?, ?, ?) "
                           "ON CONFLICT (digest) DO UPDATE SET caller = excluded.caller, issued_at = excluded.issued_at",
                      (digest, caller, now))

    def session_owner(self, suid: str, now: float) -> str | None:
        """The caller ``suid`` was issued to through the gateway (None: not issued through it, or forgotten)."""
        digest = self._digest(suid)
        with self._tx(write=False) as cur:
            self._run(cur, "SELECT caller FROM journal_sessions WHERE digest = ? AND issued_at >= ?",
                      (digest, now - SESSION_SECONDS))
            row = cur.fetchone()
        return None if row is None else str(row[0])

    def _digest(self, suid: str) -> str:
        return hmac.new(self.secret(), f"suid:{suid}".encode(), hashlib.sha256).hexdigest()

    def fact(self, name: str) -> dict[str, Any] | None:
        """A recorded fact (calibration of a lookup), or None."""
        if name == SECRET:
            raise KeyError(name)
        with self._tx(write=False) as cur:
            self._run(cur, "SELECT value FROM journal_meta WHERE name = ?", (name,))
            row = cur.fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def record_fact(self, name: str, value: dict[str, Any], now: float) -> None:
        with self._tx() as cur:
            self._run(cur, "INSERT INTO journal_meta (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) "
                           "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                      (name, json.dumps(value, ensure_ascii=False, default=str), now))

    # -- the write path ------------------------------------------------------------------------------
    def begin(self, key: str, fingerprint: str, marker: str, subject: Subject, who: Who,
              lease: float, now: float) -> Decision:
        """Claim ``key`` for this request, or say why not (replay, busy, conflict)."""
        token = uuid.uuid4().hex
        new = Entry(scope=who.scope, key=key, procedure=subject.procedure, fingerprint=fingerprint, state=PENDING, marker=marker,
                    subscriber=subject.subscriber, amount=subject.amount, caller=who.caller, args=subject.args,
                    owner=token, lease_until=now + lease, created_at=now, updated_at=now)
        with self._tx() as cur:
            values = _entry_values(new)
            self._run(cur, f"INSERT INTO journal_entries ({', '.join(ENTRY_COLUMNS)}) VALUES "
                           f"({', '.join('?' * len(ENTRY_COLUMNS))}) ON CONFLICT (scope, key) DO NOTHING", values)
            if cur.rowcount == 1:
                self._audit(cur, _record(new, who, PENDING, now, self.instance))
                return Decision("post", new, token)
            entry = self._select(cur, who.scope, key, lock=True)
            assert entry is not None
            if entry.procedure != subject.procedure or entry.fingerprint != fingerprint:
                self._audit(cur, _record(entry, who, CONFLICT, now, self.instance, "another payload"))
                return Decision("conflict", entry)
            if entry.state == DONE:
                self._audit(cur, _record(entry, who, REPLAYED, now, self.instance, "answered from the journal"))
                return Decision("replay", entry)
            if entry.state == PENDING and (entry.lease_until or 0) > now:
                return Decision("busy", entry)
            action: Action = "post" if entry.state == FAILED else "reconcile"
            self._run(cur, "UPDATE journal_entries SET state = ?, owner = ?, lease_until = ?, updated_at = ? "
                           "WHERE scope = ? AND key = ?", (PENDING, token, now + lease, now, who.scope, key))
            outcome = PENDING if action == "post" else RECONCILING
            self._audit(cur, _record(entry, who, outcome, now, self.instance, f"after {entry.state}"))
            return Decision(action, entry, token)

    def sent(self, key: str, token: str, now: float) -> bool:
        """Record that an attempt goes out now; False if this request no longer holds the key."""
        with self._tx() as cur:
            self._run(cur, "UPDATE journal_entries SET sent_at = ?, attempts = attempts + 1, updated_at = ? "
                           "WHERE key = ? AND owner = ?", (now, now, key, token))
            return bool(cur.rowcount == 1)

    def set_evidence(self, key: str, token: str, evidence: dict[str, Any]) -> None:
        with self._tx() as cur:
            self._run(cur, "UPDATE journal_entries SET evidence = ? WHERE key = ? AND owner = ?",
                      (json.dumps(evidence, ensure_ascii=False, default=str), key, token))

    def finish(self, entry: Entry, token: str, state: str, record: AuditRecord,
               result: str | None = None, reason: str = "") -> bool:
        """Settle the key (done / failed / unknown) and append the audit line, in one transaction.

        A request that lost its lease may still record ``done``: a posting is a fact.
        """
        with self._tx() as cur:
            self._run(cur, "UPDATE journal_entries SET state = ?, result = COALESCE(?, result), reason = ?, "
                           "owner = NULL, lease_until = NULL, updated_at = ? "
                           "WHERE scope = ? AND key = ? AND (owner = ? OR (? = 'done' AND state <> 'done'))",
                      (state, result, reason, record.at, entry.scope, entry.key, token, state))
            updated = bool(cur.rowcount == 1)
            self._audit(cur, record if updated else replace(record, detail=f"{record.detail} (late; not applied)"))
            return updated

    def audit(self, record: AuditRecord) -> None:
        """Append one audit line (writes without a key)."""
        with self._tx() as cur:
            self._audit(cur, record)

    def take_over(self, entry: Entry, who: Who, lease: float, now: float) -> str | None:
        """Hold an unknown (or abandoned) entry to look it up; a token, or None if a request holds it now."""
        token = uuid.uuid4().hex
        with self._tx() as cur:
            self._run(cur, "UPDATE journal_entries SET state = ?, owner = ?, lease_until = ?, updated_at = ? "
                           "WHERE scope = ? AND key = ? AND (state = ? OR (state = ? AND lease_until < ?))",
                      (PENDING, token, now + lease, now, entry.scope, entry.key, UNKNOWN, PENDING, now))
            if cur.rowcount != 1:
                return None
            self._audit(cur, _record(entry, who, RECONCILING, now, self.instance, f"after {entry.state}"))
        return token

    def resolve(self, key: str, state: str, reason: str, who: Who, now: float,
                scope: str | None = None) -> Entry | None:
        """An operator's verdict on an unknown (or abandoned) entry, after checking the billing by hand."""
        with self._tx() as cur:
            entry = self._only(cur, key, scope, lock=True)
            if entry is None or entry.state == DONE or (entry.state == PENDING and (entry.lease_until or 0) > now):
                return entry
            self._run(cur, "UPDATE journal_entries SET state = ?, reason = ?, owner = NULL, lease_until = NULL, "
                           "updated_at = ? WHERE scope = ? AND key = ?", (state, reason, now, entry.scope, key))
            self._audit(cur, _record(entry, who, RESOLVED, now, self.instance, f"{state}: {reason}"))
            return replace(entry, state=state, reason=reason)

    # -- reading -------------------------------------------------------------------------------------
    def ping(self) -> str:
        """The readiness check: the journal answers; how many writes wait for reconciliation."""
        with self._tx(write=False) as cur:
            self._run(cur, "SELECT COUNT(*) FROM journal_entries WHERE state = ?", (UNKNOWN,))
            (unknown,) = cur.fetchone()
        return f"{self.where}: {unknown} write(s) of unknown outcome"

    def counts(self) -> dict[str, int]:
        """Journaled writes by state, for the metrics."""
        with self._tx(write=False) as cur:
            self._run(cur, "SELECT state, COUNT(*) FROM journal_entries GROUP BY state")
            found = dict(cur.fetchall())
        return {state: int(found.get(state, 0)) for state in STATES}

    def unresolved(self) -> tuple[int, float | None]:
        """How many writes are of unknown outcome, and since when the oldest is (its attempt's time)."""
        with self._tx(write=False) as cur:
            self._run(cur, "SELECT COUNT(*), MIN(COALESCE(sent_at, created_at)) FROM journal_entries WHERE state = ?",
                      (UNKNOWN,))
            count, oldest = cur.fetchone()
        return int(count), oldest

    def entry(self, key: str, scope: str | None = None) -> Entry | None:
        """The entry of ``key`` in ``scope`` (a caller); without a scope, the only one with that key."""
        with self._tx(write=False) as cur:
            return self._only(cur, key, scope, lock=False)

    def records(self, *, since: float | None = None, until: float | None = None, key: str | None = None,
                outcomes: Sequence[str] = (), procedure: str | None = None, subscriber: int | None = None,
                limit: int | None = None) -> list[AuditRecord]:
        """Audit lines, oldest first, filtered."""
        where, params = _filters(since=since, until=until, key=key, outcomes=outcomes, procedure=procedure,
                                 subscriber=subscriber)
        sql = f"SELECT id, {', '.join(AUDIT_COLUMNS)} FROM journal_audit{where} ORDER BY id"
        if limit:  # the last ``limit`` lines: newest first from the database, then put back in order
            sql, params = sql + " DESC LIMIT ?", [*params, int(limit)]
        with self._tx(write=False) as cur:
            self._run(cur, sql, params)
            rows = cur.fetchall()
        records = [AuditRecord(id=row[0], **dict(zip(AUDIT_COLUMNS, row[1:]))) for row in rows]
        return records[::-1] if limit else records

    def entries(self, states: Iterable[str] = (), key: str | None = None) -> list[Entry]:
        states = list(states)
        conds = [f"state IN ({', '.join('?' * len(states))})"] if states else []
        params: list[Any] = list(states)
        if key is not None:
            conds.append("key = ?")
            params.append(key)
        where = f" WHERE {' AND '.join(conds)}" if conds else ""
        with self._tx(write=False) as cur:
            self._run(cur, f"SELECT {', '.join(ENTRY_COLUMNS)} FROM journal_entries{where} ORDER BY created_at",
                      params)
            return [_entry(row) for row in cur.fetchall()]

    def entries_of(self, procedure: str, since: float) -> list[Entry]:
        """A procedure's entries created since ``since`` (a reconciliation of a period reads these)."""
        with self._tx(write=False) as cur:
            self._run(cur, f"SELECT {', '.join(ENTRY_COLUMNS)} FROM journal_entries WHERE procedure = ? "
                           "AND created_at >= ? ORDER BY created_at", (procedure, since))
            return [_entry(row) for row in cur.fetchall()]

    # -- helpers -------------------------------------------------------------------------------------
    def _run(self, cur: Any, sql: str, params: Sequence[Any] = ()) -> None:
        cur.execute(self._sql(sql), tuple(params))

    def _select(self, cur: Any, scope: str, key: str, lock: bool) -> Entry | None:
        self._run(cur, f"SELECT {', '.join(ENTRY_COLUMNS)} FROM journal_entries WHERE scope = ? AND key = ?"
                       + (self.lock_clause if lock else ""), (scope, key))
        row = cur.fetchone()
        return None if row is None else _entry(row)

    def _only(self, cur: Any, key: str, scope: str | None, lock: bool) -> Entry | None:
        if scope is not None:
            return self._select(cur, scope, key, lock)
        self._run(cur, "SELECT scope FROM journal_entries WHERE key = ?", (key,))
        scopes = sorted(row[0] for row in cur.fetchall())
        if len(scopes) > 1:
            raise ConfigurationError(f"key {key} was used by several callers ({', '.join(scopes)}): "
                                     "name the one meant (--caller)")
        return self._select(cur, scopes[0], key, lock) if scopes else None

    def _audit(self, cur: Any, record: AuditRecord) -> None:
        values = asdict(record)
        self._run(cur, f"INSERT INTO journal_audit ({', '.join(AUDIT_COLUMNS)}) VALUES "
                       f"({', '.join('?' * len(AUDIT_COLUMNS))})", [values[c] for c in AUDIT_COLUMNS])


def legacy_scope(caller: str) -> str:
    """The caller's name in an audit's "who called" (``model.who_called``): "buh (own billing session)", "web as kassa1"."""
    return caller.removesuffix(" (own billing session)").split(" as ", 1)[0]


def _record(entry: Entry, who: Who, outcome: str, now: float, instance: str, detail: str = "") -> AuditRecord:
    return AuditRecord(at=now, procedure=entry.procedure, outcome=outcome, key=entry.key, caller=who.caller,
                       subscriber=entry.subscriber, amount=entry.amount, detail=detail,
                       correlation_id=who.correlation_id, instance=instance)


def _entry_values(entry: Entry) -> list[Any]:
    values = asdict(entry)
    for name in _JSON:
        values[name] = json.dumps(values[name], ensure_ascii=False, default=str)
    values["reason"] = values["reason"] or ""
    return [values[c] for c in ENTRY_COLUMNS]


def _entry(row: Sequence[Any]) -> Entry:
    values = dict(zip(ENTRY_COLUMNS, row))
    for name in _JSON:
        values[name] = json.loads(values[name] or "{}")
    return Entry(**values)


def _filters(**given: Any) -> tuple[str, list[Any]]:
    conds: list[str] = []
    params: list[Any] = []
    for sql, value in (("at >= ?", given["since"]), ("at < ?", given["until"]), ("key = ?", given["key"]),
                       ("procedure = ?", given["procedure"]), ("subscriber = ?", given["subscriber"])):
        if value is not None:
            conds.append(sql)
            params.append(value)
    if given["outcomes"]:
        conds.append(f"outcome IN ({', '.join('?' * len(given['outcomes']))})")
        params.extend(given["outcomes"])
    return (" WHERE " + " AND ".join(conds)) if conds else "", params


__all__ = ["SqlJournal", "DONE", "FAILED", "UNKNOWN", "PENDING"]
