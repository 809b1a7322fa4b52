"""`soap-gateway post-payments FILE.csv` against the emulator: the documented sample, a result CSV, no repeats."""

from __future__ import annotations

import csv
import dataclasses
import io
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from batch import accounting_emulator, operations_by_marker, posted_for
from batch import logging_restored  # noqa: F401  (a fixture, used by pytestmark)
from money import commits, journal_path, write_config
from soap_gateway.accounting.progress import Progress
from soap_gateway.cli import main
from soap_gateway.journal import open_journal

SAMPLE = Path(__file__).parent.parent / "docs" / "payments-sample.csv"


pytestmark = pytest.mark.usefixtures("logging_restored")


@pytest.fixture(scope="module")
def billing(pki: Any) -> Iterator[Any]:
    with accounting_emulator(pki) as emu:
        yield emu


def results(path: Path) -> list[dict[str, str]]:
    text = path.with_name(path.stem + ".result.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_the_sample_file_posts_once_and_a_rerun_posts_nothing(gateway_settings: Any, billing: Any,
                                                               tmp_path: Path, capsys: Any) -> None:
    settings = dataclasses.replace(gateway_settings, billing=dataclasses.replace(gateway_settings.billing,
                                                                                 url=billing.url))
    config = write_config(tmp_path / "gateway.toml", settings, listen="127.0.0.1:0",
                          journal={"path": journal_path(tmp_path).path})
    statement = tmp_path / "statement.csv"
    shutil.copy(SAMPLE, statement)
    with statement.open("a", encoding="utf-8") as extra:  # a line the billing must never see
        extra.write("vyp-bad;105;;2026-03-02 09:15:00;10.001;three decimals;314\n")
    before = commits(billing)

    assert main(["post-payments", "--config", str(config), str(statement)]) == 1  # one line refused
    first = results(statement)
    assert [r["STATUS"] for r in first] == ["posted", "posted", "posted", "refused"]
    assert [r["USER_ID"] for r in first] == ["101", "102", "104", "105"]  # Д-2024/002 is subscriber 102
    assert first[3]["CODE"] == "VALIDATION_ERROR" and "SUMMA" in first[3]["MESSAGE"]
    assert commits(billing) == before + 3
    found = operations_by_marker(billing)
    journal = open_journal(journal_path(tmp_path))
    try:
        for row in first[:3]:
            (op,) = posted_for(found, journal, row["IDEMPOTENCY_KEY"])
            assert str(op["ID"]) == row["ID"]
    finally:
        journal.close()
    assert "4 lines: 3 posted, 1 refused" in capsys.readouterr().out

    assert main(["post-payments", "--config", str(config), str(statement)]) == 1
    again = results(statement)
    assert [(r["STATUS"], r["ID"]) for r in again[:3]] == [("already_posted", r["ID"]) for r in first[:3]]
    assert commits(billing) == before + 3


def test_a_file_without_the_required_columns_is_refused(gateway_settings: Any, tmp_path: Path, capsys: Any) -> None:
    statement = tmp_path / "bad.csv"
    statement.write_text("KEY,SUMMA\nx,1.00\n", encoding="utf-8")
    config = write_config(tmp_path / "gateway.toml", gateway_settings, listen="127.0.0.1:0",
                          journal={"path": str(tmp_path / "journal.sqlite3")})
    assert main(["post-payments", "--config", str(config), str(statement)]) == 2
    assert "IDEMPOTENCY_KEY" in capsys.readouterr().err


class _Terminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_the_progress_bar_is_drawn_on_a_terminal_only() -> None:
    terminal, pipe = _Terminal(True), _Terminal(False)
    for stream in (terminal, pipe):
        bar = Progress("payments", "lines", stream)
        for done in range(1, 11):
            bar.update(done, 10)
        bar.done()
    assert pipe.getvalue() == ""
    assert terminal.getvalue().endswith("] 10/10 lines\n") and "\r" in terminal.getvalue()
