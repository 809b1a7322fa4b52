"""The journal stores (SQLite file, PostgreSQL server): one key, one poster, across processes.

The same tests run against both stores; the concurrency test races real
processes, each with its own connection, over a shared set of keys.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import pytest

from soap_gateway.errors import JournalUnavailable
from soap_gateway.journal import open_journal
from soap_gateway.journal.model import AuditRecord, Subject, Who
from soap_gateway.journal.store import SqlJournal
from soap_gateway.config import JournalSettings

SUBJECT = Subject("CLN_FIN_OPER_ADD", 101, "100.00", {"USER_ID": "101", "SUMMA": "100.00"})
WHO = Who("kassa-1", "corr-1")


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> JournalSettings:
    if request.param == "sqlite":
        return JournalSettings(path=str(tmp_path / "journal.sqlite3"))
    return JournalSettings(url=request.getfixturevalue("postgres").database())


@pytest.fixture
def journal(location: JournalSettings) -> Iterator[SqlJournal]:
    store = open_journal(location)
    yield store
    store.close()


def begin(journal: SqlJournal, key: str, fingerprint: str = "fp-1", lease: float = 60.0, now: float | None = None) -> Any:
    return journal.begin(key, fingerprint, "[gw:0123456789abcdef]", SUBJECT, WHO, lease, now or time.time())


def record(outcome: str, key: str = "k") -> AuditRecord:
    return AuditRecord(at=time.time(), procedure="CLN_FIN_OPER_ADD", outcome=outcome, key=key, caller="kassa-1")


def test_one_key_goes_through_its_states(journal: SqlJournal) -> None:
    first = begin(journal, "k")
    assert first.action == "post" and first.entry.state == "pending"
    assert begin(journal, "k").action == "busy"  # the holder's lease is running
    assert journal.sent("k", first.token, time.time())
    assert journal.finish(first.entry, first.token, "done", record("done"), result='[{"values": {"ID": 7}, "extra": {}}]')
    replay = begin(journal, "k")
    assert replay.action == "replay" and replay.entry.result and '"ID": 7' in replay.entry.result
    assert begin(journal, "k", fingerprint="fp-2").action == "conflict"
    entry = journal.entry("k")
    assert entry is not None and (entry.state, entry.attempts, entry.owner) == ("done", 1, None)
    assert [r.outcome for r in journal.records(key="k")] == ["pending", "done", "replayed", "conflict"]


def test_failed_is_retried_unknown_and_abandoned_are_reconciled(journal: SqlJournal) -> None:
    failed = begin(journal, "f")
    journal.finish(failed.entry, failed.token, "failed", record("failed", "f"), reason="billing refused")
    assert begin(journal, "f").action == "post"
    unknown = begin(journal, "u")
    journal.finish(unknown.entry, unknown.token, "unknown", record("unknown", "u"), reason="read timeout")
    again = begin(journal, "u")
    assert again.action == "reconcile" and again.entry.state == "unknown"
    abandoned = begin(journal, "a", lease=0.5)
    assert begin(journal, "a").action == "busy"
    later = begin(journal, "a", now=time.time() + 1)
    assert later.action == "reconcile" and later.token != abandoned.token


def test_a_holder_that_lost_its_key_may_only_record_a_posting(journal: SqlJournal) -> None:
    old = begin(journal, "l", lease=0.5)
    new = begin(journal, "l", now=time.time() + 1)
    assert not journal.sent("l", old.token, time.time())  # it must not send any more
    assert not journal.finish(old.entry, old.token, "failed", record("failed", "l"))
    assert journal.finish(old.entry, old.token, "done", record("done", "l"), result="[]")
    assert journal.entry("l").state == "done"  # type: ignore[union-attr]
    assert journal.records(key="l", outcomes=["failed"])[0].detail.endswith("(late; not applied)")
    assert new.action == "reconcile"


def test_the_audit_trail_is_append_only(journal: SqlJournal) -> None:
    journal.audit(record("done", "x"))
    for statement in ("UPDATE journal_audit SET outcome = 'failed'", "DELETE FROM journal_audit"):
        with pytest.raises(JournalUnavailable, match="append-only"):
            with journal._tx() as cur:
                cur.execute(statement)
    assert [r.outcome for r in journal.records(key="x")] == ["done"]


def test_records_filter_by_date_key_outcome_and_limit(journal: SqlJournal) -> None:
    base = time.time()
    for i, outcome in enumerate(("pending", "done", "pending", "unknown")):
        journal.audit(AuditRecord(at=base + i, procedure="CLN_FIN_OPER_ADD", outcome=outcome, key=f"k{i // 2}",
                                  subscriber=101 + i))
    assert len(journal.records(since=base + 1, until=base + 3)) == 2
    assert [r.outcome for r in journal.records(outcomes=["done", "unknown"])] == ["done", "unknown"]
    assert [r.key for r in journal.records(key="k1")] == ["k1", "k1"]
    assert [r.subscriber for r in journal.records(limit=2)] == [103, 104]
    assert [r.outcome for r in journal.records(subscriber=102)] == ["done"]


def test_an_operator_resolves_an_unknown_write(journal: SqlJournal) -> None:
    held = begin(journal, "r")
    journal.finish(held.entry, held.token, "unknown", record("unknown", "r"))
    resolved = journal.resolve("r", "done", "seen in the billing as operation 17", Who("operator"), time.time())
    assert resolved is not None and resolved.state == "done"
    assert begin(journal, "r").action == "replay"
    assert journal.records(key="r")[-2].outcome == "resolved"


def _contend(location: JournalSettings, keys: list[str], start_at: float) -> list[tuple[str, str]]:
    store = open_journal(location)
    time.sleep(max(0.0, start_at - time.time()))
    try:
        return [(key, begin(store, key).action) for key in keys]
    finally:
        store.close()


def test_concurrent_processes_get_exactly_one_poster_per_key(location: JournalSettings) -> None:
    open_journal(location).close()  # the schema exists before the race
    keys = [f"race-{i}" for i in range(150)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(4, mp_context=context) as pool:
        start_at = time.time() + 3.0  # every process connected and waiting
        futures = [pool.submit(_contend, location, keys[::step], start_at) for step in (1, 1, -1, -1)]
        results = [pair for future in futures for pair in future.result(timeout=120)]
    posters = Counter(key for key, action in results if action == "post")
    assert set(posters) == set(keys) and set(posters.values()) == {1}
    assert Counter(action for _, action in results) == {"post": 150, "busy": 450}


def test_an_instance_starting_while_others_post_disturbs_none_of_them(location: JournalSettings) -> None:
    # A gateway restarted (or scaled out) while others post: its start-up must
    # not lock the tables in use; in PostgreSQL its schema DDL deadlocked claims.
    open_journal(location).close()
    keys = [f"busy-{i}" for i in range(300)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        start_at = time.time() + 3.0
        futures = [pool.submit(_contend, location, keys[::step], start_at) for step in (1, -1)]
        time.sleep(max(0.0, start_at - time.time()))
        starts = 0
        while not all(future.done() for future in futures):
            open_journal(location).close()
            starts += 1
        results = [pair for future in futures for pair in future.result(timeout=120)]
    assert starts > 0
    assert Counter(action for _, action in results) == {"post": 300, "busy": 300}
