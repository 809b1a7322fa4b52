"""The interop scenario as both Python drivers run it (zeep/driver.py, suds/driver.py).

Both clients call an operation as ``client.service.NAME(**arguments)``, so the calls and what each
step reports are here. A driver subclasses Run with what its client does its own way (listing the
WSDL's operations, handing over arrays and money, raising faults) and calls main(). Drivers run as
scripts and import this module from their parent directory.
"""

from __future__ import annotations

import abc
import datetime as dt
import decimal
import json
import sys
import uuid
from typing import Any, Callable


def when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)  # naive: the billing's wall clock, sent without an offset


def wall(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class Run(abc.ABC):
    """The scenario's steps, one method each, run in the order of scenario.json."""

    def __init__(self, client: Any, steps: dict[str, dict[str, Any]]) -> None:
        self.client, self.service, self.steps = client, client.service, steps
        self.user_id: int | None = None
        self.before: decimal.Decimal | None = None
        self.paid_id: int | None = None
        self.batch_key: str | None = None
        self.batch_id: int | None = None

    @abc.abstractmethod
    def operations(self) -> list[str]:
        """The operations the client read from the WSDL."""

    @abc.abstractmethod
    def rows(self, result: Any) -> list[Any]:
        """The rows of an array result, as a list also when the array is empty."""

    @abc.abstractmethod
    def money(self, value: Any) -> decimal.Decimal:
        """A decimal result as a Decimal."""

    def empty_as(self, result: Any) -> str:
        """What an empty array arrived as, for the matrix's notes."""
        return repr(result)

    @abc.abstractmethod
    def fault(self) -> dict[str, Any]:
        """The fault step: post_invalid(), then what the client's fault says."""

    def args(self, step: str) -> dict[str, Any]:
        return self.steps[step].get("args", {})

    def wsdl(self) -> dict[str, Any]:
        return {"operations": sorted(self.operations())}

    def find(self) -> dict[str, Any]:
        found = self.rows(self.service.CLN_USR_FIND_2(CONTRACT_NUMBER_IN=self.args("find")["CONTRACT_NUMBER_IN"]))
        self.user_id = found[0].ID
        return {"count": len(found), "ID": found[0].ID, "IDENTIFY": found[0].IDENTIFY,
                "BALANCE": str(found[0].BALANCE)}

    def read(self) -> dict[str, Any]:
        user = self.service.CLN_USR_GET(SELECT_ID=self.user_id)
        self.before = self.money(user.BALANCE)
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
        after = self.money(self.service.CLN_USR_GET(SELECT_ID=self.user_id).BALANCE)
        return {"BALANCE": str(after), "delta": str(after - self.before)}

    def operation(self) -> dict[str, Any]:
        a = self.args("operation")
        listed = self.rows(self.service.CLN_FIN_OPER(USER_ID=self.user_id, DATEL=when(a["DATEL"]),
                                                     DATEH=when(a["DATEH"])))
        mine = [op for op in listed if op.ID == self.paid_id]
        op = mine[0]
        return {"matches": len(mine), "SUMMA": str(op.SUMMA), "NUMBER": op.NUMBER, "DESCR": op.DESCR,
                "OP_DATE": wall(op.OP_DATE)}

    def homes(self) -> dict[str, Any]:
        homes = self.rows(self.service.CLN_HOME_LIST())
        return {"count": len(homes), "cities": sorted({h.CITY for h in homes})}

    def home_one(self) -> dict[str, Any]:
        homes = self.rows(self.service.CLN_HOME_LIST(P_ID=self.args("home_one")["P_ID"]))
        return {"count": len(homes), "CITY": homes[0].CITY, "STREET": homes[0].STREET,
                "S_NUMBER": homes[0].S_NUMBER, "CONNECT_DATE": wall(homes[0].CONNECT_DATE)}

    def home_none(self) -> dict[str, Any]:
        result = self.service.CLN_HOME_LIST(P_ID=self.args("home_none")["P_ID"])
        return {"count": len(self.rows(result)), "empty_as": self.empty_as(result)}

    @abc.abstractmethod
    def payment_lines(self, lines: list[dict[str, Any]]) -> Any:
        """The LINES argument of GatewayPostPayments, built the client's way from plain field values."""

    def results(self, reply: Any) -> list[Any]:
        """The Result elements of GatewayPostPayments' reply."""
        return self.rows_named(reply, "Result")

    def rows_named(self, array: Any, member: str) -> list[Any]:
        return self.rows(array)

    def batch(self) -> dict[str, Any]:
        lines = [dict(line, IDEMPOTENCY_KEY=str(uuid.uuid4()), OP_DATE=when(line["OP_DATE"]),
                      SUMMA=decimal.Decimal(line["SUMMA"])) for line in self.args("batch")["LINES"]]
        first = self.results(self.service.GatewayPostPayments(LINES=self.payment_lines(lines)))
        again = self.results(self.service.GatewayPostPayments(LINES=self.payment_lines(lines)))
        self.batch_key, self.batch_id = first[0].IDEMPOTENCY_KEY, first[0].ID
        return {"LINE": [r.LINE for r in first], "STATUS": [r.STATUS for r in first],
                "USER_ID": [r.USER_ID for r in first], "CODE": [r.CODE for r in first],
                "again": [r.STATUS for r in again], "same_ids": [r.ID for r in again] == [r.ID for r in first]}

    def reconcile(self) -> dict[str, Any]:
        a = self.args("reconcile")
        report = self.service.GatewayReconcile(FROM=when(a["FROM"]), TO=when(a["TO"]), USER_ID=a["USER_ID"])
        (mine,) = [p for p in self.rows_named(report.PAYMENTS, "Payment") if p.IDEMPOTENCY_KEY == self.batch_key]
        days = self.rows_named(report.DAYS, "Day")
        return {"KIND": mine.KIND, "JOURNAL_STATE": mine.JOURNAL_STATE, "BILLING_SUMMA": str(mine.BILLING_SUMMA),
                "same_id": mine.BILLING_ID == self.batch_id, "days": len(days), "DAY": str(days[0].DAY),
                "balanced": self.money(days[0].JOURNAL_SUMMA) == self.money(days[0].BILLING_SUMMA)}

    def post_invalid(self) -> None:
        """The fault step's call, which the gateway must reject (NUMBER is too long)."""
        a = self.args("fault")
        self.service.CLN_FIN_OPER_ADD(USER_ID=self.user_id, OP_DATE=when(a["OP_DATE"]),
                                      SUMMA=decimal.Decimal(a["SUMMA"]), NUMBER=a["NUMBER"])


def main(connect: Callable[[str], Any], driver: type[Run]) -> None:
    """python driver.py WSDL_URL SCENARIO_JSON: one JSON line per step on stdout."""
    wsdl_url, scenario_path = sys.argv[1], sys.argv[2]
    with open(scenario_path, encoding="utf-8") as f:
        steps = {s["id"]: s for s in json.load(f)["steps"]}
    run: Run | None = None
    for step in steps:
        try:
            if run is None:
                run = driver(connect(wsdl_url), steps)
            handler: Callable[[], dict[str, Any]] = getattr(run, step)
            line = {"step": step, "observed": handler()}
        except Exception as exc:  # every failure is a matrix cell, not a crash of the driver
            line = {"step": step, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(line, ensure_ascii=False), flush=True)
