"""Handlers of subscriber procedures: CLN_USR_GET, CLN_USR_FIND_2, WEB_USER_PROMISE_PAY, CLN_USR_USLUGA_EDIT."""
from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

from .errors import ADD, DELETE, UPDATE, BillingError, op_code, require, required, user_not_found
from .model import Context, Result
from .signatures import FIND_COLUMNS, USR_GET_COLUMNS
from .sqltypes import format_kopecks, to_kopecks
from .store import gen_id

# The emulator's own rules for promised payments (the vendor page states none): 5 days, one at a time,
# subscribers only, never groups.
PROMISE_DAYS = 5
_GET_SQL = "SELECT " + ", ".join(f'"{name}"' for name, _ in USR_GET_COLUMNS) + " FROM users WHERE USER_ID = ?"
_FIND_SQL = """SELECT u.USER_ID, p.NAME, u.NAME, u.IP, u.BALANCE, u.DELETED, u.END_USER, u.SERVER, u.PARENT_ID,
  u.COMMENT, p.PARENT_ID, u.USER_ID, u.USERS_COUNT, u.LOGIN, u.COLOR
FROM users u LEFT JOIN users p ON p.USER_ID = u.PARENT_ID"""
_ADMIN_FLAGS = ("ROOT_ADMIN", "TECH_ADMIN", "FIN_ADMIN", "CARD_ADMIN", "READ_ADMIN", "FULL_ADMIN", "SORM_ADMIN")


def usr_get(db: sqlite3.Connection, args: dict[str, Any], ctx: Context) -> Result:
    row = db.execute(_GET_SQL, (required(args, "SELECT_ID"),)).fetchone()
    if row is None:
        raise user_not_found(args["SELECT_ID"])
    return Result(USR_GET_COLUMNS, [row], single=True)


def usr_find(db: sqlite3.Connection, args: dict[str, Any], ctx: Context) -> Result:
    """NULL = no filter. Text filters are case-insensitive substrings (CONTAINING); the rest are equalities.

    Ignored, as on the vendor page or for want of state: PARENT_ID_IN ("не используется"), COUNT_USER_IN,
    ALL_IN, ATTRIBUTE.
    """
    conds: list[str] = []
    params: list[Any] = []

    def add(sql: str, value: Any) -> None:
        if value is not None:
            conds.append(sql)
            params.append(value)

    contains = "instr(fold({}), fold(?)) > 0"
    for column, name in (("u.NAME", "NAME_IN"), ("u.LOGIN", "LOGIN_IN"), ("u.EMAIL", "EMAIL_IN"),
                         ("u.CONTRACT_NUMBER", "CONTRACT_NUMBER_IN"), ("u.SMS", "SMS_IN")):
        add(contains.format(column), args[name])
    for column, name in (("u.USER_ID", "ID_IN"), ("u.IP", "IP_IN"), ("u.FINANCE_USER", "FINANCE_IN"),
                         ("u.SERVER", "SERVER_IN"), ("u.END_USER", "END_USER_IN"), ("u.DELETED", "DELETED_IN"),
                         ("u.TARIF_ID", "TARIFF_ID"), ("u.ROUTER_IP", "ROUTER_IP"), ("u.ROUTER_VLAN", "ROUTER_VLAN"),
                         ("u.ROUTER_PORT", "ROUTER_PORT"), ("u.NAS_IP", "NAS_IP")):
        add(f"{column} = ?", args.get(name))  # NAS_IP is absent on legacy installations
    admin = " + ".join(f"COALESCE(u.{flag}, 0)" for flag in _ADMIN_FLAGS)
    add(f"(({admin}) > 0) = ?", None if args["ADMIN_IN"] is None else int(args["ADMIN_IN"] != 0))
    if args["BALANCEL_IN"] is not None:
        add("u.BALANCE >= ?", to_kopecks(args["BALANCEL_IN"]))
    if args["BALANCEH_IN"] is not None:
        add("u.BALANCE <= ?", to_kopecks(args["BALANCEH_IN"]))
    add("EXISTS (SELECT 1 FROM usr_uslugi s WHERE s.USER_ID = u.USER_ID AND "
        + contains.format("s.SIP_ID") + ")", args["SIP_ID"])
    where = (" WHERE " + " AND ".join(conds)) if conds else ""
    return Result(FIND_COLUMNS, db.execute(_FIND_SQL + where + " ORDER BY u.USER_ID", params))


