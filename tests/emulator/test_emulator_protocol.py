"""Wire protocol of the emulated api.php: login/SUID, one-step login, NULL forms, encodings, error replies."""
from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

import pytest

from soap_gateway.emulator import BAD_LOGIN, SESSION_EXPIRED
from soap_gateway.emulator.sqltypes import ip_to_signed

OVERFLOW = "arithmetic exception, numeric overflow, or string truncation"


def _is_session_error(message: str) -> bool:
    return "SUID" in message and "сессия" in message.casefold()


def test_login_returns_an_18_digit_suid_directly_under_the_root(emu: Any, emu_client: Any) -> None:
    client = emu_client(emu, login=False)
    response = client.raw("cmd=execute&proc=CLN_AUTH_LOGIN&arg1=Administrator&arg2=servicemode&arg3=0")
    root = ElementTree.fromstring(response.content)
    assert root.tag == "result" and [child.tag for child in root] == ["suid"]
    suid = root.findtext("suid") or ""
    assert len(suid) == 18 and suid.isdigit()
    assert emu.stats()["logins"] == 1 and emu.stats()["active_sessions"] == 1


def test_wrong_password_is_a_billing_error(emu: Any, emu_client: Any) -> None:
    client = emu_client(emu, login=False)
    assert client.error("CLN_AUTH_LOGIN", "Administrator", "wrong", 0) == BAD_LOGIN
    assert client.error("CLN_AUTH_LOGIN", "nobody", "servicemode", 0) == BAD_LOGIN
    assert emu.stats()["login_failures"] == 2 and emu.stats()["logins"] == 0


def test_unknown_suid_reports_an_expired_session(emu: Any, emu_client: Any) -> None:
    client = emu_client(emu, login=False)
    client.suid = "123456789012345678"
    message = client.error("CLN_USR_GET", 101)
    assert message == SESSION_EXPIRED and _is_session_error(message)
    client.suid = None  # a NULL SUID too
    assert _is_session_error(client.error("CLN_USR_GET", 101))


def test_suid_expires_after_its_unused_lifetime(make_emu: Any, emu_client: Any) -> None:
    emulator = make_emu(suid_lifetime=1.0)
    client = emu_client(emulator)
    for _ in range(2):  # each use restarts the lifetime: 2 x 0.6 s > 1 s, yet the session lives
        time.sleep(0.6)
        assert client.call("CLN_USR_GET", 101)[0]["user_id"] == "101"
    time.sleep(1.2)
    assert _is_session_error(client.error("CLN_USR_GET", 101))
    client.login()
    assert client.call("CLN_USR_GET", 101)[0]["login"] == "ivanov"


def test_expire_sessions_invalidates_every_suid(emu: Any, emu_client: Any) -> None:
    first, second = emu_client(emu), emu_client(emu)
    assert emu.expire_sessions() == 2
    assert _is_session_error(first.error("CLN_HOME_LIST"))
    assert _is_session_error(second.error("CLN_HOME_LIST"))


def test_one_step_login_shifts_arguments_left(emu: Any, emu_client: Any) -> None:
    client = emu_client(emu, login=False)
    response = client.raw("login=Administrator&password=servicemode&cmd=execute&proc=CLN_USR_GET&arg1=103")
    assert ElementTree.fromstring(response.content).findtext("name") == "Сидоров Алексей Петрович"
    # the vendor page's own one-step example: delete home 10 -> here home 10 does not exist
    response = client.raw("login=Administrator&password=servicemode&cmd=execute&proc=CLN_HOME_EDIT&arg1=2&arg2=10")
    assert ElementTree.fromstring(response.content).findtext("error") == "Дом 10 не найден"
    record = emu.requests()[0]
    assert (record.proc, record.args, record.login, record.cn) == ("CLN_USR_GET", ["103"], "Administrator",
                                                                   "cashier1")
    bad = client.raw("login=Administrator&password=nope&cmd=execute&proc=CLN_USR_GET&arg1=103")
    assert ElementTree.fromstring(bad.content).findtext("error") == BAD_LOGIN
    assert emu.stats()["one_step_logins"] == 2 and emu.stats()["login_failures"] == 1


