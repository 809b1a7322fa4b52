"""Interop driver: zeep in strict mode runs tests/interop/scenario.json against the gateway.

Usage: python driver.py WSDL_URL SCENARIO_JSON (HTTP Basic from INTEROP_USER / INTEROP_PASSWORD).
Prints one JSON line per step. The steps are ../pydriver.py; this file has what is zeep's own.
"""

from __future__ import annotations

import decimal
import os
import sys
from pathlib import Path
from typing import Any

import requests
import zeep
from zeep.transports import Transport

# Run as a script: the shared steps (tests/interop/pydriver.py) are found through sys.path.
sys.path.append(str(Path(__file__).resolve().parent.parent))
import pydriver  # noqa: E402

GW = "{urn:soap-gateway:billing}"


def connect(wsdl_url: str) -> zeep.Client:
    session = requests.Session()
    if os.environ.get("INTEROP_USER"):
        session.auth = (os.environ["INTEROP_USER"], os.environ.get("INTEROP_PASSWORD", ""))
    # strict=True is zeep's default, said out loud; force_https=False keeps the WSDL's address as it is.
    settings = zeep.Settings(strict=True, force_https=False)
    return zeep.Client(wsdl_url, transport=Transport(session=session, timeout=30, operation_timeout=30),
                       settings=settings)


class ZeepRun(pydriver.Run):
    def operations(self) -> list[str]:
        return [name for name in dir(self.service) if not name.startswith("_")]

    def rows(self, result: Any) -> list[Any]:
        return list(result or [])  # zeep gives None for an empty array

    def money(self, value: decimal.Decimal) -> decimal.Decimal:
        return value  # zeep converts xs:decimal and its restrictions itself

    def rows_named(self, array: Any, member: str) -> list[Any]:
        # A reply that is an array comes as a list; an array inside a reply as its wrapper object.
        return list((array if isinstance(array, list) else getattr(array, member, None)) or [])

    def payment_lines(self, lines: list[dict[str, Any]]) -> Any:
        return {"Line": lines}  # plain dicts; a field left out is simply not sent

    def fault(self) -> dict[str, Any]:
        try:
            self.post_invalid()
        except zeep.exceptions.Fault as fault:
            return {"faultcode": fault.code.rpartition(":")[2], "faultstring": fault.message,
                    "detail_code": fault.detail.findtext(f"{GW}GatewayFault/{GW}code")}
        raise AssertionError("no fault")


if __name__ == "__main__":
    pydriver.main(connect, ZeepRun)
