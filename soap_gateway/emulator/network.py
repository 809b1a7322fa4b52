"""Handlers of the network directory procedures: CLN_HOME_EDIT/LIST, CLN_SWITCH_EDIT/LIST."""
from __future__ import annotations

import sqlite3
from typing import Any

from .errors import ADD, DELETE, UPDATE, BillingError, op_code, require
from .model import Context, Result
from .signatures import HOME_COLUMNS, SWITCH_COLUMNS
from .store import gen_id

_HOME_FIELDS = [name for name, _ in HOME_COLUMNS[1:]]
_SWITCH_FIELDS = [name for name, _ in SWITCH_COLUMNS[1:]]


def _exists(db: sqlite3.Connection, table: str, row_id: Any) -> bool:
    return row_id is not None and db.execute(f"SELECT 1 FROM {table} WHERE ID = ?", (row_id,)).fetchone() is not None


def home_missing(home_id: Any) -> BillingError:
    return BillingError(f"Дом {'null' if home_id is None else home_id} не найден")


def _fk_violation(constraint: str, table: str) -> BillingError:
    return BillingError(f'violation of FOREIGN KEY constraint "{constraint}" on table "{table}"; '
                        "Foreign key references are present for the record")


def home_edit(db: sqlite3.Connection, args: dict[str, Any], ctx: Context) -> Result:
    op = op_code(args, "P_OP")
    values = [args[name] for name in _HOME_FIELDS]
    sets = ", ".join(f'"{name}" = ?' for name in _HOME_FIELDS)
    if op == ADD:  # the ID argument is ignored on add: the id comes from the generator, as in the billing
        require("HOMES", args, "CITY", "STREET")
        new_id = gen_id(db, "homes")
        db.execute(f"INSERT INTO homes VALUES ({','.join('?' * len(HOME_COLUMNS))})", (new_id, *values))
        return Result.new_id(new_id)
    if not _exists(db, "homes", args["ID"]):
        raise home_missing(args["ID"])
    if op == UPDATE:  # a full replace, like the procedure's UPDATE ... SET every column = its parameter
        require("HOMES", args, "CITY", "STREET")
        db.execute(f"UPDATE homes SET {sets} WHERE ID = ?", (*values, args["ID"]))
        return Result.empty()
    if db.execute("SELECT 1 FROM switches WHERE HOME_ID = ?", (args["ID"],)).fetchone():
        raise _fk_violation("FK_SWITCHES_HOME", "SWITCHES")
    if db.execute("SELECT 1 FROM users WHERE HOME_ID = ?", (args["ID"],)).fetchone():
        raise _fk_violation("FK_USERS_HOME", "USERS")
    db.execute("DELETE FROM homes WHERE ID = ?", (args["ID"],))
    return Result.empty()


def home_list(db: sqlite3.Connection, args: dict[str, Any], ctx: Context) -> Result:
    cursor = db.execute("SELECT * FROM homes WHERE ? IS NULL OR ID = ? ORDER BY ID", (args["P_ID"], args["P_ID"]))
    return Result(HOME_COLUMNS, cursor)


def switch_edit(db: sqlite3.Connection, args: dict[str, Any], ctx: Context) -> Result:
    op = op_code(args, "P_OP")
    switch_id = args["ID"]
    if op != ADD and not _exists(db, "switches", switch_id):
        raise BillingError(f"Коммутатор {'null' if switch_id is None else switch_id} не найден")
    if op in (ADD, UPDATE):
        require("SWITCHES", args, "NAME")
        if args["HOME_ID"] is not None and not _exists(db, "homes", args["HOME_ID"]):
            raise home_missing(args["HOME_ID"])
    values = [args[name] for name in _SWITCH_FIELDS]
    result = Result.empty()
    if op == ADD:
        switch_id = gen_id(db, "switches")
        db.execute(f"INSERT INTO switches VALUES ({','.join('?' * len(SWITCH_COLUMNS))})", (switch_id, *values))
        result = Result.new_id(switch_id)
    elif op == UPDATE:
        sets = ", ".join(f'"{name}" = ?' for name in _SWITCH_FIELDS)
        db.execute(f"UPDATE switches SET {sets} WHERE ID = ?", (*values, switch_id))
        db.execute("UPDATE users SET SWITCH_NAME = ? WHERE SWITCH_ID = ?", (args["NAME"], switch_id))
    else:
        db.execute("UPDATE users SET SWITCH_ID = NULL, SWITCH_NAME = NULL WHERE SWITCH_ID = ?", (switch_id,))
        db.execute("DELETE FROM switches WHERE ID = ?", (switch_id,))
    if op != DELETE and args["UPDATE_HOME_FLAG"] == 1 and args["HOME_ID"] is not None:
        # "Ставим всем пользователям дома этот свич": every subscriber of the home now hangs on this switch.
        db.execute("UPDATE users SET SWITCH_ID = ?, SWITCH_NAME = ? WHERE HOME_ID = ?",
                   (switch_id, args["NAME"], args["HOME_ID"]))
    ctx.events.append("dhcpd_restarts")  # the vendor page: dhcpd restarts after every switch edit
    return result


def switch_list(db: sqlite3.Connection, args: dict[str, Any], ctx: Context) -> Result:
    cursor = db.execute(
        "SELECT * FROM switches WHERE (? IS NULL OR ID = ?) AND (? IS NULL OR HOME_ID = ?) ORDER BY ID",
        (args["P_ID"], args["P_ID"], args["P_HOME_ID"], args["P_HOME_ID"]),
    )
    return Result(SWITCH_COLUMNS, cursor)
