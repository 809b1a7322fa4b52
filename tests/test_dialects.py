"""Billings that differ from the default reading of the vendor page: `check` finds the settings each needs,
and with them the core of the end-to-end scenario (find, read, pay, list, a fault) works through zeep.

Each dialect is one switch of the emulator (soap_gateway/emulator/dialect.py); "all" combines them.
"""

from __future__ import annotations

import datetime as dt
import io
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from money import detail_code, fault_of, journal_path, running_gateway, write_config
from soap_gateway.check import run_checks
from soap_gateway.emulator import Emulator

LISTS = ["CLN_HOME_LIST", "CLN_SWITCH_LIST", "CLN_USR_FIND_2", "CLN_FIN_OPER"]
DEFAULT = {"select_procedures": [], "arg_counts": {}, "arg_charset": "utf-8"}
EXPECTED = {
    "select-lists": {**DEFAULT, "select_procedures": LISTS},
    "find-23": {**DEFAULT, "arg_counts": {"CLN_USR_FIND_2": 23}},
    "cp1251-args": {**DEFAULT, "arg_charset": "windows-1251"},
    "counters": DEFAULT,
    "upper-root": DEFAULT,
    "dirty-values": DEFAULT,
    "nil-unknown-user": DEFAULT,
    "all": {"select_procedures": LISTS, "arg_counts": {"CLN_USR_FIND_2": 23}, "arg_charset": "windows-1251"},
}


def check(settings: Any, tmp: Path, url: str, advice: str = "") -> tuple[int, str, dict[str, Any]]:
    """Run `soap-gateway check` on a config file (with ``advice``, lines it printed before, in its [billing]
    section); its exit code, output and the [billing] lines it printed now."""
    config = write_config(tmp / "check.toml", settings, listen="127.0.0.1:0",
                          journal={"path": str(tmp / "check-journal.sqlite3")}, billing={"url": url})
    if advice:
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace("[billing]\n", advice + "\n", 1), encoding="utf-8")
    out = io.StringIO()
    code = run_checks(str(config), out)
    text = out.getvalue()
    return code, text, tomllib.loads(advice_of(text)).get("billing", {})


def advice_of(text: str) -> str:
    """The [billing] lines in check's output (the step's duration stripped from the last one)."""
    if "[billing]" not in text:
        return ""
    lines = text[text.index("[billing]"):].splitlines()
    block = [line for line in lines[:4]]
    block[-1] = block[-1].rsplit(" (", 1)[0] if block[-1].endswith(" ms)") else block[-1]
    return "\n".join(block)


@pytest.mark.parametrize("dialect", list(EXPECTED))
def test_check_finds_the_settings_and_the_core_scenario_works_with_them(
        pki: Any, gateway_settings: Any, tmp_path: Path, dialect: str) -> None:
    with Emulator(str(pki.server_cert), str(pki.server_key), str(pki.client_ca), dialect=dialect) as billing:
        code, text, found = check(gateway_settings, tmp_path, billing.url)
        assert found == EXPECTED[dialect], text
        assert code == (0 if found == DEFAULT else 1), text
        code, text, _ = check(gateway_settings, tmp_path, billing.url, advice_of(text))
        assert code == 0 and "everything works" in text, text  # and with them, check is content

        settings = {**found, "select_procedures": tuple(found["select_procedures"])}
        with running_gateway(gateway_settings, journal_path(tmp_path), url=billing.url, **settings) as gw:
            (ivanov,) = gw.service.CLN_USR_FIND_2(NAME_IN="Иванов")  # Cyrillic: the argument charset matters
            assert ivanov.ID == 101 and ivanov.IDENTIFY == "Иванов Иван Иванович"
            before = gw.service.CLN_USR_GET(SELECT_ID=101).BALANCE
            when = dt.datetime.now().replace(microsecond=0)
            posted = gw.service.CLN_FIN_OPER_ADD(USER_ID=101, OP_DATE=when, SUMMA=Decimal("12.34"),
                                                 DESCR="Оплата через кассу")
            assert gw.service.CLN_USR_GET(SELECT_ID=101).BALANCE - before == Decimal("12.34")
            (mine,) = gw.service.CLN_FIN_OPER(USER_ID=101, DATEL=when - dt.timedelta(minutes=1),
                                              DATEH=when + dt.timedelta(minutes=1))
            assert mine.ID == posted.ID and mine.SUMMA == Decimal("12.34") and "Оплата через кассу" in mine.DESCR
            assert len(gw.service.CLN_FIN_OPER(USER_ID=101)) >= 4
            fault = fault_of(lambda: gw.service.CLN_USR_GET(SELECT_ID=999999))
            assert fault.code.endswith("Client.NotFound") and detail_code(fault) == "NOT_FOUND"
