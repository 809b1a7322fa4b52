"""The one exception of the emulated billing (an error it reports inside an HTTP 200 XML reply),
and the Firebird-worded checks that raise it."""
from __future__ import annotations

from typing import Any

ADD, UPDATE, DELETE = 1, 0, 2  # operation codes of the *_EDIT procedures (P_OP, UK)


class BillingError(Exception):
    """A billing-reported error; rendered as ``<result><error>message</error></result>``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def not_null(table: str, column: str) -> BillingError:
    """Firebird's wording for a NOT NULL column receiving NULL."""
    return BillingError(f'validation error for column "{table}"."{column}", value "*** null ***"')


def user_not_found(user_id: object) -> BillingError:
    return BillingError(f"Абонент {user_id} не найден")


def required(args: dict[str, Any], name: str) -> Any:
    """The value of a procedure variable that must not be NULL (Firebird's wording otherwise)."""
    if args[name] is None:
        raise BillingError(f'validation error for variable {name}, value "*** null ***"')
    return args[name]


def require(table: str, args: dict[str, Any], *names: str) -> None:
    """Arguments written into NOT NULL columns of ``table``."""
    for name in names:
        if args[name] is None:
            raise not_null(table, name)


def op_code(args: dict[str, Any], name: str) -> int:
    value = args[name]
    if value not in (ADD, UPDATE, DELETE):
        raise BillingError(f"Неизвестный код операции {name} = {'null' if value is None else value}")
    return int(value)