def promise_pay(db: sqlite3.Connection, args: dict[str, Any], ctx: Context) -> Result:
    user_id = required(args, "USER_ID")
    amount = to_kopecks(required(args, "PROMISE_PAY"))
    row = db.execute("SELECT END_USER, DELETED, PROMISE_PAY, PROMISE_DATE_END FROM users WHERE USER_ID = ?",
                     (user_id,)).fetchone()
    if row is None:
        raise user_not_found(user_id)
    end_user, deleted, current, current_end = row
    if not end_user:
        raise BillingError("Обещанный платеж доступен только абонентам, а не группам")
    if deleted:
        raise BillingError(f"Абонент {user_id} удален")
    if amount <= 0:
        raise BillingError("Сумма обещанного платежа должна быть больше нуля")
    now = ctx.now.strftime("%Y-%m-%d %H:%M:%S")
    if current and current_end and current_end > now:
        raise BillingError(f"Обещанный платеж уже взят и действует до {current_end}")
    end = (ctx.now + timedelta(days=PROMISE_DAYS)).strftime("%Y-%m-%d %H:%M:%S")
    db.execute("UPDATE users SET PROMISE_PAY = ?, PROMISE_DATE_END = ? WHERE USER_ID = ?", (amount, end, user_id))
    db.execute("INSERT INTO audit (TS, LOGIN, ACTION, HOST, DETAILS) VALUES (?, ?, ?, ?, ?)",
               (now, ctx.login, "WEB_USER_PROMISE_PAY", args["HOST"],
                f"USER_ID={user_id} PROMISE_PAY={format_kopecks(amount)}"))
    return Result.empty()


def usluga_edit(db: sqlite3.Connection, args: dict[str, Any], ctx: Context) -> Result:
    op = op_code(args, "UK")
    row_id = args["ID"]
    if op != ADD and (row_id is None or db.execute("SELECT 1 FROM usr_uslugi WHERE ID = ?", (row_id,)).fetchone()
                      is None):
        raise BillingError(f"Услуга абонента {'null' if row_id is None else row_id} не найдена")
    if op == DELETE:
        db.execute("DELETE FROM usr_uslugi WHERE ID = ?", (row_id,))
        return Result.empty()
    require("USR_USLUGI", args, "USER_ID", "USLUGA_ID")
    user = db.execute("SELECT END_USER FROM users WHERE USER_ID = ?", (args["USER_ID"],)).fetchone()
    if user is None:
        raise user_not_found(args["USER_ID"])
    if not user[0]:
        raise BillingError(f"Услуги подключаются только абонентам: {args['USER_ID']} - группа")
    if db.execute("SELECT 1 FROM uslugi WHERE ID = ?", (args["USLUGA_ID"],)).fetchone() is None:
        raise BillingError(f"Услуга {args['USLUGA_ID']} не найдена")
    created = args["CREATE_DATE"]
    if created is None and op == ADD:  # "берется текущая по умолчанию"
        created = ctx.now.strftime("%Y-%m-%d %H:%M:%S")
    values = (args["USER_ID"], args["USLUGA_ID"], 1 if args["ENABLED"] is None else args["ENABLED"], created,
              args["NEXT_DATE"], 1 if args["COUNTT"] is None else args["COUNTT"], args["COMMENT"],
              args["EQUIPMENT_ID"], args["SIP_ID"])
    if op == ADD:
        row_id = gen_id(db, "usr_uslugi")
        db.execute("INSERT INTO usr_uslugi VALUES (?,?,?,?,?,?,?,?,?,?)", (row_id, *values))
        return Result.new_id(row_id)
    assert op == UPDATE
    db.execute("""UPDATE usr_uslugi SET USER_ID = ?, USLUGA_ID = ?, ENABLED = ?,
                  CREATE_DATE = COALESCE(?, CREATE_DATE), NEXT_DATE = ?, COUNTT = ?, COMMENT = ?,
                  EQUIPMENT_ID = ?, SIP_ID = ? WHERE ID = ?""", (*values, row_id))
    return Result.empty()
