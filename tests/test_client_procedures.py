"""BillingClient against the real HTTPS emulator: the SUID session, every catalogue procedure, input checks.

No mocks: every call crosses a real mutual-TLS connection.  Procedures that change state run against a
private emulator (fresh seed, so values are exact); the session tests read from the suite's shared one.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from decimal import Decimal
from typing import Any, Iterator

import pytest

from probe import Probe
from soap_gateway.backend import BillingClient, Credentials
from soap_gateway.emulator import Emulator
from soap_gateway.errors import AuthenticationFailed, BillingError, InvalidArgument, SessionExpired

IVANOV = {"SELECT_ID": 101}


@pytest.fixture(scope="module")
def billing(pki: Any) -> Iterator[Emulator]:
    """A private emulator with the documented seed (users 101..106, homes 1..5, switches 1..4)."""
    with Emulator(str(pki.server_cert), str(pki.server_key), str(pki.client_ca)) as emu:
        yield emu


@pytest.fixture
def bclient(make_client: Any, billing: Emulator) -> BillingClient:
    return make_client(url=billing.url)


def payment(amount: str, user_id: int = 101, when: dt.datetime | None = None) -> dict[str, Any]:
    return {"USER_ID": user_id, "OP_DATE": when or dt.datetime(2025, 5, 6, 10, 0, 0), "SUMMA": Decimal(amount),
            "DESCR": "Оплата через кассу №3", "NUMBER": "K-77"}


# -- the SUID session ----------------------------------------------------------------------------------------

def test_expired_suid_causes_one_login_and_the_read_succeeds(client: BillingClient, emulator: Emulator) -> None:
    assert client.call("CLN_USR_GET", IVANOV)[0]["LOGIN"] == "ivanov"
    assert emulator.expire_sessions() >= 1
    probe = Probe(emulator)
    assert client.call("CLN_USR_GET", IVANOV)[0]["LOGIN"] == "ivanov"
    assert [r.proc for r in probe.requests()] == ["CLN_USR_GET", "CLN_AUTH_LOGIN", "CLN_USR_GET"]
    assert probe.delta("logins") == 1 and client.logins == 2


def test_concurrent_reads_after_expiry_log_in_exactly_once(make_client: Any, emulator: Emulator) -> None:
    client = make_client(pool_size=20)
    client.call("CLN_USR_GET", IVANOV)
    emulator.expire_sessions()
    probe = Probe(emulator)
    barrier = threading.Barrier(20)
    results: list[Any] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(client.call("CLN_USR_GET", IVANOV)[0]["LOGIN"])
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and results == ["ivanov"] * 20
    assert len(probe.requests("CLN_AUTH_LOGIN")) == 1 and probe.delta("logins") == 1
    assert client.logins == 2


def test_write_after_expiry_is_not_repeated(bclient: BillingClient, billing: Emulator) -> None:
    bclient.call("CLN_USR_GET", IVANOV)
    balance = billing.balance(101)
    billing.expire_sessions()
    probe = Probe(billing)
    with pytest.raises(SessionExpired):
        bclient.call("CLN_FIN_OPER_ADD", payment("10.00"))
    assert len(probe.requests("CLN_FIN_OPER_ADD")) == 1
    assert billing.balance(101) == balance
    # the session was renewed on the way out: the caller's next write goes through at once
    bclient.call("CLN_FIN_OPER_ADD", payment("10.00"))
    assert len(probe.requests("CLN_FIN_OPER_ADD")) == 2 and len(probe.requests("CLN_AUTH_LOGIN")) == 1
    assert billing.balance(101) == balance + Decimal("10.00")


def test_one_step_login_sends_credentials_with_each_call(make_client: Any, emulator: Emulator) -> None:
    client = make_client(login_mode="one-step")
    probe = Probe(emulator)
    for _ in range(2):
        assert client.call("CLN_USR_GET", IVANOV)[0]["NAME"] == "Иванов Иван Иванович"
    assert probe.requests("CLN_AUTH_LOGIN") == [] and probe.delta("logins") == 0
    assert probe.delta("one_step_logins") == 2
    records = probe.requests("CLN_USR_GET")
    assert [r.login for r in records] == ["Administrator"] * 2
    assert records[0].args == ["101"]  # no SUID: SELECT_ID is arg1


def test_pass_through_credentials_log_in_as_the_cashier(client: BillingClient, emulator: Emulator) -> None:
    probe = Probe(emulator)
    cashier = Credentials("kassir1", "pass1")
    for _ in range(2):
        assert client.call("CLN_USR_GET", IVANOV, credentials=cashier)[0]["LOGIN"] == "ivanov"
    assert [r.login for r in probe.requests("CLN_AUTH_LOGIN")] == ["kassir1"]  # one login, then cached
    assert [r.login for r in probe.requests("CLN_USR_GET")] == ["kassir1", "kassir1"]
    client.call("CLN_USR_GET", IVANOV, credentials=Credentials("kassir2", "pass2"))
    assert [r.login for r in probe.requests("CLN_AUTH_LOGIN")] == ["kassir1", "kassir2"]
    assert "pass1" not in repr(cashier)


def test_wrong_password_is_authentication_failed(make_client: Any, client: BillingClient,
                                                 emulator: Emulator) -> None:
    probe = Probe(emulator)
    with pytest.raises(AuthenticationFailed) as caught:
        make_client(password="Wrong-pass-1").call("CLN_USR_GET", IVANOV)
    assert "Administrator" in str(caught.value) and "Wrong-pass-1" not in str(caught.value)
    with pytest.raises(AuthenticationFailed) as caught:
        client.call("CLN_USR_GET", IVANOV, credentials=Credentials("kassir1", "not-pass1"))
    assert "kassir1" in str(caught.value) and "not-pass1" not in str(caught.value)
    assert len(probe.requests("CLN_AUTH_LOGIN")) == 2  # a refused login is not retried
    assert probe.requests("CLN_USR_GET") == []
    assert probe.delta("login_failures") == 2


def test_no_password_or_suid_in_any_log_record(make_client: Any, emulator: Emulator,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3 logs every request line at DEBUG
    client = make_client(password="servicemode")
    client.call("CLN_USR_GET", IVANOV)
    first = client.session(client.service_account).current()
    emulator.expire_sessions()
    emulator.add_fault("http_error", status=500, proc="CLN_USR_GET", count=1)
    client.call("CLN_USR_GET", IVANOV)  # a retry, a renewal and a repeat
    second = client.session(client.service_account).current()
    with pytest.raises(AuthenticationFailed):
        client.call("CLN_USR_GET", IVANOV, credentials=Credentials("kassir1", "Not-the-pass1"))
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "CLN_USR_GET" in text and first != second  # the records are there, and both SUIDs were used
    for secret in ("servicemode", "Not-the-pass1", first, second):
        assert secret not in text


# -- every procedure of the catalogue ------------------------------------------------------------------------

def test_cln_auth_login_returns_an_integer_suid(bclient: BillingClient, billing: Emulator) -> None:
    probe = Probe(billing)
    rows = bclient.call("CLN_AUTH_LOGIN", {"LOGIN": "Administrator", "PASSWORD": "servicemode"})
    suid = rows[0]["SUID"]
    assert isinstance(suid, int) and len(str(suid)) == 18
    assert probe.requests("CLN_AUTH_LOGIN")[0].args == ["Administrator", "***", "0"]  # MODE fixed to 0
    assert bclient.login(Credentials("Administrator", "servicemode")).isdigit()


def test_cln_home_list_all_and_one(bclient: BillingClient) -> None:
    homes = {row["ID"]: row for row in bclient.call("CLN_HOME_LIST")}
    assert {1, 2, 3, 4, 5} <= set(homes)
    kazan = bclient.call("CLN_HOME_LIST", {"P_ID": 5})
    assert len(kazan) == 1
    assert kazan[0]["CITY"] == "Казань" and kazan[0]["STREET"] == "ул. Баумана" and kazan[0]["S_NUMBER"] == 7
    assert kazan[0]["CONNECT_DATE"] == dt.datetime(2021, 4, 1, 0, 0, 0) and kazan[0]["S_LITER"] is None
    assert homes[2]["S_LITER"] == "А" and homes[2]["ZIP_CODE"] == "119071"


def test_cln_home_edit_add_update_delete(bclient: BillingClient) -> None:
    home = {"PULL_ID": 3, "CONNECT_DATE": dt.datetime(2025, 3, 1, 9, 30, 0), "ZIP_CODE": "620014",
            "COUNTRY": "Россия", "CITY": "Екатеринбург", "REGION": "Свердловская область",
            "STREET": "проспект Ленина «Центр»", "S_NUMBER": 24, "S_LITER": "Ё"}
    added = bclient.call("CLN_HOME_EDIT", {"P_OP": 1, **home})
    home_id = added[0]["ID"]
    assert isinstance(home_id, int) and home_id > 5
    (row,) = bclient.call("CLN_HOME_LIST", {"P_ID": home_id})
    assert {k: row[k] for k in home} == home  # Cyrillic (and « », Ё) intact both ways

    bclient.call("CLN_HOME_EDIT", {"P_OP": 0, "ID": home_id, **home, "STREET": "улица Малышева", "S_NUMBER": 31})
    (row,) = bclient.call("CLN_HOME_LIST", {"P_ID": home_id})
    assert (row["STREET"], row["S_NUMBER"], row["CITY"]) == ("улица Малышева", 31, "Екатеринбург")

    assert bclient.call("CLN_HOME_EDIT", {"P_OP": 2, "ID": home_id}) == []
    assert bclient.call("CLN_HOME_LIST", {"P_ID": home_id}) == []
    assert home_id not in {r["ID"] for r in bclient.call("CLN_HOME_LIST")}


def test_cln_switch_edit_add_update_delete_and_list(bclient: BillingClient, billing: Emulator) -> None:
    probe = Probe(billing)
    switch = {"NAME": "sw-ekb-test", "IP": "192.168.77.250", "SWITCH_TYPE": "Eltex MES2324",
              "PSW_SNMP": "snmpRo", "PSW_SSH": "Ssh-secret", "PSW_TELNET": "Tel-secret", "HOME_ID": 4,
              "PORTS_CNT": 24}
    switch_id = bclient.call("CLN_SWITCH_EDIT", {"P_OP": 1, **switch})[0]["ID"]
    assert isinstance(switch_id, int)
    (row,) = bclient.call("CLN_SWITCH_LIST", {"P_ID": switch_id})
    assert {k: row[k] for k in switch} == switch  # 192.168.77.250 round-trips as dotted text
    stored = billing.query("SELECT IP FROM switches WHERE ID = ?", switch_id)[0]["IP"]
    assert stored == 0xC0A84DFA - (1 << 32)  # sent as Firebird's signed INTEGER
    assert switch_id in {r["ID"] for r in bclient.call("CLN_SWITCH_LIST", {"P_HOME_ID": 4})}
    assert switch_id not in {r["ID"] for r in bclient.call("CLN_SWITCH_LIST", {"P_HOME_ID": 1})}

    bclient.call("CLN_SWITCH_EDIT", {"P_OP": 0, "ID": switch_id, **switch, "NAME": "sw-ekb-renamed",
                                     "IP": "255.255.255.254", "UPDATE_HOME_FLAG": 0})
    (row,) = bclient.call("CLN_SWITCH_LIST", {"P_ID": switch_id})
    assert (row["NAME"], row["IP"]) == ("sw-ekb-renamed", "255.255.255.254")

    bclient.call("CLN_SWITCH_EDIT", {"P_OP": 2, "ID": switch_id})
    assert bclient.call("CLN_SWITCH_LIST", {"P_ID": switch_id}) == []
    assert probe.delta("dhcpd_restarts") == 3
    all_switches = {r["ID"]: r for r in bclient.call("CLN_SWITCH_LIST")}
    assert all_switches[4]["IP"] == "192.168.200.2" and all_switches[1]["IP"] == "10.10.1.2"


def test_cln_usr_usluga_edit_add_and_delete(bclient: BillingClient, billing: Emulator) -> None:
    before = [s["ID"] for s in billing.services(105)]
    added = bclient.call("CLN_USR_USLUGA_EDIT", {
        "USER_ID": 105, "USLUGA_ID": 2, "ENABLED": 1, "NEXT_DATE": dt.datetime(2025, 6, 1, 0, 0, 0),
        "COUNTT": 2, "UK": 1, "COMMENT": "ТВ-приставка в офис", "EQUIPMENT_ID": 9, "SIP_ID": "IPTV-105"})
    record_id = added[0]["ID"]
    (service,) = [s for s in billing.services(105) if s["ID"] == record_id]
    assert (service["USLUGA_ID"], service["COUNTT"], service["COMMENT"], service["SIP_ID"]) == (
        2, 2, "ТВ-приставка в офис", "IPTV-105")
    assert service["NEXT_DATE"] == "2025-06-01 00:00:00"
    bclient.call("CLN_USR_USLUGA_EDIT", {"ID": record_id, "UK": 2})
    assert [s["ID"] for s in billing.services(105)] == before


def test_cln_usr_get_typed_values(bclient: BillingClient, billing: Emulator) -> None:
    (row,) = bclient.call("CLN_USR_GET", IVANOV)
    assert row["USER_ID"] == 101 and row["NAME"] == "Иванов Иван Иванович"
    assert isinstance(row["BALANCE"], Decimal) and row["BALANCE"] == billing.balance(101)
    assert row["ABONENT_PAY"] == Decimal("600.00") and row["TARIF_TXT"] == "Домашний 100"
    assert row["CREATE_DATE"] == dt.date(2019, 3, 20) and type(row["CREATE_DATE"]) is dt.date
    assert row["NEXT_AUTO_ACOUNT"] == dt.datetime(2024, 4, 1, 0, 0, 0)
    assert row["IP"] == "10.0.1.15" and row["ROUTER_IP"] == "10.10.1.2" and row["NAS_IP"] == "10.255.0.1"
    assert row["CONTRACT_NUMBER"] == "Д-2024/001" and row["END_USER"] == 1 and row["SNATIP"] is None
    (petrova,) = bclient.call("CLN_USR_GET", {"SELECT_ID": 102})
    assert petrova["IP"] == "192.168.10.20" and petrova["NAS_IP"] == "192.168.255.1"  # negative on the wire
    (romashka,) = bclient.call("CLN_USR_GET", {"SELECT_ID": 104})
    assert romashka["NAME"] == "ООО «Ромашка»" and romashka["AD_HOST"] == 167773194  # a plain INTEGER


def test_web_user_promise_pay_is_visible_in_cln_usr_get(bclient: BillingClient, billing: Emulator) -> None:
    assert bclient.call("CLN_USR_GET", {"SELECT_ID": 103})[0]["PROMISE_PAY"] == Decimal("0.00")
    bclient.call("WEB_USER_PROMISE_PAY", {"USER_ID": 103, "PROMISE_PAY": Decimal("150.50"), "HOST": "kassa-3"})
    (row,) = bclient.call("CLN_USR_GET", {"SELECT_ID": 103})
    assert isinstance(row["PROMISE_PAY"], Decimal) and row["PROMISE_PAY"] == Decimal("150.50")
    assert isinstance(row["PROMISE_DATE_END"], dt.datetime)
    audit = billing.query("SELECT HOST, DETAILS FROM audit WHERE ACTION = 'WEB_USER_PROMISE_PAY'")
    assert audit[-1] == {"HOST": "kassa-3", "DETAILS": "USER_ID=103 PROMISE_PAY=150.50"}
    with pytest.raises(BillingError, match="уже взят"):  # the billing's own refusal comes through as text
        bclient.call("WEB_USER_PROMISE_PAY", {"USER_ID": 103, "PROMISE_PAY": "10"})


def test_cln_usr_find_2_by_contract_number_and_by_name(bclient: BillingClient) -> None:
    (row,) = bclient.call("CLN_USR_FIND_2", {"CONTRACT_NUMBER_IN": "Д-2024/002"})
    assert row["ID"] == 102 and row["IDENTIFY"] == "Петрова Мария Сергеевна"
    assert row["PARENT_IDENTIFY"] == "Физические лица" and row["PARID"] == 2
    assert row["IP"] == "192.168.10.20" and isinstance(row["IP"], str)  # dotted text, as the billing sends it
    assert isinstance(row["BALANCE"], Decimal) and row["LOGIN"] == "petrova" and row["COLOR"] == "clRed"
    assert [r["ID"] for r in bclient.call("CLN_USR_FIND_2", {"NAME_IN": "сидоров"})] == [103]
    assert [r["ID"] for r in bclient.call("CLN_USR_FIND_2", {"IP_IN": "192.168.10.20"})] == [102]
    assert bclient.call("CLN_USR_FIND_2", {"NAME_IN": "Нет такого абонента"}) == []


@pytest.mark.parametrize("amounts", [["100.10"], ["0.01", "12345.67", "0.99"]])
def test_cln_fin_oper_add_changes_the_balance_by_exactly_the_amount(
        bclient: BillingClient, billing: Emulator, amounts: list[str]) -> None:
    before = bclient.call("CLN_USR_GET", {"SELECT_ID": 105})[0]["BALANCE"]
    for amount in amounts:
        bclient.call("CLN_FIN_OPER_ADD", payment(amount, user_id=105))
    after = bclient.call("CLN_USR_GET", {"SELECT_ID": 105})[0]["BALANCE"]
    assert after - before == sum(map(Decimal, amounts))
    assert billing.balance(105) == after
    last = billing.fin_opers(105)[-1]
    assert (last["SUMMA"], last["DESCR"], last["NUMBER"], last["OP_TYPE"]) == (
        Decimal(amounts[-1]), "Оплата через кассу №3", "K-77", 2)
    assert last["ADMIN"] == "Administrator"


def test_cln_fin_oper_of_a_subscriber_within_a_date_range(bclient: BillingClient) -> None:
    rows = bclient.call("CLN_FIN_OPER", {"USER_ID": 101, "DATEL": dt.datetime(2024, 1, 1, 0, 0, 0),
                                         "DATEH": dt.datetime(2024, 2, 15, 0, 0, 0)})
    assert [(r["OP_DATE"], r["SUMMA"]) for r in rows] == [
        (dt.datetime(2024, 1, 10, 10, 15, 0), Decimal("1500.00")),
        (dt.datetime(2024, 2, 1, 0, 0, 0), Decimal("-600.00")),
    ]
    assert rows[0]["DESCR"] == "Оплата через кассу" and rows[0]["NUMBER"] == "К-0001"
    assert {r["USER_ID"] for r in rows} == {101} and rows[0]["PARENT_ID"] == 2


def test_cln_fin_oper_of_a_group_lists_its_subscribers(bclient: BillingClient) -> None:
    # group 2 "Физические лица": 101, 102, 106 and, through subgroup 4, 103
    rows = bclient.call("CLN_FIN_OPER", {"USER_ID": 2, "DATEH": dt.datetime(2024, 12, 31, 23, 59, 59)})
    assert {r["USER_ID"] for r in rows} == {101, 102, 103, 106}
    assert len(rows) == 8
    assert all(isinstance(r["SUMMA"], Decimal) and isinstance(r["OP_DATE"], dt.datetime) for r in rows)
    assert sum(r["SUMMA"] for r in rows if r["USER_ID"] == 102) == Decimal("-320.75")


def test_legacy_installation_takes_cln_usr_find_2_without_nas_ip(make_client: Any, pki: Any) -> None:
    with Emulator(str(pki.server_cert), str(pki.server_key), str(pki.client_ca), legacy_find=True) as legacy:
        old = make_client(url=legacy.url, arg_counts={"CLN_USR_FIND_2": 23})
        (row,) = old.call("CLN_USR_FIND_2", {"CONTRACT_NUMBER_IN": "Д-2024/003"})
        assert row["ID"] == 103 and row["IP"] == "10.0.3.7"
        assert len(legacy.requests()[-1].args) == 1 + 23  # SUID + 23 arguments
        with pytest.raises(InvalidArgument):  # NAS_IP is not an argument on this installation
            old.call("CLN_USR_FIND_2", {"NAS_IP": "10.255.0.1"})
        full = make_client(url=legacy.url)
        with pytest.raises(BillingError, match="mismatch") as caught:
            full.call("CLN_USR_FIND_2", {"CONTRACT_NUMBER_IN": "Д-2024/003"})
        assert not isinstance(caught.value, SessionExpired)
        assert len(legacy.requests()[-1].args) == 1 + 24


# -- invalid input never reaches the billing -----------------------------------------------------------------

@pytest.mark.parametrize("name, args, field", [
    ("CLN_USR_GET", {}, "SELECT_ID"),
    ("CLN_USR_GET", {"SELECT_ID": "abc"}, "SELECT_ID"),
    ("CLN_USR_GET", {"SELECT_ID": 1 << 31}, "SELECT_ID"),
    ("CLN_USR_GET", {"SELECT_ID": 101, "SUID": "1"}, "SUID"),
    ("CLN_FIN_OPER_ADD", {**payment("1.00"), "SUMMA": 1.5}, "SUMMA"),
    ("CLN_FIN_OPER_ADD", {**payment("1.00"), "SUMMA": "1.005"}, "SUMMA"),
    ("CLN_FIN_OPER_ADD", {**payment("1.00"), "OP_TYPE": 1}, "OP_TYPE"),
    ("CLN_FIN_OPER_ADD", {**payment("1.00"), "NUMBER": "12345678901"}, "NUMBER"),
    ("CLN_FIN_OPER_ADD", {**payment("1.00"), "OP_DATE": "yesterday"}, "OP_DATE"),
    ("CLN_HOME_EDIT", {"P_OP": 3}, "P_OP"),
    ("CLN_SWITCH_EDIT", {"P_OP": 1, "NAME": "sw", "IP": "300.1.1.1"}, "IP"),
    ("CLN_HOME_EDIT", {"P_OP": 1, "CITY": "Москва\x00"}, "CITY"),
    ("NO_SUCH_PROC", {}, "procedure"),
])
def test_invalid_input_is_refused_before_the_billing(client: BillingClient, emulator: Emulator,
                                                     name: str, args: dict[str, Any], field: str) -> None:
    probe = Probe(emulator)
    with pytest.raises(InvalidArgument) as caught:
        client.call(name, args)
    assert caught.value.field == field
    assert probe.delta("requests") == 0 and probe.requests() == []


def test_every_problem_is_reported_at_once(client: BillingClient, emulator: Emulator) -> None:
    probe = Probe(emulator)
    with pytest.raises(InvalidArgument) as caught:
        client.call("CLN_FIN_OPER_ADD", {"USER_ID": "x", "SUMMA": 1.5})
    assert {f for f, _ in caught.value.problems} == {"USER_ID", "OP_DATE", "SUMMA"}
    assert probe.delta("requests") == 0

