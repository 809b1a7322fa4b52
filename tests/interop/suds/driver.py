"""Interop driver: suds-community runs tests/interop/scenario.json against the gateway.

Usage: python driver.py WSDL_URL SCENARIO_JSON (HTTP Basic from INTEROP_USER / INTEROP_PASSWORD).
Prints one JSON line per step. The steps are ../pydriver.py; this file has what is suds' own.
"""

from __future__ import annotations

import decimal
import os
import sys
from pathlib import Path
from typing import Any

from suds import WebFault
from suds.cache import NoCache
from suds.client import Client
from suds.transport.https import HttpAuthenticated

# Run as a script: the shared steps (tests/interop/pydriver.py) are found through sys.path.
sys.path.append(str(Path(__file__).resolve().parent.parent))
import pydriver  # noqa: E402


def connect(wsdl_url: str) -> Client:
    options: dict[str, Any] = {"cache": NoCache(), "timeout": 30}
    if os.environ.get("INTEROP_USER"):
        # Answers the gateway's 401 challenge (suds sends each call twice: without, then with).
        options["transport"] = HttpAuthenticated(username=os.environ["INTEROP_USER"],
                                                 password=os.environ.get("INTEROP_PASSWORD", ""))
    return Client(wsdl_url, **options)


class SudsRun(pydriver.Run):
    def operations(self) -> list[str]:
        (port,) = self.client.sd[0].ports
        return [method.name for method in port[0].methods.values()]

    def rows(self, result: Any) -> list[Any]:
        # An array comes back as its wrapper object with a `Row` list; an empty one as "".
        return list(getattr(result, "Row", None) or [])

    def money(self, value: Any) -> decimal.Decimal:
        # suds converts only elements typed xs:decimal itself; ours are restrictions of it
        # (totalDigits/fractionDigits), which it hands over as text.
        return decimal.Decimal(str(value))

    def rows_named(self, array: Any, member: str) -> list[Any]:
        return list(getattr(array, member, None) or [])

    def payment_lines(self, lines: list[dict[str, Any]]) -> Any:
        # suds builds the array and each line from the WSDL's types; unset fields are left out.
        array = self.client.factory.create("ns0:ArrayOfGatewayPaymentLine")
        for values in lines:
            line = self.client.factory.create("ns0:GatewayPaymentLine")
            for name, value in values.items():
                setattr(line, name, value)
            array.Line.append(line)
        return array

    def empty_as(self, result: Any) -> str:
        return "'' (empty text)" if result == "" else repr(result)

    def fault(self) -> dict[str, Any]:
        try:
            self.post_invalid()
        except WebFault as error:
            fault = error.fault
            return {"faultcode": fault.faultcode.rpartition(":")[2], "faultstring": fault.faultstring,
                    "detail_code": fault.detail.GatewayFault.code}
        raise AssertionError("no fault")


if __name__ == "__main__":
    pydriver.main(connect, SudsRun)
