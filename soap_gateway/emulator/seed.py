"""Seeded, realistic billing state (Cyrillic names, kopecks, a group tree) and bulk subscribers for benchmarks.

Groups: 1 "Все абоненты" > 2 "Физические лица" (> 4 "Частный сектор"), 3 "Юридические лица",
5 "Нагрузочное тестирование" (bulk subscribers 1001.. when seed_users > 0). Subscribers: 101..106.
Homes: Москва 1-2, Санкт-Петербург 3-4, Казань 5 (the only city with exactly one home).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from .signatures import USR_GET_COLUMNS
from .sqltypes import ip_to_signed

BULK_GROUP = 5
BULK_FIRST_ID = 1001

_GROUP_DEFAULTS: dict[str, Any] = dict(
    END_USER=0, ENABLED=1, DELETED=0, FINANCE_USER=0, SERVER=0, BALANCE=0, DEBIT=0, OSTATOK=0, CREDIT=0,
    LIMIT=0, UNLIMITED=0, ROOT_ADMIN=0, TECH_ADMIN=0, FIN_ADMIN=0, CARD_ADMIN=0, READ_ADMIN=0, FULL_ADMIN=0,
    SORM_ADMIN=0, DEF_ALLOW_MAIL=0, DEF_AUTO_ACCOUNT_INTERVAL=30, DEF_ALLOW_RECONNECT=1,
    DEF_ALLOW_INTERNET_CONNECT=1, DEF_ALLOW_VIEW_PARENT_LIMIT=0, DEF_OSTATOK=0, DEF_LIMIT=0,
    DEF_WARNING=10000, DEF_ALLOW_MAIL_INTERNET=0, USERS_COUNT=0, DEL_COUNT=0, PROMISE_PAY=0,
    CREATE_DATE="2018-09-01", PULL_ID=1, USE_PARENT_PULL=0, AUTH_TYPE=0, USE_PARENT_AUTH_TYPE=0, AD_IS=0,
)
_USER_DEFAULTS: dict[str, Any] = dict(
    _GROUP_DEFAULTS, END_USER=1, USE_PARENT_TARIF=0, USE_PARENT_PULL=0, USE_PARENT_SNATIP=1, NET_SIZE=32,
    AUTO_ACCOUNT=1, AUTO_INTERVAL=30, NEXT_AUTO_ACOUNT="2024-04-01 00:00:00", AUTO_ACCOUNT_LOCK=0,
    LIMIT_LOCK=0, ALLOW_RECONNECT=1, ALLOW_MAIL=0, ALLOW_INTERNET_CONNECT=1, LIMIT_WARNING=10000,
    USE_LIMIT_WARNING=1, LOGGED=0, ALLOW_VIEW_PARENT_LIMIT=0, REDIRECT_MAIL=0, USE_PARENT_AUTH_TYPE=1,
    ALLOW_MAIL_INTERNET=0, AD_DOMAIN_ISJOIN=0, USE_PARENT_ABONENT_PAY=0, FORCE_MAILDIR=0, ALWAYS_LOGGED=0,
    OPT82=0, NAS_IP_LOCK=0, SYNC1C=1, COMPANY=0, SEND_ACT=0, ACL=0, STB_USE_PARENT_PULL=1,
    VOIP_USE_PARENT_PULL=1, DEF_WARNING=None, DEF_AUTO_ACCOUNT_INTERVAL=None, DEF_ALLOW_RECONNECT=None,
    DEF_ALLOW_INTERNET_CONNECT=None,
)
_TARIFFS = {1: ("Домашний 100", 60000), 2: ("Домашний 300", 82075), 3: ("Бизнес 500", 500000),
            4: ("Бизнес 100", 250000)}

GROUPS: list[dict[str, Any]] = [
    dict(USER_ID=1, PARENT_ID=None, NAME="Все абоненты", LOGIN="grp_all"),
    dict(USER_ID=2, PARENT_ID=1, NAME="Физические лица", LOGIN="grp_fiz"),
    dict(USER_ID=3, PARENT_ID=1, NAME="Юридические лица", LOGIN="grp_jur", FINANCE_USER=1),
    dict(USER_ID=4, PARENT_ID=2, NAME="Частный сектор", LOGIN="grp_private"),
    dict(USER_ID=BULK_GROUP, PARENT_ID=1, NAME="Нагрузочное тестирование", LOGIN="grp_load"),
]

_IPS = ("IP", "ROUTER_IP", "NAS_IP")
SUBSCRIBERS: list[dict[str, Any]] = [
    dict(USER_ID=101, PARENT_ID=2, NAME="Иванов Иван Иванович", LOGIN="ivanov", EMAIL="ivanov@example.ru",
         CONTRACT_NUMBER="Д-2024/001", TARIF_ID=1, HOME_ID=1, SWITCH_ID=1, A_HOME_NUMBER=15,
         IP="10.0.1.15", ROUTER_IP="10.10.1.2", ROUTER_VLAN=101, ROUTER_PORT=5, NAS_IP="10.255.0.1",
         SMS="+79161234567", PSW="Kx7mQ2pz", GEN_PWD="h4Rt9wLm", MAC="00:1A:2B:3C:4D:01",
         CODE1C="00-000101", CREATE_DATE="2019-03-20", COMMENT="Постоянный клиент"),
    dict(USER_ID=102, PARENT_ID=2, NAME="Петрова Мария Сергеевна", LOGIN="petrova", EMAIL="m.petrova@mail.ru",
         CONTRACT_NUMBER="Д-2024/002", TARIF_ID=2, HOME_ID=3, SWITCH_ID=3, A_HOME_NUMBER=42,
         IP="192.168.10.20", ROUTER_IP="172.16.5.10", ROUTER_VLAN=302, ROUTER_PORT=12,
         NAS_IP="192.168.255.1", SMS="+79219876543", PSW="Pm83vNq1", GEN_PWD="z8Yx2cVb",
         MAC="00:1A:2B:3C:4D:02", CREATE_DATE="2020-11-02", COLOR="clRed", COMMENT="Должник"),
    dict(USER_ID=103, PARENT_ID=4, NAME="Сидоров Алексей Петрович", LOGIN="sidorov", EMAIL="sidorov@yandex.ru",
         CONTRACT_NUMBER="Д-2024/003", TARIF_ID=1, HOME_ID=5, SWITCH_ID=4, A_HOME_NUMBER=None,
         IP="10.0.3.7", ROUTER_IP="192.168.200.2", ROUTER_VLAN=501, ROUTER_PORT=3, NAS_IP="10.255.0.1",
         SMS="+79031112233", PSW="Sd5kLp0x", GEN_PWD="q1W2e3R4", MAC="00:1A:2B:3C:4D:03",
         CREATE_DATE="2021-05-14"),
    dict(USER_ID=104, PARENT_ID=3, NAME="ООО «Ромашка»", LOGIN="romashka", EMAIL="buh@romashka.ru",
         CONTRACT_NUMBER="Д-2024/004", TARIF_ID=3, HOME_ID=2, SWITCH_ID=2, A_HOME_NUMBER=1, FINANCE_USER=1,
         COMPANY=1, SEND_ACT=1, IP="10.0.4.1", NET_SIZE=29, ROUTER_IP="10.10.1.3", ROUTER_VLAN=400,
         ROUTER_PORT=24, NAS_IP="10.255.0.2", SMS="+74957654321", PSW="Rm2024Ok", GEN_PWD="t6Yu7Io8",
         AD_IS=1, AD_HOST=ip_to_signed("10.0.4.10"), AD_DOMAIN="romashka.local", AD_BINDDN="cn=billing,dc=romashka",
         AD_PASS="Romashka-AD-Secret1", MAC="00:1A:2B:3C:4D:04", CODE1C="00-000104",
         CREATE_DATE="2022-01-10", COMMENT="Договор на юр. лицо"),
    dict(USER_ID=105, PARENT_ID=3, NAME="ИП Кузнецов Дмитрий Олегович", LOGIN="kuznetsov",
         EMAIL="kuznetsov.ip@gmail.com", CONTRACT_NUMBER="Д-2024/005", TARIF_ID=4, HOME_ID=4, SWITCH_ID=None,
         A_HOME_NUMBER=3, FINANCE_USER=1, IP="172.16.0.5", NAS_IP="10.255.0.2", SMS="+78129990011",
         PSW="Kz11ip22", GEN_PWD="p0O9i8U7", MAC="00:1A:2B:3C:4D:05", CREATE_DATE="2023-02-01"),
    dict(USER_ID=106, PARENT_ID=2, NAME="Смирнова Елена Викторовна", LOGIN="smirnova", EMAIL="smirnova@inbox.ru",
         CONTRACT_NUMBER="Д-2023/117", TARIF_ID=2, HOME_ID=1, SWITCH_ID=1, A_HOME_NUMBER=77, DELETED=1,
         ENABLED=0, IP=None, SMS=None, PSW="Sm0ld117", GEN_PWD="a1S2d3F4", CREATE_DATE="2023-06-30",
         DISABLED_DATE="2024-01-01 00:00:00", COMMENT="Расторгнут"),
]

HOMES = [
    (1, 1, "2019-03-15 00:00:00", "125009", "Россия", "Москва", "Москва", "ул. Тверская", 12, None),
    (2, 1, "2020-06-01 00:00:00", "119071", "Россия", "Москва", "Москва", "Ленинский проспект", 5, "А"),
    (3, 2, "2020-10-20 00:00:00", "191025", "Россия", "Санкт-Петербург", "Санкт-Петербург",
     "Невский проспект", 28, None),
    (4, 2, "2022-12-05 00:00:00", "190031", "Россия", "Санкт-Петербург", "Санкт-Петербург",
     "Садовая улица", 10, "Б"),
    (5, 3, "2021-04-01 00:00:00", "420111", "Россия", "Казань", "Республика Татарстан", "ул. Баумана", 7, None),
]
SWITCHES = [
    (1, "sw-msk-tverskaya12", "10.10.1.2", "D-Link DES-3200-28", "snmpTv12ro", "Ssh-Tv12-secret", "TelTv12", 1, 28),
    (2, "sw-msk-leninsky5a", "10.10.1.3", "Eltex MES2324", "snmpLn5ro", "Ssh-Ln5a-secret", "TelLn5a", 2, 24),
    (3, "sw-spb-nevsky28", "172.16.5.10", "SNR-S2985G-24T", "snmpNv28ro", "Ssh-Nv28-secret", "TelNv28", 3, 24),
    (4, "sw-kzn-baumana7", "192.168.200.2", "Cisco Catalyst 2960-24TT", "snmpBm7ro", "Ssh-Bm7-secret",
     "TelBm7", 5, 24),
]
USLUGI = [(1, "Интернет", 0), (2, "IP-телевидение", 19900), (3, "IP-телефония", 15000),
          (4, "Аренда роутера", 10000)]
USR_USLUGI = [
    (1, 101, 1, 1, "2019-03-20 12:00:00", "2024-04-01 00:00:00", 1, None, None, None),
    (2, 101, 3, 1, "2021-09-01 12:00:00", "2024-04-01 00:00:00", 1, "Домашний телефон", None, "74951234567"),
    (3, 102, 2, 1, "2022-02-14 18:30:00", "2024-04-01 00:00:00", 1, None, 5, None),
    (4, 104, 4, 1, "2022-01-10 10:00:00", "2024-04-01 00:00:00", 2, "Роутер Keenetic", 17, None),
]
# (user, date, kopecks, descr, number, op_type, finance): op_type 2 = приход (income), 1 = списание (charge).
FIN_OPERS = [
    (101, "2024-01-10 10:15:00", 150000, "Оплата через кассу", "К-0001", 2, 1),
    (101, "2024-02-01 00:00:00", -60000, "Абонентская плата за февраль 2024", None, 1, 0),
    (101, "2024-03-05 12:00:00", 35050, "Оплата через Сбербанк Онлайн", "SB-77123", 2, 1),
    (102, "2024-01-15 09:00:00", 50000, "Оплата через кассу", "К-0002", 2, 1),
    (102, "2024-02-01 00:00:00", -82075, "Абонентская плата за февраль 2024", None, 1, 0),
    (103, "2024-02-10 16:45:00", 60000, "Оплата картой", "C-4411", 2, 1),
    (103, "2024-03-01 00:00:00", -60000, "Абонентская плата за март 2024", None, 1, 0),
    (104, "2024-01-20 11:00:00", 2000000, "Оплата по счёту №15 от 18.01.2024", "ПП-152", 2, 1),
    (104, "2024-02-01 00:00:00", -500000, "Абонентская плата за февраль 2024", None, 1, 0),
    (105, "2024-02-15 14:20:00", 300000, "Безналичный платёж", "ПП-77", 2, 1),
    (105, "2024-03-01 00:00:00", -250000, "Абонентская плата за март 2024", None, 1, 0),
    (106, "2023-12-01 08:00:00", 4510, "Оплата через кассу", "К-0999", 2, 1),
    (3, "2024-01-31 18:00:00", 10000, "Корректировка баланса группы", "КОР-1", 2, 0),
]

_USER_COLUMNS = [name for name, _ in USR_GET_COLUMNS] + ["COMMENT", "COLOR"]


def _insert(conn: sqlite3.Connection, table: str, rows: list[tuple[Any, ...]]) -> None:
    marks = ",".join("?" * len(rows[0]))
    conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


def _user_row(base: dict[str, Any], values: dict[str, Any]) -> tuple[Any, ...]:
    merged = dict(base, **values)
    for name in _IPS:
        if isinstance(merged.get(name), str):
            merged[name] = ip_to_signed(merged[name])
    if merged.get("TARIF_ID") in _TARIFFS:
        merged["TARIF_TXT"], merged["ABONENT_PAY"] = _TARIFFS[merged["TARIF_ID"]]
    if merged.get("SWITCH_ID"):
        merged["SWITCH_NAME"] = SWITCHES[merged["SWITCH_ID"] - 1][1]
    return tuple(merged.get(name) for name in _USER_COLUMNS)


def seed_base(conn: sqlite3.Connection) -> None:
    """The small, documented data set (ids above). Balances equal the sum of each user's operations."""
    users = [_user_row(_GROUP_DEFAULTS, g) for g in GROUPS] + [_user_row(_USER_DEFAULTS, s) for s in SUBSCRIBERS]
    names = ",".join(f'"{c}"' for c in _USER_COLUMNS)  # quoted: LIMIT is an SQL keyword
    conn.executemany(f"INSERT INTO users ({names}) VALUES ({','.join('?' * len(_USER_COLUMNS))})", users)
    _insert(conn, "homes", HOMES)
    _insert(conn, "switches", [(i, n, ip_to_signed(ip), *rest) for i, n, ip, *rest in SWITCHES])
    _insert(conn, "uslugi", USLUGI)
    _insert(conn, "usr_uslugi", USR_USLUGI)
    _insert(conn, "fin_opers", [(i, *op, "Administrator") for i, op in enumerate(FIN_OPERS, 1)])
    _recount(conn)


