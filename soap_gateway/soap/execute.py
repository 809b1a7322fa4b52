"""The generic EXECUTE operation's SOAP face; present only when ``billing.execute_procedures`` lists procedures."""

from __future__ import annotations

from typing import Any

from spyne import Array, ComplexModel, Unicode, rpc

from ..execute import OPERATION, Executor
from ..operations import Reply
from ..web import CallContext
from .fastpath_models import Run
from .models import TNS, ExtraColumns

ExecuteArgs = Array(Unicode, type_name="ArrayOfEXECUTE_ARG", member_name="ARG")


class ExecuteRow(ComplexModel):
    """One reply row: every column as a name and its text value."""

    __namespace__ = TNS
    __type_name__ = "EXECUTE_Row"
    _type_info = [("COLUMNS", ExtraColumns.customize(min_occurs=1, nillable=False))]


ExecuteRows = Array(ExecuteRow, type_name="ArrayOfEXECUTE_Row", member_name="Row")
DOC = ("Вызов процедуры биллинга вне каталога из списка billing.execute_procedures; аргументы — текст "
       "по порядку (пустой ARG с xsi:nil — null).\n"
       "Runs a billing procedure outside the catalogue, one of billing.execute_procedures; arguments are text "
       "in order (a nil ARG is null). Never repeated after a timeout.")


def execute_run(executor: Executor) -> Run:
    """EXECUTE for both request paths: each reply row as its columns, a name and a value (empty: nil)."""

    def run(call: CallContext, args: dict[str, Any], suid: str | None) -> Reply:
        rows = executor.run(args["PROCEDURE"], list(args.get("ARGS") or []), principal=call.principal,
                            credentials=call.credentials, correlation_id=call.correlation_id)
        return Reply(rows=[{"COLUMNS": [{"NAME": k, "VALUE": v or None} for k, v in row.extra.items()]}
                           for row in rows])

    return run


def execute_operation(run: Run) -> dict[str, Any]:
    """The Spyne method to add to the service class, keyed by its name."""

    def operation(ctx: Any, procedure: str, args: list[str | None] | None) -> Reply:
        return run(ctx.udc, {"PROCEDURE": procedure, "ARGS": args}, None)

    operation.__name__ = OPERATION
    operation.__doc__ = DOC
    method = rpc(Unicode(max_len=64, min_occurs=1, nillable=False, doc="имя процедуры / procedure name"),
                 ExecuteArgs.customize(min_occurs=0, nillable=False, doc="аргументы после SUID / arguments "
                                       "after the SUID"),
                 _args=["PROCEDURE", "ARGS"], _returns=ExecuteRows.customize(min_occurs=1, nillable=False),
                 _wsdl_part_name="parameters", _out_variable_name=f"{OPERATION}Result")(operation)
    return {OPERATION: method}
