"""Handlers of money procedures: CLN_FIN_OPER_ADD (a payment, exact to the kopeck) and CLN_FIN_OPER (history)."""
from __future__ import annotations

import sqlite3
from typing import Any

from .errors import BillingError, required, user_not_found
from .model import Context, Result
from .signatures import FIN_OPER_COLUMNS
from .sqltypes import to_kopecks
from .store import gen_id

INCOME = 2  # "2 - тип операции(приход)": the only type the API posts

_TREE = """{name}(id) AS (SELECT USER_ID FROM users WHERE USER_ID = ?
  UNION ALL SELECT u.USER_ID FROM users u JOIN {name} t ON u.PARENT_ID = t.id)"""
_LIST_SQL = """SELECT o.ID, o.USER_ID, u.PARENT_ID, o.OP_DATE, o.SUMMA, o.DESCR, o.NUMBER, o.OP_TYPE, o.FINANCE
FROM tree JOIN fin_opers o ON o.USER_ID = tree.id JOIN users u ON u.USER_ID = o.USER_ID"""


def fin_oper_add(db: sqlite3.Connection, args: dict[str, Any], ctx: Context) -> Result:
    user_id = required(args, "USER_ID")
    amount = to_kopecks(required(args, "SUMMA"))  # the sent decimal text, never a float
    op_type = required(args, "OP_TYPE")
    if op_type != INCOME:
        raise BillingError(f"Недопустимый тип операции {op_type}: через API вносится только приход (2)")
    if db.execute("SELECT 1 FROM users WHERE USER_ID = ?", (user_id,)).fetchone() is None:
        raise user_not_found(user_id)
    if amount <= 0:
        raise BillingError("Сумма операции должна быть больше нуля")
    op_date = args["OP_DATE"] or ctx.now.strftime("%Y-%m-%d %H:%M:%S")
    op_id = gen_id(db, "fin_opers")
    db.execute("INSERT INTO fin_opers VALUES (?,?,?,?,?,?,?,?,?)",
               (op_id, user_id, op_date, amount, args["DESCR"], args["NUMBER"], INCOME, 1, ctx.login))
    db.execute("""UPDATE users SET BALANCE = COALESCE(BALANCE, 0) + ?, DEBIT = COALESCE(DEBIT, 0) + ?,
                  BALANCE_BUH = COALESCE(BALANCE_BUH, 0) + ? WHERE USER_ID = ?""",
               (amount, amount, amount, user_id))
    return Result.new_id(op_id)


def fin_oper_list(db: sqlite3.Connection, args: dict[str, Any], ctx: Context) -> Result:
    """Operations of a subscriber, or of a group's whole subtree; DATEL/DATEH are inclusive bounds."""
    root = args["USER_ID"] if args["USER_ID"] is not None else args["PARENT_ID_IN"]
    if root is None:
        required(args, "USER_ID")
    if db.execute("SELECT 1 FROM users WHERE USER_ID = ?", (root,)).fetchone() is None:
        raise user_not_found(root)
    trees = [_TREE.format(name="tree")]
    params: list[Any] = [root]
    conds: list[str] = []
    if args["USER_ID"] is not None and args["PARENT_ID_IN"] is not None:
        trees.append(_TREE.format(name="within"))  # both given: USER_ID's subtree, limited to the group's
        params.append(args["PARENT_ID_IN"])
        conds.append("o.USER_ID IN (SELECT id FROM within)")
    for sql, value in (("o.OP_DATE >= ?", args["DATEL"]), ("o.OP_DATE <= ?", args["DATEH"]),
                       ("o.FINANCE = ?", args["FINANCE_IN"]), ("o.OP_TYPE = ?", args["OP_TYPE_IN"]),
                       ("o.ID = ?", args["ID"]), ("u.END_USER = ?", args["END_USER"])):
        if value is not None:
            conds.append(sql)
            params.append(value)
    if args["FIN_USER"] == 1:
        conds.append("u.FINANCE_USER = 1")
    where = (" WHERE " + " AND ".join(conds)) if conds else ""
    sql = "WITH RECURSIVE " + ", ".join(trees) + " " + _LIST_SQL + where + " ORDER BY o.OP_DATE, o.ID"
    return Result(FIN_OPER_COLUMNS, db.execute(sql, params))
