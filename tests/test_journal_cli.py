"""``soap-gateway journal``: an accountant's answer to "did this payment go through?", and a manual verdict."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from money import ROOT, detail_code, fault_of, journal_path, new_key, running_gateway

ZONE = "Europe/Moscow"


def journal_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "soap_gateway", "journal", "--config", str(config), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


@pytest.fixture
def history(gateway_settings: Any, emulator: Any, tmp_path: Path) -> dict[str, Any]:
    """Three payments: one done, one replayed, one left unknown by a hung billing."""
    journal = journal_path(tmp_path)
    config = tmp_path / "gateway.toml"
    config.write_text(f'[billing]\ntimezone = "{ZONE}"\n[journal]\npath = "{journal.path}"\n', encoding="utf-8")
    keys = {"paid": new_key(), "unknown": new_key()}
    when = dt.datetime.now().replace(microsecond=0)
    with running_gateway(gateway_settings, journal, read_timeout=1.0) as gw:
        pay = gw.service.CLN_FIN_OPER_ADD
        posted = pay(USER_ID=101, OP_DATE=when, SUMMA=Decimal("1500.00"), DESCR="п/п 17", IDEMPOTENCY_KEY=keys["paid"])
        pay(USER_ID=101, OP_DATE=when, SUMMA=Decimal("1500.00"), DESCR="п/п 17", IDEMPOTENCY_KEY=keys["paid"])
        emulator.add_fault("hang_no_commit", proc="CLN_FIN_OPER_ADD", count=1, ms=1500)
        fault = fault_of(lambda: pay(USER_ID=102, OP_DATE=when, SUMMA=Decimal("20.00"),
                                     IDEMPOTENCY_KEY=keys["unknown"]))
        assert detail_code(fault) == "OUTCOME_UNKNOWN"
    return {"config": config, "keys": keys, "id": posted.ID, "today": when.date().isoformat()}


def test_the_history_of_one_key_ends_with_its_state(history: dict[str, Any]) -> None:
    key = history["keys"]["paid"]
    done = journal_cli(history["config"], "--key", key)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["time", "outcome", "operation", "subscriber", "amount", "key", "caller", "detail"]
    assert [line.split()[2] for line in lines[1:4]] == ["pending", "done", "replayed"]
    assert all("CLN_FIN_OPER_ADD  101" in line and "1500.00" in line for line in lines[1:4])
    assert f"billing id {history['id']}" in lines[2]
    assert lines[-1] == f"key {key} of anonymous: done: billing id {history['id']}"  # keys are per caller


def test_filters_by_outcome_date_and_formats(history: dict[str, Any]) -> None:
    unknown = journal_cli(history["config"], "--outcome", "unknown", "--format", "json")
    (record,) = json.loads(unknown.stdout)
    assert (record["key"], record["subscriber"], record["amount"]) == (history["keys"]["unknown"], 102, "20.00")
    assert "read timeout" in record["detail"] or "answer" in record["detail"]
    today = journal_cli(history["config"], "--since", history["today"], "--until", history["today"], "--format", "csv")
    assert len(today.stdout.splitlines()) == 1 + 5  # header; pending, done, replayed; pending, unknown
    tomorrow = (dt.date.fromisoformat(history["today"]) + dt.timedelta(days=1)).isoformat()
    assert journal_cli(history["config"], "--since", tomorrow).stdout.strip() == (
        "time  outcome  operation  subscriber  amount  key  caller  detail\n(0 records)")
    bad = journal_cli(history["config"], "--since", "yesterday")
    assert bad.returncode == 2 and "is not a date" in bad.stderr


def test_an_operator_settles_an_unknown_payment(history: dict[str, Any]) -> None:
    key = history["keys"]["unknown"]
    refused = journal_cli(history["config"], "--resolve", key, "--as", "failed")
    assert refused.returncode == 2 and "--reason" in refused.stderr
    resolved = journal_cli(history["config"], "--resolve", key, "--as", "failed", "--reason", "not in CLN_FIN_OPER")
    assert resolved.returncode == 0 and resolved.stdout.strip() == f"key {key}: failed (not in CLN_FIN_OPER)"
    shown = journal_cli(history["config"], "--key", key).stdout
    assert "resolved" in shown and shown.splitlines()[-1] == f"key {key} of anonymous: failed: not in CLN_FIN_OPER"
    again = journal_cli(history["config"], "--resolve", history["keys"]["paid"], "--as", "failed", "--reason", "x")
    assert again.returncode == 1 and "is done and was left as it is" in again.stdout


def test_check_reports_unknown_writes(history: dict[str, Any], gateway_settings: Any, tmp_path: Path) -> None:
    from money import write_config

    journal = journal_path(tmp_path)
    config = write_config(tmp_path / "check.toml", gateway_settings, listen="127.0.0.1:0",
                          journal={"path": journal.path})
    done = subprocess.run([sys.executable, "-m", "soap_gateway", "check", "--config", str(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"ok    journal: SQLite {journal.path}  WARNING: 1 write(s) of unknown outcome" in done.stdout