@pytest.mark.parametrize("home_arg", ["&arg2=null", "&arg2", ""])
def test_null_forms_mean_no_filter(emu_billing: Any, home_arg: str) -> None:
    response = emu_billing.raw(f"cmd=execute&proc=CLN_SWITCH_LIST&arg1={emu_billing.suid}{home_arg}&arg3=5")
    rows = ElementTree.fromstring(response.content).findall("row")
    assert [row.findtext("name") for row in rows] == ["sw-kzn-baumana7"]


def test_omitted_trailing_arguments_are_null(emu_billing: Any) -> None:
    assert len(emu_billing.call("CLN_HOME_LIST")) == 5
    assert len(emu_billing.call("CLN_HOME_LIST", None)) == 5
    assert [row["city"] for row in emu_billing.call("CLN_HOME_LIST", 5)] == ["Казань"]


def test_empty_string_is_not_null(emu_billing: Any) -> None:
    response = emu_billing.raw(f"cmd=execute&proc=CLN_HOME_LIST&arg1={emu_billing.suid}&arg2=")
    assert ElementTree.fromstring(response.content).findtext("error") == 'conversion error from string ""'


def test_replies_are_windows_1251_by_default(emu_billing: Any) -> None:
    response = emu_billing.raw(f"cmd=execute&proc=CLN_USR_GET&arg1={emu_billing.suid}&arg2=101")
    assert response.headers["Content-Type"] == "text/xml; charset=windows-1251"
    assert response.content.startswith(b'<?xml version="1.0" encoding="windows-1251"?>')
    assert "Иванов Иван Иванович".encode("cp1251") in response.content
    assert "Иванов".encode("utf-8") not in response.content
    assert b"<a_home_number>15</a_home_number>" in response.content and b"<ip_range/>" in response.content


def test_utf8_replies_and_replies_without_declaration(make_emu: Any, emu_client: Any) -> None:
    utf8 = emu_client(make_emu(encoding="utf-8"))
    response = utf8.raw(f"cmd=execute&proc=CLN_USR_GET&arg1={utf8.suid}&arg2=104")
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    assert "ООО «Ромашка»".encode() in response.content

    bare = emu_client(make_emu(declare_encoding=False))
    response = bare.raw(f"cmd=execute&proc=CLN_USR_GET&arg1={bare.suid}&arg2=104")
    assert response.content.startswith(b"<result>")
    assert response.headers["Content-Type"].endswith("charset=windows-1251")
    root = ElementTree.fromstring(response.content.decode("cp1251"))
    assert root.findtext("name") == "ООО «Ромашка»"


def test_dmy_timestamp_style(make_emu: Any, emu_client: Any) -> None:
    client = emu_client(make_emu(timestamp_style="dmy"))
    assert client.call("CLN_HOME_LIST", 1)[0]["connect_date"] == "15.03.2019 00:00:00"
    user = client.call("CLN_USR_GET", 101)[0]
    assert user["create_date"] == "20.03.2019" and user["next_auto_acount"] == "01.04.2024 00:00:00"


def test_cyrillic_arguments_in_utf8_or_windows_1251_percent_encoding(emu_billing: Any) -> None:
    for encoded in (quote("петрова"), quote("петрова".encode("cp1251"))):
        response = emu_billing.raw(f"cmd=execute&proc=CLN_USR_FIND_2&arg1={emu_billing.suid}&arg2={encoded}")
        rows = ElementTree.fromstring(response.content).findall("row")
        assert [row.findtext("id") for row in rows] == ["102"]


