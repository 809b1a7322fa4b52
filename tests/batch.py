"""Helpers of the accounting tests: an emulator of their own (bulk subscribers, one shared contract), lines."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Iterator

import pytest

from money import running_gateway
from soap_gateway.config import AccountingSettings, JournalSettings, Settings
from soap_gateway.emulator import Emulator

BULK = range(1001, 1031)  # the emulator's bulk subscribers, contracts Н-2025/000001 ..
SHARED_CONTRACT = "Д-ОБЩИЙ/1"  # given to two subscribers: a contract number that is ambiguous
SHARED_BY = (1029, 1030)


def contract_of(user: int) -> str:
    return f"Н-2025/{user - 1000:06d}"


@contextmanager
def accounting_emulator(pki: Any) -> Iterator[Emulator]:
    emulator = Emulator(str(pki.server_cert), str(pki.server_key), str(pki.client_ca), seed_users=len(BULK),
                        seed_ops=1)
    with emulator.store.transaction() as db:
        db.execute("UPDATE users SET CONTRACT_NUMBER = ? WHERE USER_ID IN (?, ?)", (SHARED_CONTRACT, *SHARED_BY))
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@contextmanager
def accounting_gateway(base: Settings, emulator: Emulator, journal: JournalSettings,
                       accounting: AccountingSettings | None = None, **billing: Any) -> Iterator[Any]:
    """A gateway in front of ``emulator`` with its own journal and accounting limits."""
    settings = dataclasses.replace(base, accounting=accounting or AccountingSettings(),
                                   billing=dataclasses.replace(base.billing, url=emulator.url))
    with running_gateway(settings, journal, **billing) as running:
        yield running


def line(key: str, *, user: int | None = None, contract: str | None = None, summa: str = "100.00",
         when: dt.datetime | None = None, descr: str | None = "Оплата по выписке", number: str | None = None
         ) -> dict[str, Any]:
    return {"IDEMPOTENCY_KEY": key, "USER_ID": user, "CONTRACT_NUMBER": contract,
            "OP_DATE": when or dt.datetime(2026, 3, 2, 10, 0, 0), "SUMMA": summa, "DESCR": descr, "NUMBER": number}


def post(gw: Any, lines: list[dict[str, Any]]) -> list[Any]:
    return list(gw.service.GatewayPostPayments(LINES={"Line": lines}))


def operations_by_marker(emulator: Emulator) -> dict[str, list[dict[str, Any]]]:
    """Every operation in the billing that carries a gateway marker, by that marker."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for op in emulator.query("SELECT ID, USER_ID, DESCR, SUMMA FROM fin_opers WHERE DESCR LIKE '%[gw:%'"):
        marker = op["DESCR"][op["DESCR"].index("[gw:"):][:21]
        found[marker].append(op)
    return found


def posted_for(found: dict[str, list[dict[str, Any]]], journal: Any, key: str) -> list[dict[str, Any]]:
    """The operations carrying the marker ``journal`` holds for ``key`` (none for a key it never took)."""
    entry = journal.entry(key)
    return found.get(entry.marker, []) if entry is not None else []


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """The root logger as it was: the command line's handler writes to this test's captured stderr,
    which is closed after the test; a later test's log line must not reach it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
