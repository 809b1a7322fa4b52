"""At most once at any billing latency: a commit later than the read timeout is never posted twice.

The billing here commits CLN_FIN_OPER_ADD 4 s after it receives it (the
emulator's ``latency`` switch sleeps before the procedure runs) while the
gateway's read timeout is 1 s: the answer is lost, the posting appears later.
Elapsed time alone never lets the gateway post again.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest

from money import RunningGateway, calls, fault_of, journal_path, marked, new_key, running_gateway
from soap_gateway.config import Settings
from soap_gateway.errors import ConfigurationError

COMMIT_DELAY_MS = 4000


@pytest.fixture(scope="module")
def gw(gateway_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    journal = journal_path(tmp_path_factory.mktemp("latency"))
    with running_gateway(gateway_settings, journal, read_timeout=1.0, connect_timeout=1.0,
                         breaker_failures=1000) as running:
        yield running


def pay(gw: RunningGateway, key: str, user: int) -> Any:
    return gw.service.CLN_FIN_OPER_ADD(USER_ID=user, OP_DATE=dt.datetime(2026, 3, 2, 10, 0), SUMMA=Decimal("250.00"),
                                       DESCR="Оплата", NUMBER="PP-75", IDEMPOTENCY_KEY=key)


def test_a_commit_later_than_the_read_timeout_is_posted_once(gw: RunningGateway, emulator: Any) -> None:
    key, user = new_key(), 105
    before = emulator.balance(user)
    emulator.add_fault("latency", proc="CLN_FIN_OPER_ADD", count=1, ms=COMMIT_DELAY_MS)
    started = time.monotonic()
    assert fault_of(lambda: pay(gw, key, user)).code.endswith("Server.OutcomeUnknown")
    sent = calls(emulator, "CLN_FIN_OPER_ADD")
    # The billing is still working on it: every retry before the commit looks and posts nothing.
    while time.monotonic() - started < COMMIT_DELAY_MS / 1000 - 1.0:
        assert fault_of(lambda: pay(gw, key, user)).code.endswith("Server.OutcomeUnknown")
        time.sleep(0.5)
    assert calls(emulator, "CLN_FIN_OPER_ADD") == sent
    time.sleep(max(0.0, COMMIT_DELAY_MS / 1000 + 0.5 - (time.monotonic() - started)))
    posted = pay(gw, key, user)  # committed meanwhile: found, not posted again
    (operation,) = marked(gw.journal, emulator, user, key)
    assert posted.ID == operation["ID"] and emulator.balance(user) == before + Decimal("250.00")
    assert calls(emulator, "CLN_FIN_OPER_ADD") == sent


def test_the_settle_time_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text("[journal]\nsettle_seconds = 8\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="no proof that it was not posted"):
        Settings.load(path, {})
