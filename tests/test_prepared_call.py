"""A call is prepared once (validated, encoded, fingerprinted) and sent exactly as prepared.

End to end: zeep -> gateway -> the emulator.  The catalogue's value types are
observed (every ``validate`` and ``to_wire`` call recorded and passed on), not
replaced.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any, Callable, Iterator

import pytest

from money import RunningGateway, journal_path, new_key, running_gateway
from soap_gateway.catalogue import types
from soap_gateway.journal.marker import with_marker
from probe import Probe

WHEN = dt.datetime(2026, 3, 14, 9, 26, 53)


@pytest.fixture(scope="module")
def gw(gateway_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    with running_gateway(gateway_settings, journal_path(tmp_path_factory.mktemp("prepared"))) as running:
        yield running


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """The values each catalogue type was asked to validate and to encode, in this test."""
    seen: dict[str, list[Any]] = {"validate": [], "to_wire": []}

    def observed(method: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def record(self: types.ValueType, value: Any, *rest: Any) -> Any:
            seen[method].append(value)
            return original(self, value, *rest)
        return record

    for cls in {types.ValueType, *types.ValueType.__subclasses__()}:
        for method in ("validate", "to_wire"):
            if method in vars(cls):
                monkeypatch.setattr(cls, method, observed(method, vars(cls)[method]))
    return seen


def pay(gw: RunningGateway, key: str, **changes: Any) -> Any:
    args = dict(USER_ID=103, OP_DATE=WHEN, SUMMA=Decimal("123.45"), DESCR="Оплата 4711", NUMBER="PP-2026-1")
    return gw.service.CLN_FIN_OPER_ADD(**{**args, **changes}, IDEMPOTENCY_KEY=key)


def test_a_journaled_write_validates_and_encodes_each_argument_once(gw: RunningGateway,
                                                                     seen: dict[str, list[Any]]) -> None:
    pay(gw, new_key(), SUMMA=Decimal("1.00"))  # the lookup's calibration after a first posting: not measured
    seen["validate"].clear()
    seen["to_wire"].clear()
    key = new_key()
    pay(gw, key)
    marker = gw.journal.entry(key).marker
    marked = with_marker("Оплата 4711", marker)
    # as given (each once), and the description once more with the marker in front
    assert Counter(map(str, seen["validate"])) == Counter(
        ["103", "2026-03-14 09:26:53", "123.45", "Оплата 4711", "PP-2026-1", marked])
    # each argument (and the fixed operation type, 2) once; the marked description once for sending
    assert Counter(map(str, seen["to_wire"])) == Counter(
        ["103", "2026-03-14 09:26:53", "123.45", "2", "Оплата 4711", "PP-2026-1", marked])


def test_the_billing_gets_exactly_the_prepared_call_and_the_journal_its_fingerprint(
        gw: RunningGateway, emulator: Any) -> None:
    client = gw.gateway.client
    key, probe = new_key(), Probe(emulator)
    pay(gw, key, SUMMA=Decimal("77.70"))
    entry = gw.journal.entry(key)
    given = dict(USER_ID=103, OP_DATE=WHEN, SUMMA=Decimal("77.70"), DESCR="Оплата 4711", NUMBER="PP-2026-1")
    prepared = client.prepare("CLN_FIN_OPER_ADD", given)
    assert entry.fingerprint == prepared.fingerprint  # the caller's payload, unmarked
    outgoing = client.amend(prepared, {"DESCR": with_marker("Оплата 4711", entry.marker)})
    (request,) = probe.requests("CLN_FIN_OPER_ADD")
    assert request.args[1:] == [None if v == "null" else v for v in outgoing.positional]
    assert outgoing.positional == client.prepare("CLN_FIN_OPER_ADD", {**given, "DESCR": outgoing.args["DESCR"]}).positional


def test_a_read_validates_and_encodes_each_argument_once(gw: RunningGateway, seen: dict[str, list[Any]]) -> None:
    gw.service.CLN_USR_GET(SELECT_ID=103)
    assert seen["validate"] == [103] and seen["to_wire"] == [103]


def test_amending_checks_the_new_value_and_keeps_the_others(gw: RunningGateway, seen: dict[str, list[Any]]) -> None:
    from soap_gateway.errors import InvalidArgument

    client = gw.gateway.client
    prepared = client.prepare("CLN_FIN_OPER_ADD", dict(USER_ID=103, OP_DATE=WHEN, SUMMA="5", DESCR="x"))
    seen["validate"].clear()
    amended = client.amend(prepared, {"DESCR": "y"})
    assert seen["validate"] == ["y"]
    assert [a for a, b in zip(amended.positional, prepared.positional) if a != b] == ["y"]
    assert amended.args == {**prepared.args, "DESCR": "y"}
    with pytest.raises(InvalidArgument) as refused:
        client.amend(prepared, {"DESCR": "z" * 10_000})
    assert [name for name, _ in refused.value.problems] == ["DESCR"]
