"""The procedure registry: name -> parameters, handler and whether it writes; Firebird-like argument binding."""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import finance, network, subscribers
from .errors import BillingError
from .model import Context, Result
from .signatures import LOGIN_PROC, PARAMS, Field, params_for

Handler = Callable[[sqlite3.Connection, dict[str, Any], Context], Result]

_HANDLERS: dict[str, tuple[Handler | None, bool]] = {
    LOGIN_PROC: (None, False),  # answered by the session layer
    "CLN_HOME_EDIT": (network.home_edit, True),
    "CLN_HOME_LIST": (network.home_list, False),
    "CLN_SWITCH_EDIT": (network.switch_edit, True),
    "CLN_SWITCH_LIST": (network.switch_list, False),
    "CLN_USR_USLUGA_EDIT": (subscribers.usluga_edit, True),
    "CLN_USR_GET": (subscribers.usr_get, False),
    "WEB_USER_PROMISE_PAY": (subscribers.promise_pay, True),
    "CLN_USR_FIND_2": (subscribers.usr_find, False),
    "CLN_FIN_OPER_ADD": (finance.fin_oper_add, True),
    "CLN_FIN_OPER": (finance.fin_oper_list, False),
}
assert set(_HANDLERS) == set(PARAMS), "every transcribed procedure needs a handler"


@dataclass(frozen=True)
class Procedure:
    name: str
    params: tuple[Field, ...]
    handler: Handler | None
    writes: bool

    def mismatch(self) -> BillingError:
        return BillingError(f"Input parameter mismatch for procedure {self.name}")

    def bind(self, raw: Sequence[str | None]) -> dict[str, Any]:
        """Convert positional wire values in order, as Firebird binds them; missing trailing ones are NULL."""
        if len(raw) > len(self.params):
            raise self.mismatch()
        values: dict[str, Any] = {}
        for index, (name, kind) in enumerate(self.params):
            value = raw[index] if index < len(raw) else None
            values[name] = None if value is None else kind.parse(value)
        return values


def registry(legacy_find: bool = False) -> dict[str, Procedure]:
    return {name: Procedure(name, params_for(name, legacy_find), handler, writes)
            for name, (handler, writes) in _HANDLERS.items()}


def unknown_procedure(name: str) -> BillingError:
    return BillingError(f"Dynamic SQL Error; SQL error code = -204; Procedure unknown; {name}")
