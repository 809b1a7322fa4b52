"""The pure parts of money safety: catalogue flags, the [journal] settings, the breaker, marker, stored rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from soap_gateway.backend import Row
from soap_gateway.backend.breaker import CircuitBreaker
from soap_gateway.catalogue import load_catalogue, parse_catalogue
from soap_gateway.catalogue.model import RECONCILERS
from soap_gateway.config import Settings, default_journal_path
from soap_gateway.errors import BillingError, BillingUnavailable, CircuitOpen, ConfigurationError
from soap_gateway.journal.marker import LENGTH, RESERVED, carries, marker_for, with_marker
from soap_gateway.journal.model import dump_rows, load_rows
from soap_gateway.backend.prepared import fingerprint
from soap_gateway.journal.reconcile import STRATEGIES

WRITE = '''[P]
mode = "write"
result = "status"
args = [{ name = "USER_ID", type = "INTEGER" }, { name = "DESCR", type = "VARCHAR(255)" },
        { name = "TYPE", type = "INTEGER", fixed = 2 }]
'''


def test_the_money_procedures_are_idempotent_with_their_reconciliation() -> None:
    catalogue = load_catalogue()
    idempotent = {name: (p.marker, p.reconcile) for name, p in catalogue.items() if p.idempotent}
    assert idempotent == {"CLN_FIN_OPER_ADD": ("DESCR", "posting"), "WEB_USER_PROMISE_PAY": ("", "state")}


def test_every_reconciler_name_has_a_strategy() -> None:
    assert set(STRATEGIES) == set(RECONCILERS)


@pytest.mark.parametrize("extra, message", [
    ('idempotent = true\nreconcile = 3', "3 is not one of"),
    ('idempotent = "yes"', "must be true or false"),
    ('marker = "DESCR"', "need idempotent = true"),
    ('idempotent = true\nmarker = "USER_ID"', "'USER_ID' is not a text argument"),
    ('idempotent = true\nmarker = "TYPE"', "'TYPE' is not a text argument"),
    ('idempotent = true\nmarker = "NOPE"', "'NOPE' is not a text argument"),
    ('idempotent = true\nreconcile = "guess"', "'guess' is not one of"),
    ('idempotent = true\nreconcile = "posting"', "needs a marker argument"),
    ('idempotent = true\nmarker = "DESCR"\nreconcile = "posting"', "reconcile and a \\[<procedure>.lookup\\] table"),
], ids=["not-a-name", "not-a-flag", "marker-without-idempotent", "integer-marker", "fixed-marker",
        "missing-marker", "unknown-reconciler", "reconciler-without-marker", "reconciler-without-lookup"])
def test_catalogue_refuses_bad_money_flags(extra: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_catalogue(WRITE.replace('result = "status"', f'result = "status"\n{extra}'), "site.toml")


def test_only_writes_take_a_key() -> None:
    text = WRITE.replace('mode = "write"', 'mode = "read"').replace('result = "status"', 'result = "status"\nidempotent = true')
    with pytest.raises(ConfigurationError, match="only write procedures"):
        parse_catalogue(text, "site.toml")


def test_a_site_write_may_opt_in_without_reconciliation() -> None:
    (proc,) = parse_catalogue(WRITE.replace('result = "status"', 'result = "status"\nidempotent = true'), "s").values()
    assert proc.idempotent and not proc.reconcile


def test_arg_counts_cannot_drop_the_marker() -> None:
    with pytest.raises(ConfigurationError, match="cannot drop DESCR"):
        load_catalogue(arg_counts={"CLN_FIN_OPER_ADD": 3})


def test_journal_settings(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text('[journal]\nurl = "postgresql://gw:Pg-Secret@db/journal"\nlease_seconds = 90\n'
                    '[billing]\nbreaker_failures = 3\nbreaker_reset_seconds = 10\n', encoding="utf-8")
    settings = Settings.load(path, {})
    assert settings.journal.lease_seconds == 90.0 and settings.billing.breaker_failures == 3
    assert "Pg-Secret" not in repr(settings)
    assert Settings.load(None, {}).journal.path == default_journal_path()  # in the state directory


@pytest.mark.parametrize("text, message", [
    ('[journal]\nurl = "mysql://u:Pw-Secret@h/db"', "expected postgresql://"),
    ('[journal]\npath = ""', "journal.path"),
    ('[journal]\nwait_seconds = -1', "must not be negative"),
    ('[journal]\nsettle_seconds = 60', "settle_seconds was removed: a payment not found in the billing"),
    ('[billing]\nbreaker_failures = 0', "breaker_failures"),
])
def test_bad_journal_settings(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "g.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message) as caught:
        Settings.load(path, {})
    assert "Pw-Secret" not in str(caught.value)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fail(breaker: CircuitBreaker, error: Exception) -> None:
    with pytest.raises(type(error)):
        with breaker.guard():
            raise error


def test_breaker_opens_refuses_and_probes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(2, 10.0, clock)
    fail(breaker, BillingError(procedure="P", billing_message="no such subscriber"))  # an answer: the billing is up
    fail(breaker, BillingUnavailable(detail="x"))
    assert breaker.state() == "closed"
    fail(breaker, BillingUnavailable(detail="x"))
    assert breaker.state() == "open" and breaker.opened == 1
    with pytest.raises(CircuitOpen) as refused:
        with breaker.guard():
            pass
    assert refused.value.sent is False and "10 s more" in str(refused.value)
    clock.now = 10.0
    assert breaker.state() == "half_open"
    with breaker.guard():  # the probe; a second caller meanwhile is refused
        with pytest.raises(CircuitOpen):
            with breaker.guard():
                pass
    assert breaker.state() == "closed"


def test_a_failed_probe_reopens_at_once() -> None:
    clock = Clock()
    breaker = CircuitBreaker(3, 5.0, clock)
    for _ in range(3):
        fail(breaker, BillingUnavailable(detail="x"))
    clock.now = 5.0
    fail(breaker, BillingUnavailable(detail="still down"))
    assert breaker.state() == "open" and breaker.opened == 2
    clock.now = 9.0
    assert breaker.state() == "open"  # the pause starts again from the probe


def test_marker_is_fixed_length_ascii_keyed_by_the_secret_and_the_caller() -> None:
    secret = bytes(range(32))
    marker = marker_for(secret, "kassa-1", "1c-документ-0001")
    assert len(marker) == LENGTH == RESERVED - 1 and marker.isascii()
    assert marker == marker_for(secret, "kassa-1", "1c-документ-0001")
    others = {marker_for(secret, "kassa-1", "1c-документ-0002"), marker_for(secret, "kassa-2", "1c-документ-0001"),
              marker_for(bytes(32), "kassa-1", "1c-документ-0001")}
    assert marker not in others and len(others) == 3
    # in front, so a billing that shortens the text keeps it
    assert with_marker("Оплата", marker) == f"{marker} Оплата" and with_marker(None, marker) == marker
    assert carries(f"{marker} Оплата", marker) and not carries("Оплата", marker) and not carries(None, marker)


def test_stored_rows_come_back_typed() -> None:
    rows = [Row({"ID": 7, "SUMMA": Decimal("1.50"), "AT": dt.datetime(2024, 5, 1, 9, 30), "D": dt.date(2024, 5, 1),
                 "NAME": "Иванов", "NONE": None}, {"odd": "x"})]
    assert load_rows(dump_rows(rows)) == rows
    assert load_rows(None) == []


def test_fingerprint_is_the_wire_payload() -> None:
    assert fingerprint("P", ["1", "100.00"]) == fingerprint("P", ["1", "100.00"]) != fingerprint("P", ["1", "100.01"])
    assert fingerprint("P", ["1"]) != fingerprint("Q", ["1"])


def test_the_journal_command_loads_nothing_of_the_billing_side() -> None:
    """gunicorn's metrics mode is fixed when prometheus_client is first imported (ops/multiproc.py);
    building the command line, which includes ``journal``, must not import it before ``serve`` decides."""
    import subprocess
    import sys

    code = ("import sys; from soap_gateway import cli; cli._parser(); "
            "print(sorted(m for m in ('prometheus_client', 'soap_gateway.backend') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).parent.parent)
    assert done.stdout.strip() == "[]", done.stderr


@pytest.mark.parametrize("change, message", [
    (('procedure = "CLN_FIN_OPER"', 'procedure = "CLN_FIN_OPER_ADD"'), "is not a read procedure"),
    (('evidence = { column = "DESCR" }', 'evidence = { column = "COMMENT" }'),
     "evidence.column: CLN_FIN_OPER has no column 'COMMENT'"),
    (('by = "USER_ID"', 'by = "SELECT_ID"'), "subscriber.by: CLN_FIN_OPER has no argument 'SELECT_ID'"),
    (('argument = "SUMMA"', 'argument = "NUMBER"'), "amount: NUMBER and SUMMA must be money"),
    (('from = "DATEL"', 'since = "DATEL"'), "unknown field"),
], ids=["not-a-read", "unknown-column", "unknown-argument", "amount-not-money", "unknown-key"])
def test_the_loader_checks_every_name_a_lookup_declares(tmp_path: Path, change: tuple[str, str],
                                                        message: str) -> None:
    from importlib import resources

    builtin = resources.files("soap_gateway.catalogue").joinpath("procedures.toml").read_text(encoding="utf-8")
    start = builtin.index("[CLN_FIN_OPER_ADD]\n")
    section = builtin[start:builtin.index("[CLN_FIN_OPER]\n")].replace("[CLN_FIN_OPER_ADD]\n",
                                                                        "[CLN_FIN_OPER_ADD]\nreplace = true\n")
    assert change[0] in section
    site = tmp_path / "site.toml"
    site.write_text(section.replace(change[0], change[1]), encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message):
        load_catalogue([site])
