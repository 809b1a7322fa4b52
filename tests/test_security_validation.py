"""Input validation from the catalogue, the cases test_soap_e2e does not cover: ranges, addresses,
operation codes, money size, dates, unknown and fixed elements.

Each is a Client.ValidationError naming the field, and the billing is never asked.
"""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree

from securing import ENV, NS, post


def _op(name: str, *fields: tuple[str, str]) -> str:
    return f"<b:{name}>" + "".join(f"<b:{k}>{v}</b:{k}>" for k, v in fields) + f"</b:{name}>"


PAY = (("USER_ID", "101"), ("OP_DATE", "2024-05-06T07:08:09"))
CASES = [
    (_op("CLN_USR_GET", ("SELECT_ID", "2147483648")), "SELECT_ID"),                 # INTEGER range
    (_op("CLN_USR_GET", ("SELECT_ID", "-2147483649")), "SELECT_ID"),
    (_op("CLN_FIN_OPER", ("USER_ID", "1"), ("FINANCE_IN", "99999999999")), "FINANCE_IN"),
    (_op("CLN_SWITCH_EDIT", ("P_OP", "1"), ("IP", "300.1.1.1")), "IP"),             # IPv4 as INTEGER
    (_op("CLN_SWITCH_EDIT", ("P_OP", "1"), ("IP", "10.0.0")), "IP"),
    (_op("CLN_SWITCH_EDIT", ("P_OP", "1"), ("UPDATE_HOME_FLAG", "2")), "UPDATE_HOME_FLAG"),  # operation codes
    (_op("CLN_USR_USLUGA_EDIT", ("UK", "5")), "UK"),
    (_op("CLN_FIN_OPER_ADD", *PAY, ("SUMMA", "10000000000000.00")), "SUMMA"),       # money too large
    (_op("CLN_FIN_OPER_ADD", *PAY, ("SUMMA", "NaN")), "SUMMA"),
    (_op("CLN_FIN_OPER_ADD", ("USER_ID", "101"), ("OP_DATE", "06.05.2024"), ("SUMMA", "1")), "OP_DATE"),
    (_op("CLN_FIN_OPER_ADD", ("USER_ID", "101"), ("OP_DATE", "2024-13-01T00:00:00"), ("SUMMA", "1")), "OP_DATE"),
    (_op("CLN_FIN_OPER_ADD", *PAY, ("SUMMA", "1"), ("OP_TYPE", "3")), "OP_TYPE"),   # fixed by the catalogue
    (_op("CLN_USR_GET", ("SELECT_ID", "101"), ("PASSWORD", "x")), "PASSWORD"),      # unknown element
]


@pytest.mark.parametrize("body, field", CASES, ids=[f"{i}-{f}" for i, (_, f) in enumerate(CASES)])
def test_bad_input_is_refused_naming_the_field(gateway_server: Any, emulator: Any, body: str, field: str) -> None:
    before = emulator.stats()["requests"]
    response = post(gateway_server, body)
    assert response.status_code == 500
    fault = etree.fromstring(response.content).find(f".//{{{ENV}}}Fault")
    assert fault.findtext("faultcode").endswith("Client.ValidationError"), fault.findtext("faultstring")
    assert field in fault.xpath(".//gw:field/text()", namespaces=NS), fault.findtext("faultstring")
    assert emulator.stats()["requests"] == before
