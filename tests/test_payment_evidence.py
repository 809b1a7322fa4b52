"""No forged or cross-caller match, no guess taken for "posted" (zeep, two cashiers, the emulator's faults).

- a posting counts as a payment's only if it carries the payment's marker,
  an HMAC under the gateway's own secret that no caller can compute, *and*
  its subscriber, amount and time agree; a marker on the wrong posting is an
  alarm and the payment stays unknown;
- idempotency keys belong to the caller that sent them;
- a reply to a write that is neither a known success nor a known error is an
  unknown outcome that goes to reconciliation.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest

from money import RunningGateway, calls, commits, fault_of, journal_path, new_key, running_gateway
from securing import auth_from_toml, soap_client
from soap_gateway.security.passwords import hash_password

WHEN = dt.datetime(2026, 3, 2, 10, 0)
PASSWORDS = {"kassa-a": "Kassa-A-pass-1", "kassa-b": "Kassa-B-pass-2"}


@pytest.fixture(scope="module")
def gw(gateway_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    tmp = tmp_path_factory.mktemp("evidence")
    users = "".join(f'[auth.users.{name}]\npassword_hash = "{hash_password(password)}"\nroles = ["cashier"]\n'
                    for name, password in PASSWORDS.items())
    auth = auth_from_toml(tmp, f'[auth]\nmode = "basic"\n{users}')
    with running_gateway(dataclasses.replace(gateway_settings, auth=auth), journal_path(tmp), read_timeout=1.0,
                         connect_timeout=1.0, breaker_failures=1000) as running:
        yield running


@pytest.fixture(scope="module")
def cashiers(gw: RunningGateway) -> dict[str, Any]:
    return {name: soap_client(gw.server, name, password) for name, password in PASSWORDS.items()}


def pay(service: Any, key: str, user: int, amount: str, descr: str = "Оплата") -> Any:
    return service.CLN_FIN_OPER_ADD(USER_ID=user, OP_DATE=WHEN, SUMMA=Decimal(amount), DESCR=descr, NUMBER="PP-1",
                                    IDEMPOTENCY_KEY=key)


def outcomes(gw: RunningGateway, key: str) -> list[str]:
    return [r.outcome for r in gw.journal.records(key=key)]


# -- item 2: forged markers ----------------------------------------------------------------------

def test_a_marker_computed_from_a_guessed_key_matches_nothing(gw: RunningGateway, emulator: Any,
                                                              cashiers: dict[str, Any]) -> None:
    key, user = new_key(), 106
    guessed = f"[gw:{hashlib.sha256(key.encode()).hexdigest()[:16]}]"  # what any caller could compute
    forged = pay(cashiers["kassa-b"], new_key(), user, "0.01", descr=f"ref {guessed}")
    before = emulator.balance(user)
    emulator.add_fault("hang_no_commit", proc="CLN_FIN_OPER_ADD", count=1, ms=1500)
    fault = fault_of(lambda: pay(cashiers["kassa-a"], key, user, "1500.00"))
    assert fault.code.endswith("Server.OutcomeUnknown") and str(forged.ID) not in fault.message
    assert gw.journal.entry(key, "kassa-a").state == "unknown" and emulator.balance(user) == before


def test_the_real_marker_on_another_amount_is_an_alarm_not_a_match(gw: RunningGateway, emulator: Any,
                                                                   cashiers: dict[str, Any]) -> None:
    key, user = new_key(), 105
    emulator.add_fault("hang_no_commit", proc="CLN_FIN_OPER_ADD", count=1, ms=1500)
    assert fault_of(lambda: pay(cashiers["kassa-a"], key, user, "1500.00")).code.endswith("Server.OutcomeUnknown")
    # Someone who saw the marker puts it on a posting of theirs, straight into the billing.
    marker = gw.journal.entry(key, "kassa-a").marker
    pay(cashiers["kassa-b"], new_key(), user, "0.01", descr=f"{marker} ref")
    sent = calls(emulator, "CLN_FIN_OPER_ADD")
    fault = fault_of(lambda: pay(cashiers["kassa-a"], key, user, "1500.00"))
    assert fault.code.endswith("Server.OutcomeUnknown") and "not this write" in fault.message
    assert calls(emulator, "CLN_FIN_OPER_ADD") == sent  # and nothing is posted again
    (alarm,) = [r for r in gw.journal.records(key=key) if r.outcome == "alarm"]
    assert "0.01" in alarm.detail and alarm.subscriber == user


# -- item 3: keys belong to callers --------------------------------------------------------------

def test_another_callers_key_is_neither_replayed_nor_a_conflict(gw: RunningGateway, emulator: Any,
                                                                cashiers: dict[str, Any]) -> None:
    key, user = new_key(), 104
    before = emulator.balance(user)
    first = pay(cashiers["kassa-a"], key, user, "10.00")
    other = pay(cashiers["kassa-b"], key, user, "10.00")  # the same key and payload: B's own payment
    assert other.ID != first.ID
    third = pay(cashiers["kassa-b"], key, user, "10.00")
    assert third.ID == other.ID  # B's retry is B's replay
    assert emulator.balance(user) == before + Decimal("20.00")
    fault = fault_of(lambda: pay(cashiers["kassa-b"], key, user, "11.00"))
    assert fault.code.endswith("Client.IdempotencyConflict")  # a conflict only with B's own use of it
    assert [(r.caller, r.outcome) for r in gw.journal.records(key=key)] == [
        ("kassa-a", "pending"), ("kassa-a", "done"), ("kassa-b", "pending"), ("kassa-b", "done"),
        ("kassa-b", "replayed"), ("kassa-b", "conflict")]


def test_a_key_claimed_in_advance_by_another_caller_blocks_nobody(gw: RunningGateway, emulator: Any,
                                                                 cashiers: dict[str, Any]) -> None:
    key, user = new_key(), 103
    pay(cashiers["kassa-b"], key, user, "0.01")
    mine = pay(cashiers["kassa-a"], key, user, "700.00")
    (operation,) = [op for op in emulator.fin_opers(user) if op["ID"] == mine.ID]
    assert operation["SUMMA"] == Decimal("700.00")  # A's payment, posted despite B's use of the key


# -- item 7: write replies of unknown shape ------------------------------------------------------

@pytest.mark.parametrize("variant", ["errors", "text"])
def test_an_error_shape_the_gateway_does_not_know_is_unknown_not_done(gw: RunningGateway, emulator: Any,
                                                                      cashiers: dict[str, Any], variant: str) -> None:
    key, user = new_key(), 102
    before, committed = emulator.balance(user), commits(emulator)
    emulator.add_fault("odd_reply", proc="CLN_FIN_OPER_ADD", variant=variant, count=1)
    fault = fault_of(lambda: pay(cashiers["kassa-a"], key, user, "33.00"))
    assert fault.code.endswith("Server.OutcomeUnknown") and "neither a known success" in \
        gw.journal.entry(key, "kassa-a").reason
    assert emulator.balance(user) == before and commits(emulator) == committed
    assert outcomes(gw, key) == ["pending", "unknown"]


def test_an_unknown_shape_after_a_commit_is_found_by_reconciliation(gw: RunningGateway, emulator: Any,
                                                                    cashiers: dict[str, Any]) -> None:
    key, user = new_key(), 101
    before = emulator.balance(user)
    emulator.add_fault("odd_reply", proc="CLN_FIN_OPER_ADD", variant="errors", commit=True, count=1)
    posted = pay(cashiers["kassa-a"], key, user, "44.00")
    (operation,) = [op for op in emulator.fin_opers(user) if op["ID"] == posted.ID]
    assert operation["SUMMA"] == Decimal("44.00") and emulator.balance(user) == before + Decimal("44.00")
    assert gw.journal.records(key=key)[-1].detail.startswith("reconciled: found in CLN_FIN_OPER")


def test_the_success_shapes_are_settings(tmp_path: Path) -> None:
    from soap_gateway.config import Settings
    from soap_gateway.errors import ConfigurationError

    path = tmp_path / "gateway.toml"
    path.write_text('[billing]\nwrite_success = ["columns"]\n', encoding="utf-8")
    assert Settings.load(path, {}).billing.write_success == ("columns",)
    path.write_text('[billing]\nwrite_success = ["anything"]\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="write_success"):
        Settings.load(path, {})

