"""Interop driver: suds-community runs tests/interop/scenario.json against the gateway.

Usage: python driver.py WSDL_URL SCENARIO_JSON (HTTP Basic from INTEROP_USER / INTEROP_PASSWORD).
Prints one JSON line per step.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import sys
import uuid
from typing import Any, Callable

from suds import WebFault
from suds.cache import NoCache
from suds.client import Client
from suds.transport.https import HttpAuthenticated

NS = ("gw", "urn:soap-gateway:billing")


def connect(wsdl_url: str) -> Client:
    options: dict[str, Any] = {"cache": NoCache(), "timeout": 30}
    if os.environ.get("INTEROP_USER"):
        # Answers the gateway's 401 challenge (suds sends each call twice: without, then with).
        options["transport"] = HttpAuthenticated(username=os.environ["INTEROP_USER"],
                                                 password=os.environ.get("INTEROP_PASSWORD", ""))
    return Client(wsdl_url, **options)


def when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)  # naive: the billing's wall clock, sent without an offset


def wall(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def money(value: Any) -> decimal.Decimal:
    # suds converts only elements typed xs:decimal itself; ours are restrictions of it
    # (totalDigits/fractionDigits), which it hands over as text.
    return decimal.Decimal(str(value))


def rows(result: Any) -> list[Any]:
    # An array comes back as its wrapper object with a `Row` list; an empty one as "".
    return list(getattr(result, "Row", None) or [])


class Run:
    def __init__(self, client: Client, steps: dict[str, dict[str, Any]]) -> None:
        self.client, self.service, self.steps = client, client.service, steps
        self.user_id: int | None = None
        self.before: decimal.Decimal | None = None
        self.paid_id: int | None = None

    def args(self, step: str) -> dict[str, Any]:
        return self.steps[step].get("args", {})

    def wsdl(self) -> dict[str, Any]:
        (port,) = self.client.sd[0].ports
        return {"operations": sorted(method.name for method in port[0].methods.values())}

    def find(self) -> dict[str, Any]:
        found = rows(self.service.CLN_USR_FIND_2(CONTRACT_NUMBER_IN=self.args("find")["CONTRACT_NUMBER_IN"]))
        self.user_id = found[0].ID
        return {"count": len(found), "ID": found[0].ID, "IDENTIFY": found[0].IDENTIFY,
                "BALANCE": str(found[0].BALANCE)}

    def read(self) -> dict[str, Any]:
        user = self.service.CLN_USR_GET(SELECT_ID=self.user_id)
        self.before = money(user.BALANCE)
        return {"NAME": user.NAME, "CONTRACT_NUMBER": user.CONTRACT_NUMBER, "BALANCE": str(user.BALANCE),
                "NEXT_AUTO_ACOUNT": wall(user.NEXT_AUTO_ACOUNT), "DISABLED_DATE": wall(user.DISABLED_DATE)}

    def pay(self) -> dict[str, Any]:
        a = self.args("pay")
        posted = self.service.CLN_FIN_OPER_ADD(USER_ID=self.user_id, OP_DATE=when(a["OP_DATE"]),
                                               SUMMA=decimal.Decimal(a["SUMMA"]), DESCR=a["DESCR"],
                                               NUMBER=a["NUMBER"], IDEMPOTENCY_KEY=str(uuid.uuid4()))
        self.paid_id = posted.ID
        return {"ID": posted.ID}

    def balance(self) -> dict[str, Any]:
        after = money(self.service.CLN_USR_GET(SELECT_ID=self.user_id).BALANCE)
        return {"BALANCE": str(after), "delta": str(after - self.before)}

    def operation(self) -> dict[str, Any]:
        a = self.args("operation")
        listed = rows(self.service.CLN_FIN_OPER(USER_ID=self.user_id, DATEL=when(a["DATEL"]),
                                                DATEH=when(a["DATEH"])))
        mine = [op for op in listed if op.ID == self.paid_id]
        op = mine[0]
        return {"matches": len(mine), "SUMMA": str(op.SUMMA), "NUMBER": op.NUMBER, "DESCR": op.DESCR,
                "OP_DATE": wall(op.OP_DATE)}

    def homes(self) -> dict[str, Any]:
        homes = rows(self.service.CLN_HOME_LIST())
        return {"count": len(homes), "cities": sorted({h.CITY for h in homes})}

    def home_one(self) -> dict[str, Any]:
        homes = rows(self.service.CLN_HOME_LIST(P_ID=self.args("home_one")["P_ID"]))
        return {"count": len(homes), "CITY": homes[0].CITY, "STREET": homes[0].STREET,
                "S_NUMBER": homes[0].S_NUMBER, "CONNECT_DATE": wall(homes[0].CONNECT_DATE)}

    def home_none(self) -> dict[str, Any]:
        result = self.service.CLN_HOME_LIST(P_ID=self.args("home_none")["P_ID"])
        return {"count": len(rows(result)), "empty_as": "'' (empty text)" if result == "" else repr(result)}

    def fault(self) -> dict[str, Any]:
        a = self.args("fault")
        try:
            self.service.CLN_FIN_OPER_ADD(USER_ID=self.user_id, OP_DATE=when(a["OP_DATE"]),
                                          SUMMA=decimal.Decimal(a["SUMMA"]), NUMBER=a["NUMBER"])
        except WebFault as error:
            fault = error.fault
            return {"faultcode": fault.faultcode.rpartition(":")[2], "faultstring": fault.faultstring,
                    "detail_code": fault.detail.GatewayFault.code}
        raise AssertionError("no fault")


def main(wsdl_url: str, scenario_path: str) -> None:
    with open(scenario_path, encoding="utf-8") as f:
        steps = {s["id"]: s for s in json.load(f)["steps"]}
    run: Run | None = None
    for step in steps:
        try:
            if run is None:
                run = Run(connect(wsdl_url), steps)
            handler: Callable[[], dict[str, Any]] = getattr(run, step)
            line = {"step": step, "observed": handler()}
        except Exception as exc:  # every failure is a matrix cell, not a crash of the driver
            line = {"step": step, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(line, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
