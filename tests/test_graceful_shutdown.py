"""SIGTERM to a gunicorn-run gateway while a payment is in flight: it completes, the journal is settled."""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep

from money import marked, new_key, write_config
from serving import free_port, serve_process
from soap_gateway.journal.sqlite import SqliteJournal


@pytest.mark.slow
def test_sigterm_lets_an_in_flight_payment_finish(gateway_settings: Any, emulator: Any, tmp_path: Path) -> None:
    port, journal_file = free_port(), tmp_path / "journal.sqlite3"
    config = write_config(tmp_path / "gateway.toml", gateway_settings, listen=f"127.0.0.1:{port}",
                          journal={"path": str(journal_file)}, server={"workers": 1, "threads": 2})
    key, before, started = new_key(), emulator.balance(103), time.time()
    with serve_process(config, port, tmp_path / "gunicorn.log") as process:
        service = zeep.Client(f"http://127.0.0.1:{port}/soap?wsdl").service
        emulator.add_fault("latency", proc="CLN_FIN_OPER_ADD", count=1, ms=2500)
        answer: list[Any] = []
        payment = threading.Thread(target=lambda: answer.append(service.CLN_FIN_OPER_ADD(
            USER_ID=103, OP_DATE=dt.datetime.now().replace(microsecond=0), SUMMA=Decimal("777.00"),
            DESCR="оплата во время остановки", IDEMPOTENCY_KEY=key)))
        payment.start()
        while not any(r.proc == "CLN_FIN_OPER_ADD" and r.ts >= started for r in emulator.requests()):
            assert time.time() - started < 30, "the payment never reached the billing"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)  # the billing is still working on it
        payment.join(30)
        assert process.wait(60) == 0
    log = (tmp_path / "gunicorn.log").read_text(errors="replace")
    journal = SqliteJournal(str(journal_file))
    assert answer and answer[0].ID == marked(journal, emulator, 103, key)[0]["ID"], log
    assert emulator.balance(103) == before + Decimal("777.00")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    entry = journal.entry(key)
    assert entry is not None and (entry.state, entry.attempts, entry.owner) == ("done", 1, None)
    assert [r.outcome for r in journal.records(key=key)] == ["pending", "done"]
    assert journal.entries(["pending", "unknown"]) == []
    journal.close()