def test_ip_integers_are_signed_32_bit(emu_billing: Any) -> None:
    user = emu_billing.call("CLN_USR_GET", 102)[0]
    assert int(user["ip"] or 0) == ip_to_signed("192.168.10.20") < 0
    assert int(user["nas_ip"] or 0) == ip_to_signed("192.168.255.1")
    found = emu_billing.call("CLN_USR_FIND_2", None, "petrova")
    assert found[0]["ip"] == "192.168.10.20"  # CLN_USR_FIND_2 alone returns dotted text


@pytest.mark.parametrize(("proc", "args", "expected"), [
    ("CLN_NO_SUCH_PROC", (), "Procedure unknown; CLN_NO_SUCH_PROC"),
    ("CLN_HOME_LIST", (1, 2), "Input parameter mismatch for procedure CLN_HOME_LIST"),
    ("CLN_USR_GET", ("12x",), 'conversion error from string "12x"'),
    ("CLN_USR_GET", ("10.5",), 'conversion error from string "10.5"'),
    ("CLN_USR_GET", (2**31,), f"{OVERFLOW}; numeric value is out of range"),
    ("CLN_HOME_EDIT", (1, None, 1, None, "12345678901", "Россия", "Москва", None, "ул. Арбат", 1),
     f"{OVERFLOW}; string right truncation; expected length 10, actual 11"),
    ("CLN_HOME_EDIT", (1, None, 1, "31.02.2024", None, None, "Москва", None, "ул. Арбат", 1),
     'conversion error from string "31.02.2024"'),
    ("CLN_HOME_EDIT", (1, None, 1, "2024-01-01T10:00:00", None, None, "Москва", None, "ул. Арбат", 1),
     'conversion error from string "2024-01-01T10:00:00"'),
    ("CLN_HOME_EDIT", (1, None, 1, None, None, None, "东京", None, "ул. Арбат", 1),
     "Cannot transliterate character between character sets"),
    ("CLN_FIN_OPER_ADD", (101, None, "12,50", "x", "1", 2), 'conversion error from string "12,50"'),
])
def test_firebird_like_errors(emu: Any, emu_billing: Any, proc: str, args: tuple[Any, ...], expected: str) -> None:
    response = emu_billing.raw([("cmd", "execute"), ("proc", proc), ("arg1", emu_billing.suid)]
                               + [(f"arg{i}", "null" if v is None else str(v)) for i, v in enumerate(args, 2)])
    assert response.status_code == 200
    root = ElementTree.fromstring(response.content)
    assert root.tag == "result" and [child.tag for child in root] == ["error"]
    assert expected in (root.findtext("error") or "")
    assert emu.stats()["commits"] == 0 and len(emu.query("SELECT * FROM homes")) == 5


def test_unknown_command_and_lower_case_procedure_names(emu_billing: Any) -> None:
    response = emu_billing.raw(f"cmd=update&proc=CLN_HOME_LIST&arg1={emu_billing.suid}")
    assert "Неизвестная команда" in (ElementTree.fromstring(response.content).findtext("error") or "")
    response = emu_billing.raw(f"cmd=select&proc=CLN_HOME_LIST&arg1={emu_billing.suid}&arg2=5")  # a row set
    assert ElementTree.fromstring(response.content).findtext("row/city") == "Казань"
    response = emu_billing.raw(f"cmd=execute&proc=cln_home_list&arg1={emu_billing.suid}&arg2=5")
    assert ElementTree.fromstring(response.content).findtext("row/city") == "Казань"


def test_extra_accounts(make_emu: Any, emu_client: Any) -> None:
    emulator = make_emu(accounts={"api_1c": "Secr3t"})
    client = emu_client(emulator, login=False)
    client.login("api_1c", "Secr3t")
    emulator.add_account("kassa2", "pw2")
    client.login("kassa2", "pw2")
    assert client.error("CLN_AUTH_LOGIN", "api_1c", "secr3t", 0) == BAD_LOGIN  # passwords are case-sensitive
    client.login()  # Administrator/servicemode always exists
    assert [r.login for r in emulator.requests()] == ["api_1c", "kassa2", "api_1c", "Administrator"]
