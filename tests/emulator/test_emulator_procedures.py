"""Semantics of every emulated procedure over the seeded SQLite state."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from soap_gateway.emulator.signatures import USR_GET_COLUMNS
from soap_gateway.emulator.sqltypes import ip_to_signed

HOME = ("Россия", "Екатеринбург", "Свердловская область", "ул. Малышева")


def _find(billing: Any, **filters: Any) -> list[str]:
    """CLN_USR_FIND_2 by named filters (all others NULL) -> the ids found."""
    names = ["NAME_IN", "LOGIN_IN", "ID_IN", "EMAIL_IN", "IP_IN", "FINANCE_IN", "SERVER_IN", "ADMIN_IN",
             "BALANCEL_IN", "BALANCEH_IN", "PARENT_ID_IN", "END_USER_IN", "COUNT_USER_IN", "ALL_IN", "DELETED_IN",
             "ATTRIBUTE", "CONTRACT_NUMBER_IN", "TARIFF_ID", "ROUTER_IP", "ROUTER_VLAN", "ROUTER_PORT", "SIP_ID",
             "SMS_IN", "NAS_IP"]
    assert set(filters) <= set(names)
    return [row["id"] for row in billing.call("CLN_USR_FIND_2", *(filters.get(n) for n in names))]


# -- homes -----------------------------------------------------------------------------------------------
def test_home_add_update_delete(emu: Any, emu_billing: Any) -> None:
    [added] = emu_billing.call("CLN_HOME_EDIT", 1, None, 4, "2024-05-01 10:00:00", "620014", *HOME, 44, "В")
    home_id = int(added["id"] or 0)
    assert home_id == 6
    [home] = emu_billing.call("CLN_HOME_LIST", home_id)
    assert home == {"id": "6", "pull_id": "4", "connect_date": "2024-05-01 10:00:00", "zip_code": "620014",
                    "country": "Россия", "city": "Екатеринбург", "region": "Свердловская область",
                    "street": "ул. Малышева", "s_number": "44", "s_liter": "В"}
    assert emu_billing.call("CLN_HOME_EDIT", 0, home_id, 4, None, None, "Россия", "Екатеринбург", None,
                            "проспект Ленина", 1) == []  # an update replies an empty <result/>
    [home] = emu_billing.call("CLN_HOME_LIST", home_id)
    assert (home["street"], home["s_number"], home["zip_code"], home["s_liter"]) == ("проспект Ленина", "1", None,
                                                                                     None)
    assert emu_billing.call("CLN_HOME_EDIT", 2, home_id) == []  # the vendor page's delete: only P_OP and ID
    assert emu_billing.call("CLN_HOME_LIST", home_id) == []
    assert emu_billing.error("CLN_HOME_EDIT", 2, home_id) == f"Дом {home_id} не найден"
    [again] = emu_billing.call("CLN_HOME_EDIT", 1, None, 4, None, None, *HOME, 45)
    assert again["id"] == "7"  # a generator: ids are never reused
    assert emu.stats()["commits"] == 4


def test_home_errors_change_nothing(emu: Any, emu_billing: Any) -> None:
    assert "FK_SWITCHES_HOME" in emu_billing.error("CLN_HOME_EDIT", 2, 1)
    assert "FK_USERS_HOME" in emu_billing.error("CLN_HOME_EDIT", 2, 4)  # home 4 has a subscriber, no switch
    assert emu_billing.error("CLN_HOME_EDIT", 1, None, 1, None, None, "Россия", None, None, "ул. Арбат", 1) \
        == 'validation error for column "HOMES"."CITY", value "*** null ***"'
    assert emu_billing.error("CLN_HOME_EDIT", 7, 1) == "Неизвестный код операции P_OP = 7"
    assert emu_billing.error("CLN_HOME_EDIT", 0, 99, 1, None, None, *HOME, 1) == "Дом 99 не найден"
    assert len(emu_billing.call("CLN_HOME_LIST")) == 5 and emu.stats()["commits"] == 0


def test_kazan_is_the_only_city_with_exactly_one_home(emu_billing: Any) -> None:
    cities = [row["city"] for row in emu_billing.call("CLN_HOME_LIST")]
    assert sorted(set(cities)) == ["Казань", "Москва", "Санкт-Петербург"]
    assert [c for c in set(cities) if cities.count(c) == 1] == ["Казань"]


# -- switches --------------------------------------------------------------------------------------------
def test_switch_add_with_update_home_flag_update_and_delete(emu: Any, emu_billing: Any) -> None:
    ip = ip_to_signed("192.168.44.2")
    [added] = emu_billing.call("CLN_SWITCH_EDIT", 1, None, "sw-spb-sadovaya10", ip, "Eltex MES2308", "snmpSd",
                               "sshSd", "telSd", 4, 8, 1)
    switch_id = int(added["id"] or 0)
    assert switch_id == 5 and emu.stats()["dhcpd_restarts"] == 1
    user = emu.user(105)  # the only subscriber of home 4 now hangs on the new switch
    assert (user["SWITCH_ID"], user["SWITCH_NAME"]) == (switch_id, "sw-spb-sadovaya10")
    [listed] = emu_billing.call("CLN_SWITCH_LIST", None, 4)
    assert listed == {"id": "5", "name": "sw-spb-sadovaya10", "ip": str(ip), "switch_type": "Eltex MES2308",
                      "psw_snmp": "snmpSd", "psw_ssh": "sshSd", "psw_telnet": "telSd", "home_id": "4",
                      "ports_cnt": "8"}
    emu_billing.call("CLN_SWITCH_EDIT", 0, switch_id, "sw-spb-sadovaya10-b", ip, "Eltex MES2308", None, None,
                     None, 4, 8, 0)
    assert emu_billing.call("CLN_SWITCH_LIST", switch_id)[0]["psw_ssh"] is None
    assert emu.user(105)["SWITCH_NAME"] == "sw-spb-sadovaya10-b"
    emu_billing.call("CLN_SWITCH_EDIT", 2, switch_id)
    assert emu_billing.call("CLN_SWITCH_LIST", switch_id) == []
    assert emu.user(105)["SWITCH_ID"] is None
    assert emu.stats()["dhcpd_restarts"] == 3 and emu.stats()["commits"] == 3


def test_switch_errors(emu: Any, emu_billing: Any) -> None:
    assert emu_billing.error("CLN_SWITCH_EDIT", 1, None, "sw-x", 1, "t", None, None, None, 77, 8, 0) \
        == "Дом 77 не найден"
    assert emu_billing.error("CLN_SWITCH_EDIT", 2, 42) == "Коммутатор 42 не найден"
    assert emu_billing.error("CLN_SWITCH_EDIT", 0, 1) \
        == 'validation error for column "SWITCHES"."NAME", value "*** null ***"'
    assert emu.stats()["dhcpd_restarts"] == 0
    assert [row["home_id"] for row in emu_billing.call("CLN_SWITCH_LIST")] == ["1", "2", "3", "5"]


# -- services --------------------------------------------------------------------------------------------
def test_usluga_add_update_delete(emu: Any, emu_billing: Any) -> None:
    [added] = emu_billing.call("CLN_USR_USLUGA_EDIT", None, 103, 2, 1, None, "2024-06-01 00:00:00", 1, 1,
                               "Приставка в аренду", 9, None)
    service_id = int(added["id"] or 0)
    [service] = [s for s in emu.services(103) if s["ID"] == service_id]
    assert (service["USLUGA_ID"], service["COMMENT"], service["EQUIPMENT_ID"]) == (2, "Приставка в аренду", 9)
    assert service["CREATE_DATE"]  # "берется текущая по умолчанию"
    emu_billing.call("CLN_USR_USLUGA_EDIT", service_id, 103, 3, 0, None, None, 2, 0, "Телефон", None, "78432001122")
    [service] = emu.services(103)
    assert (service["USLUGA_ID"], service["ENABLED"], service["COUNTT"], service["SIP_ID"]) == (3, 0, 2,
                                                                                              "78432001122")
    emu_billing.call("CLN_USR_USLUGA_EDIT", service_id, None, None, None, None, None, None, 2)
    assert emu.services(103) == []
    assert emu_billing.error("CLN_USR_USLUGA_EDIT", service_id, None, None, None, None, None, None, 2) \
        == f"Услуга абонента {service_id} не найдена"


def test_usluga_errors(emu: Any, emu_billing: Any) -> None:
    assert emu_billing.error("CLN_USR_USLUGA_EDIT", None, 101, 99, 1, None, None, 1, 1) == "Услуга 99 не найдена"
    assert emu_billing.error("CLN_USR_USLUGA_EDIT", None, 999, 1, 1, None, None, 1, 1) == "Абонент 999 не найден"
    assert "группа" in emu_billing.error("CLN_USR_USLUGA_EDIT", None, 2, 1, 1, None, None, 1, 1)
    assert emu_billing.error("CLN_USR_USLUGA_EDIT", None, 101, 1, 1, None, None, 1, 5) \
        == "Неизвестный код операции UK = 5"
    assert len(emu.services(101)) == 2


# -- CLN_USR_GET -----------------------------------------------------------------------------------------
def test_usr_get_returns_every_vendor_column_in_order(emu_billing: Any) -> None:
    root = emu_billing.call_root("CLN_USR_GET", 104)
    assert [child.tag for child in root] == [name.lower() for name, _ in USR_GET_COLUMNS]
    assert len(root) == 114
    user = {child.tag: child.text for child in root}
    assert (user["name"], user["contract_number"], user["tarif_txt"]) == ("ООО «Ромашка»", "Д-2024/004",
                                                                          "Бизнес 500")
    assert (user["balance"], user["abonent_pay"], user["limit_warning"]) == ("15000.00", "5000.00", "100.00")
    assert (user["psw"], user["gen_pwd"], user["ad_pass"]) == ("Rm2024Ok", "t6Yu7Io8", "Romashka-AD-Secret1")
    assert user["create_date"] == "2022-01-10" and user["kill_time"] is None
    assert user["ip"] == str(ip_to_signed("10.0.4.1")) and user["switch_name"] == "sw-msk-leninsky5a"


def test_usr_get_group_and_unknown_ids(emu_billing: Any) -> None:
    group = emu_billing.call("CLN_USR_GET", 1)[0]
    assert (group["name"], group["end_user"], group["users_count"]) == ("Все абоненты", "0", "3")
    assert emu_billing.error("CLN_USR_GET", 999) == "Абонент 999 не найден"


# -- WEB_USER_PROMISE_PAY --------------------------------------------------------------------------------
def test_promise_pay_once_while_active(emu: Any, emu_billing: Any) -> None:
    before = emu.balance(102)
    assert emu_billing.call("WEB_USER_PROMISE_PAY", 102, "300.00", "10.1.1.5") == []
    user = emu.user(102)
    assert user["PROMISE_PAY"] == Decimal("300.00") and emu.balance(102) == before
    ends = datetime.strptime(user["PROMISE_DATE_END"], "%Y-%m-%d %H:%M:%S")
    assert abs(ends - (datetime.now() + timedelta(days=5))) < timedelta(minutes=1)
    assert "уже взят" in emu_billing.error("WEB_USER_PROMISE_PAY", 102, "100", "10.1.1.5")
    [audit] = emu.query("SELECT * FROM audit")
    assert (audit["LOGIN"], audit["HOST"], audit["ACTION"]) == ("Administrator", "10.1.1.5", "WEB_USER_PROMISE_PAY")
    assert "группам" in emu_billing.error("WEB_USER_PROMISE_PAY", 2, "100", "h")
    assert emu_billing.error("WEB_USER_PROMISE_PAY", 101, "0", "h") \
        == "Сумма обещанного платежа должна быть больше нуля"
    assert emu_billing.error("WEB_USER_PROMISE_PAY", 101, "10", "1234567890123456").startswith(
        "arithmetic exception, numeric overflow, or string truncation")  # HOST is VARCHAR(15)


# -- CLN_USR_FIND_2 --------------------------------------------------------------------------------------
def test_find_filters(emu_billing: Any) -> None:
    assert _find(emu_billing) == ["1", "2", "3", "4", "5", "101", "102", "103", "104", "105", "106"]
    assert _find(emu_billing, NAME_IN="ИВАН") == ["101"]  # case-insensitive Cyrillic substring
    assert _find(emu_billing, NAME_IN="ВИЧ") == ["101", "103", "105"]
    assert _find(emu_billing, NAME_IN="ов", END_USER_IN=1, DELETED_IN=0) == ["101", "102", "103", "105"]
    assert _find(emu_billing, LOGIN_IN="romashka") == ["104"]
    assert _find(emu_billing, ID_IN=105) == ["105"]
    assert _find(emu_billing, EMAIL_IN="@mail.ru") == ["102"]
    assert _find(emu_billing, IP_IN=ip_to_signed("192.168.10.20")) == ["102"]
    assert _find(emu_billing, CONTRACT_NUMBER_IN="Д-2024/004") == ["104"]
    assert _find(emu_billing, CONTRACT_NUMBER_IN="Д-2023/117") == ["106"]
    assert _find(emu_billing, FINANCE_IN=1) == ["3", "104", "105"]
    assert _find(emu_billing, BALANCEL_IN="0", BALANCEH_IN="1250.50", END_USER_IN=1) == ["101", "103", "105",
                                                                                        "106"]
    assert _find(emu_billing, BALANCEH_IN="-0.01") == ["102"]
    assert _find(emu_billing, END_USER_IN=0) == ["1", "2", "3", "4", "5"]
    assert _find(emu_billing, DELETED_IN=1) == ["106"]
    assert _find(emu_billing, TARIFF_ID=3) == ["104"]
    assert _find(emu_billing, ROUTER_IP=ip_to_signed("10.10.1.2"), ROUTER_VLAN=101, ROUTER_PORT=5) == ["101"]
    assert _find(emu_billing, SIP_ID="4951234567") == ["101"]
    assert _find(emu_billing, SMS_IN="+7921") == ["102"]
    assert _find(emu_billing, NAS_IP=ip_to_signed("10.255.0.2")) == ["104", "105"]
    assert _find(emu_billing, ADMIN_IN=1) == []
    assert _find(emu_billing, NAME_IN="нет такого") == []


def test_find_columns(emu_billing: Any) -> None:
    [row] = emu_billing.call("CLN_USR_FIND_2", None, None, 103)
    assert row == {"id": "103", "parent_identify": "Частный сектор", "identify": "Сидоров Алексей Петрович",
                   "ip": "10.0.3.7", "balance": "0.00", "deleted": "0", "end_user": "1", "server": "0",
                   "parid": "4", "comment": None, "parid1": "2", "id1": "103", "count_user": "0",
                   "login": "sidorov", "color": None}
    [debtor] = emu_billing.call("CLN_USR_FIND_2", None, "petrova")
    assert (debtor["color"], debtor["balance"]) == ("clRed", "-320.75")


def test_find_argument_count_per_installation(make_emu: Any, emu_client: Any) -> None:
    modern = emu_client(make_emu())
    assert _find(modern, CONTRACT_NUMBER_IN="Д-2024/001", NAS_IP=ip_to_signed("10.255.0.1")) == ["101"]
    assert "Input parameter mismatch" in modern.error("CLN_USR_FIND_2", *[None] * 25)

    legacy = emu_client(make_emu(legacy_find=True))
    assert [r["id"] for r in legacy.call("CLN_USR_FIND_2", *[None] * 16, "Д-2024/001")] == ["101"]
    assert legacy.error("CLN_USR_FIND_2", *[None] * 24) == "Input parameter mismatch for procedure CLN_USR_FIND_2"


# -- CLN_FIN_OPER_ADD ------------------------------------------------------------------------------------
def test_payments_change_the_balance_exactly(emu: Any, emu_billing: Any) -> None:
    start = emu.balance(101)
    ids = []
    for amount in ("0.10", "0.20", "0.10", "0.20", "0.10", "0.20", "999999.99"):
        [row] = emu_billing.call("CLN_FIN_OPER_ADD", 101, "2024-04-01 12:00:00", amount, "Оплата через кассу",
                                 "К-77", 2, None)
        ids.append(int(row["id"] or 0))
    assert emu.balance(101) == start + Decimal("1000000.89")
    assert ids == list(range(14, 21))
    user = emu.user(101)
    assert user["DEBIT"] == user["BALANCE"] == user["BALANCE_BUH"] == start + Decimal("1000000.89")
    last = emu.fin_opers(101)[-1]
    assert (last["SUMMA"], last["NUMBER"], last["OP_TYPE"], last["ADMIN"]) == (Decimal("999999.99"), "К-77", 2,
                                                                               "Administrator")
    assert emu_billing.call("CLN_USR_GET", 101)[0]["balance"] == str(start + Decimal("1000000.89"))


def test_payment_rounding_and_defaults(emu: Any, emu_billing: Any) -> None:
    emu_billing.call("CLN_FIN_OPER_ADD", 103, None, "10.005", None, None, 2)  # OP_DATE NULL -> now
    [op] = emu.fin_opers(103)[-1:]
    assert op["SUMMA"] == Decimal("10.01") and op["OP_DATE"].startswith(datetime.now().strftime("%Y-%m-%d"))
    assert emu.balance(103) == Decimal("10.01")


@pytest.mark.parametrize(("args", "message"), [
    ((101, None, "100", "x", "1", 3, None), "Недопустимый тип операции 3"),
    ((101, None, "-5", "x", "1", 2, None), "Сумма операции должна быть больше нуля"),
    ((999, None, "5", "x", "1", 2, None), "Абонент 999 не найден"),
    ((None, None, "5", "x", "1", 2, None), 'validation error for variable USER_ID, value "*** null ***"'),
    ((101, None, "5", "x", "12345678901", 2, None), "string right truncation"),
    ((101, None, "5", "x", "1", 2, None, "extra"), "Input parameter mismatch for procedure CLN_FIN_OPER_ADD"),
])
def test_rejected_payments_post_nothing(emu: Any, emu_billing: Any, args: tuple[Any, ...], message: str) -> None:
    before = emu.balance(101), len(emu.fin_opers(101))
    assert message in emu_billing.error("CLN_FIN_OPER_ADD", *args)
    assert (emu.balance(101), len(emu.fin_opers(101))) == before
    assert emu.stats()["commits"] == 0


# -- CLN_FIN_OPER ----------------------------------------------------------------------------------------
def _ops(billing: Any, *args: Any) -> list[str]:
    return [row["id"] for row in billing.call("CLN_FIN_OPER", *args)]


def test_fin_oper_of_a_subscriber(emu_billing: Any) -> None:
    rows = emu_billing.call("CLN_FIN_OPER", 101)
    assert [r["id"] for r in rows] == ["1", "2", "3"]
    assert rows[0] == {"id": "1", "user_id": "101", "parent_id": "2", "op_date": "2024-01-10 10:15:00",
                       "summa": "1500.00", "descr": "Оплата через кассу", "number": "К-0001", "op_type": "2",
                       "finance": "1"}
    assert rows[1]["summa"] == "-600.00" and rows[1]["number"] is None


def test_fin_oper_of_a_group_is_recursive(emu_billing: Any) -> None:
    assert sorted(_ops(emu_billing, 4), key=int) == ["6", "7"]  # Частный сектор: Сидоров
    assert sorted(_ops(emu_billing, 2), key=int) == ["1", "2", "3", "4", "5", "6", "7", "12"]  # + subgroup 4
    assert sorted(_ops(emu_billing, 1), key=int) == [str(i) for i in range(1, 14)]
    assert _ops(emu_billing, None, *[None] * 7, 3) == _ops(emu_billing, 3)  # PARENT_ID_IN instead of USER_ID
    assert _ops(emu_billing, 1, *[None] * 7, 3) == ["8", "13", "9", "10", "11"]  # both: limited to group 3


def test_fin_oper_filters(emu_billing: Any) -> None:
    feb_first = "2024-02-01 00:00:00"
    assert _ops(emu_billing, 1, feb_first, feb_first) == ["2", "5", "9"]  # both bounds inclusive
    assert _ops(emu_billing, 1, "01.03.2024", "2024-03-05 12:00:00") == ["7", "11", "3"]
    assert _ops(emu_billing, 1, None, None, None, 1) == ["2", "5", "9", "7", "11"]  # OP_TYPE_IN 1
    assert _ops(emu_billing, 1, None, None, 0) == ["13", "2", "5", "9", "7", "11"]  # FINANCE_IN 0
    assert _ops(emu_billing, 1, None, None, None, None, 8) == ["8"]  # ID
    assert _ops(emu_billing, 1, None, None, None, None, None, 0) == ["13"]  # END_USER 0: groups only
    assert _ops(emu_billing, 1, None, None, None, None, None, None, 1) == ["8", "13", "9", "10", "11"]  # FIN_USER
    assert _ops(emu_billing, 101, "2025-01-01") == []
    assert emu_billing.error("CLN_FIN_OPER", 999) == "Абонент 999 не найден"
    assert emu_billing.error("CLN_FIN_OPER") == 'validation error for variable USER_ID, value "*** null ***"'


def test_seeded_balances_equal_the_sum_of_operations(emu: Any) -> None:
    for user_id in (3, 101, 102, 103, 104, 105, 106):
        assert emu.balance(user_id) == sum((op["SUMMA"] for op in emu.fin_opers(user_id)), Decimal("0.00"))
    assert {uid: str(emu.balance(uid)) for uid in (101, 102, 103, 104, 105, 106)} == {
        101: "1250.50", 102: "-320.75", 103: "0.00", 104: "15000.00", 105: "500.00", 106: "45.10"}