def _recount(conn: sqlite3.Connection) -> None:
    conn.execute("""UPDATE users SET BALANCE = (SELECT COALESCE(SUM(SUMMA), 0) FROM fin_opers o
                    WHERE o.USER_ID = users.USER_ID)""")
    conn.execute("UPDATE users SET DEBIT = BALANCE, BALANCE_BUH = BALANCE")
    conn.execute("""UPDATE users SET USERS_COUNT = (SELECT COUNT(*) FROM users c WHERE c.PARENT_ID = users.USER_ID)
                    WHERE END_USER = 0""")


def seed_bulk(conn: sqlite3.Connection, users: int, ops: int) -> None:
    """``users`` subscribers under group 5, ids 1001.., each with ``ops`` incomes (for 100k-row benchmarks)."""
    if users <= 0:
        return
    start = datetime(2025, 1, 1, 9, 0, 0)

    def amounts(i: int) -> Iterator[int]:
        return ((10000 + (i * 37 + j * 101) % 90000) for j in range(ops))  # 100.00 .. 999.99

    first_op = conn.execute("SELECT COALESCE(MAX(ID), 0) + 1 FROM fin_opers").fetchone()[0]
    cols = ("USER_ID", "PARENT_ID", "TARIF_ID", "TARIF_TXT", "ABONENT_PAY", "LOGIN", "NAME", "IP",
            "CONTRACT_NUMBER", "BALANCE", "DEBIT", "BALANCE_BUH", "OSTATOK", "CREDIT", "ENABLED", "DELETED",
            "END_USER", "FINANCE_USER", "SERVER", "PROMISE_PAY", "PSW", "GEN_PWD", "CREATE_DATE")
    conn.executemany(
        f"INSERT INTO users ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
        ((BULK_FIRST_ID + i, BULK_GROUP, 1, "Домашний 100", 60000, f"load{i + 1:06d}",
          f"Нагрузочный абонент {i + 1:06d}", ip_to_signed(f"10.{100 + (i >> 16) % 100}.{(i >> 8) & 255}.{i & 255}"),
          f"Н-2025/{i + 1:06d}", total, total, total, 0, 0, 1, 0, 1, 0, 0, 0, f"ld{i:06d}", f"gp{i:06d}",
          "2025-01-01") for i in range(users) for total in (sum(amounts(i)),)),
    )
    conn.executemany(
        "INSERT INTO fin_opers VALUES (?,?,?,?,?,?,?,?,?)",
        ((first_op + i * ops + j, BULK_FIRST_ID + i,
          (start + timedelta(days=j, seconds=i % 86400)).strftime("%Y-%m-%d %H:%M:%S"), amount,
          "Нагрузочный платёж", f"L{i:06d}{j:03d}"[:10], 2, 1, "Administrator")
         for i in range(users) for j, amount in enumerate(amounts(i))),
    )
    conn.execute("UPDATE users SET USERS_COUNT = USERS_COUNT + ? WHERE USER_ID = ?", (users, BULK_GROUP))
