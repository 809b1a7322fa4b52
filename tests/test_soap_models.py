"""The catalogue → Spyne derivation: every value type mapped, outputs checked before Spyne sees them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from soap_gateway.backend.codec import Row
from soap_gateway.catalogue import load_catalogue
from soap_gateway.catalogue.types import Date, Integer, Ipv4, Money, Text, Timestamp
from soap_gateway.operations import OutputConverter
from soap_gateway.soap.models import spyne_type

CATALOGUE = load_catalogue()


@pytest.mark.parametrize("value_type, xsd", [
    (Integer("SMALLINT", 16), "short"), (Integer("INTEGER", 32), "int"), (Integer("NUMERIC(18,0)", 64), "long"),
    (Money("NUMERIC(15,2)"), "decimal"), (Text("VARCHAR(10)", 10), "string"), (Ipv4(), "string"),
    (Timestamp(), "dateTime"), (Date(), "date"),
])
def test_every_value_type_has_a_soap_type(value_type, xsd) -> None:
    model = spyne_type(value_type)
    assert (model.__orig__ or model).get_type_name() == xsd  # facets make an anonymous subtype


def test_every_catalogue_field_maps() -> None:
    for proc in CATALOGUE.values():
        for item in (*proc.args, *proc.columns):
            assert spyne_type(item.type, min_occurs=1) is not None, (proc.name, item.name)


def _row(proc_name: str, **values) -> Row:
    proc = CATALOGUE[proc_name]
    return Row({c.name: values.get(c.name) for c in proc.columns})


def test_outputs_are_clipped_quantized_and_whole_seconds() -> None:
    proc = CATALOGUE["CLN_FIN_OPER"]
    convert = OutputConverter(proc, None)
    out = convert(_row("CLN_FIN_OPER", ID=1, NUMBER="X" * 25, SUMMA=Decimal("5"),
                       OP_DATE=dt.datetime(2024, 1, 2, 3, 4, 5, 678)))
    assert out["NUMBER"] == "X" * 10
    assert str(out["SUMMA"]) == "5.00"
    assert out["OP_DATE"] == dt.datetime(2024, 1, 2, 3, 4, 5) and out["OP_DATE"].tzinfo is None


def test_offset_mode_attaches_the_billing_zone() -> None:
    proc = CATALOGUE["CLN_FIN_OPER"]
    convert = OutputConverter(proc, ZoneInfo("Asia/Yekaterinburg"))
    out = convert(_row("CLN_FIN_OPER", OP_DATE=dt.datetime(2024, 1, 2, 3, 4, 5)))
    assert out["OP_DATE"].isoformat() == "2024-01-02T03:04:05+05:00"


def test_unknown_columns_are_delivered_as_extra_columns() -> None:
    proc = CATALOGUE["CLN_HOME_LIST"]
    convert = OutputConverter(proc, None)
    row = _row("CLN_HOME_LIST", ID=1)
    row.extra["floors"] = "9"
    out = convert(row)
    assert out["EXTRA_COLUMNS"] == [{"NAME": "floors", "VALUE": "9"}]
