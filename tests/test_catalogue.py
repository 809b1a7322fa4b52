"""The procedure catalogue: the built-in transcription of the vendor page, and the loader."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from soap_gateway.catalogue import Catalogue, load_catalogue, parse_catalogue
from soap_gateway.catalogue.types import Integer, Ipv4, Money, Text, Timestamp, parse_type
from soap_gateway.errors import ConfigurationError

VENDOR_PAGE = Path("/work/shared/reference/billing-api.ru.txt")
VENDOR_PROCEDURES = {
    "CLN_AUTH_LOGIN", "CLN_HOME_EDIT", "CLN_HOME_LIST", "CLN_SWITCH_EDIT", "CLN_SWITCH_LIST",
    "CLN_USR_USLUGA_EDIT", "CLN_USR_GET", "WEB_USER_PROMISE_PAY", "CLN_USR_FIND_2", "CLN_FIN_OPER_ADD",
    "CLN_FIN_OPER",
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def vendor_block(procedure: str, heading: str) -> list[tuple[str, str]]:
    """(NAME, type) pairs of one block of the vendor page, e.g. CLN_USR_GET's "Возвращаемые значения:"."""
    if not VENDOR_PAGE.exists():
        pytest.skip(f"the vendor page {VENDOR_PAGE} is not on this machine")
    text = VENDOR_PAGE.read_text(encoding="utf-8")
    start = text.index(heading, re.search(rf"Процедура {procedure}\b", text).end())
    lines = text[start:].splitlines()[1:]
    pairs = []
    for line in lines:
        if not line.strip():
            if pairs:
                break
            continue
        match = re.match(r"\s*([A-Z_0-9]+)\s+([a-z]+(?: precision)?(?:\(\d+(?:,\d+)?\))?)", line, re.I)
        assert match, f"unexpected line in the vendor's list: {line!r}"
        pairs.append((match[1], match[2]))
    return pairs


# --- the built-in catalogue ----------------------------------------------------------------------

def test_builtin_catalogue_has_exactly_the_vendor_procedures(catalogue: Catalogue) -> None:
    assert set(catalogue) == VENDOR_PROCEDURES
    assert len(catalogue) == 11
    assert all(p.source == "procedures.toml" for p in catalogue.values())


def test_every_procedure_is_documented_in_both_languages(catalogue: Catalogue) -> None:
    for proc in catalogue.values():
        assert proc.doc_ru.strip() and proc.doc_en.strip(), proc.name
        assert re.search("[а-яА-Я]", proc.doc_ru), proc.name


def test_cln_usr_get_has_every_column_of_the_vendor_page(catalogue: Catalogue) -> None:
    vendor = vendor_block("CLN_USR_GET", "Возвращаемые значения:")
    assert len(vendor) > 100
    columns = catalogue["CLN_USR_GET"].columns
    assert [c.name for c in columns] == [name for name, _ in vendor]
    for column, (name, vendor_type) in zip(columns, vendor):
        assert column.type.billing == vendor_type.upper().replace(" ", ""), name
        if not isinstance(column.type, Ipv4):
            assert column.type == parse_type(vendor_type), name


def test_cln_usr_find_2_matches_the_vendor_page(catalogue: Catalogue) -> None:
    proc = catalogue["CLN_USR_FIND_2"]
    assert len(proc.args) == 24 and proc.args[-1].name == "NAS_IP"
    assert len(proc.columns) == 15
    assert [c.name for c in proc.columns] == [
        "ID", "PARENT_IDENTIFY", "IDENTIFY", "IP", "BALANCE", "DELETED", "END_USER", "SERVER", "PARID",
        "COMMENT", "PARID1", "ID1", "COUNT_USER", "LOGIN", "COLOR"]
    assert isinstance(proc.column("ip").type, Text)  # this one returns dotted text
    assert all(isinstance(proc.args[i].type, Ipv4) for i in (4, 18, 23))  # IP_IN, ROUTER_IP, NAS_IP
    assert isinstance(proc.args[8].type, Money) and isinstance(proc.args[9].type, Money)  # balance bounds
    vendor_args = vendor_block("CLN_USR_FIND_2", "Входные параметры:")
    assert vendor_args[0][0] == "SUID"
    assert [a.name for a in proc.args] == [name for name, _ in vendor_args[1:]]


def test_secret_columns_and_arguments_are_marked(catalogue: Catalogue) -> None:
    get = catalogue["CLN_USR_GET"]
    for name in ("PSW", "GEN_PWD", "AD_PASS"):
        assert get.column(name).secret, name
    for name in ("PSW_SNMP", "PSW_SSH", "PSW_TELNET"):
        assert catalogue["CLN_SWITCH_LIST"].column(name).secret, name
        assert next(a for a in catalogue["CLN_SWITCH_EDIT"].args if a.name == name).secret, name
    login = catalogue["CLN_AUTH_LOGIN"]
    assert [a.name for a in login.args if a.secret] == ["PASSWORD"]
    assert login.column("SUID").secret
    # nothing that looks like a password escapes the marking
    for proc in catalogue.values():
        for item in (*proc.args, *proc.columns):
            if re.search("PSW|PASS|PWD", item.name):
                assert item.secret, f"{proc.name}.{item.name}"
    assert not get.column("LOGIN").secret and not get.column("NAME").secret


def test_procedure_shapes(catalogue: Catalogue) -> None:
    writes = {name for name, p in catalogue.items() if p.writes}
    assert writes == {"CLN_HOME_EDIT", "CLN_SWITCH_EDIT", "CLN_USR_USLUGA_EDIT", "WEB_USER_PROMISE_PAY",
                      "CLN_FIN_OPER_ADD"}
    assert all(catalogue[name].result == "status" for name in writes)
    assert [n for n, p in catalogue.items() if not p.session] == ["CLN_AUTH_LOGIN"]
    assert catalogue["CLN_USR_GET"].result == "row"
    assert {n for n, p in catalogue.items() if p.result == "rows"} == {
        "CLN_HOME_LIST", "CLN_SWITCH_LIST", "CLN_USR_FIND_2", "CLN_FIN_OPER"}


def test_fixed_arguments_of_the_payment(catalogue: Catalogue) -> None:
    proc = catalogue["CLN_FIN_OPER_ADD"]
    assert [a.name for a in proc.args] == ["USER_ID", "OP_DATE", "SUMMA", "DESCR", "NUMBER", "OP_TYPE", "RESERVED"]
    op_type, reserved = proc.args[5], proc.args[6]
    assert op_type.fixed and op_type.value == 2
    assert reserved.fixed and reserved.value is None
    assert [a.name for a in proc.params] == ["USER_ID", "OP_DATE", "SUMMA", "DESCR", "NUMBER"]
    assert [a.name for a in proc.params if a.required] == ["USER_ID", "OP_DATE", "SUMMA"]
    assert isinstance(proc.args[1].type, Timestamp) and isinstance(proc.args[2].type, Money)
    login = catalogue["CLN_AUTH_LOGIN"]
    assert login.args[2].fixed and login.args[2].value == 0 and len(login.params) == 2


def test_operation_codes_have_choices(catalogue: Catalogue) -> None:
    for proc, arg in (("CLN_HOME_EDIT", "P_OP"), ("CLN_SWITCH_EDIT", "P_OP"), ("CLN_USR_USLUGA_EDIT", "UK")):
        argument = next(a for a in catalogue[proc].args if a.name == arg)
        assert argument.choices == (0, 1, 2) and argument.required, proc


def test_value_types_of_the_catalogue(catalogue: Catalogue) -> None:
    login = catalogue["CLN_AUTH_LOGIN"]
    assert login.column("suid").type == Integer("NUMERIC(18,0)", 64)
    assert catalogue["CLN_HOME_EDIT"].args[4].type == Text("VARCHAR(10)", 10)  # ZIP_CODE
    assert catalogue["CLN_USR_GET"].column("DELETED").type.kind == "short"
    assert catalogue["WEB_USER_PROMISE_PAY"].args[1].type.kind == "decimal"


def test_column_lookup_ignores_case(catalogue: Catalogue) -> None:
    proc = catalogue["CLN_USR_GET"]
    assert proc.column("tarif_txt") is proc.column("TARIF_TXT") is proc.column("Tarif_Txt")
    assert proc.column("no_such_column") is None


# --- loader errors ---------------------------------------------------------------------------

MINIMAL = '[MY_PROC]\nmode = "read"\nresult = "rows"\nargs = [{ name = "A", type = "INTEGER" }]\n' \
          'columns = [{ name = "X", type = "VARCHAR(10)" }]\n'


@pytest.mark.parametrize("text, where", [
    (MINIMAL.replace('result = "rows"', 'result = "rows"\ncolour = "red"'), "MY_PROC: unknown field(s) ['colour']"),
    (MINIMAL.replace('type = "INTEGER"', 'type = "INTEGER", requird = true'), "MY_PROC.args[0] (A): unknown field"),
    (MINIMAL.replace('type = "VARCHAR(10)"', 'type = "VARCHAR(10)", secrett = true'), "MY_PROC.columns[0] (X)"),
    (MINIMAL.replace('"INTEGER"', '"TIMESTMP"'), "MY_PROC.args[0] (A).type: unknown billing type 'TIMESTMP'"),
    (MINIMAL.replace('"VARCHAR(10)"', '"VARCHAR"'), "MY_PROC.columns[0] (X).type"),
    (MINIMAL.replace('mode = "read"\n', ""), "MY_PROC: missing 'mode'"),
    (MINIMAL.replace('result = "rows"\n', ""), "MY_PROC: missing 'result'"),
    (MINIMAL.replace('"read"', '"readwrite"'), "MY_PROC.mode"),
    (MINIMAL.replace('"rows"', '"table"'), "MY_PROC.result"),
    (MINIMAL.replace('{ name = "A", type = "INTEGER" }', '{ name = "A", type = "INTEGER" }, { name = "A", type = "DATE" }'),
     "MY_PROC.args: duplicate names ['A']"),
    (MINIMAL.replace('{ name = "X", type = "VARCHAR(10)" }', '{ name = "X", type = "DATE" }, { name = "x", type = "DATE" }'),
     "MY_PROC.columns: duplicate names ['x']"),
    (MINIMAL.replace('type = "INTEGER"', 'type = "INTEGER", choices = ["a", "b"]'), "MY_PROC.args[0] (A).choices"),
    (MINIMAL.replace('type = "INTEGER"', 'type = "INTEGER", choices = 5'), "MY_PROC.args[0] (A).choices"),
    (MINIMAL.replace('type = "INTEGER"', 'type = "INTEGER", choices = [true]'), "MY_PROC.args[0] (A).choices"),
    (MINIMAL.replace('type = "INTEGER"', 'type = "INTEGER", fixed = 2, required = true'),
     "MY_PROC.args[0] (A): a fixed argument cannot also be required"),
    (MINIMAL.replace('type = "INTEGER"', 'type = "INTEGER", fixed_null = true, required = true'),
     "MY_PROC.args[0] (A): a fixed argument cannot also be required"),
    (MINIMAL.replace('type = "INTEGER"', 'type = "INTEGER", fixed = "two"'), "MY_PROC.args[0] (A).fixed"),
    (MINIMAL.replace('type = "INTEGER"', 'type = "INTEGER", required = "yes"'), "MY_PROC.args[0] (A).required"),
    (MINIMAL.replace('mode = "read"', 'mode = "read"\nsession = "false"'), "MY_PROC.session"),
    (MINIMAL.replace('type = "VARCHAR(10)"', 'type = "VARCHAR(10)", format = "ipv4"'), "MY_PROC.columns[0] (X).type"),
    (MINIMAL.replace('type = "INTEGER"', 'type = "INTEGER", format = "ipv6"'), "MY_PROC.args[0] (A).type"),
    (MINIMAL.replace('args = [{ name = "A", type = "INTEGER" }]', 'args = "A"'), "MY_PROC.args"),
    (MINIMAL.replace('args = [{ name = "A", type = "INTEGER" }]', 'args = [5]'), "MY_PROC.args[0]"),
    (MINIMAL.replace('args = [{ name = "A", type = "INTEGER" }]', 'args = [{ type = "INTEGER" }]'),
     "MY_PROC.args[0]: missing 'name'"),
    (MINIMAL.replace("columns = [{ name = \"X\", type = \"VARCHAR(10)\" }]\n", ""), "MY_PROC.columns"),
    (MINIMAL.replace("[MY_PROC]", "[MY-PROC]"), "MY-PROC"),
    ("MY_PROC = 5\n", "MY_PROC"),
    ("[MY_PROC\nmode = 1\n", "syntax"),
])
def test_loader_errors_name_file_procedure_and_field(text: str, where: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_catalogue(text, "/etc/soap-gateway/site.toml")
    message = str(info.value)
    assert message.startswith("catalogue /etc/soap-gateway/site.toml: "), message
    assert where in message, message


def test_minimal_site_procedure_parses() -> None:
    (proc,) = parse_catalogue(MINIMAL, "site.toml").values()
    assert proc.name == "MY_PROC" and proc.mode == "read" and proc.session and proc.source == "site.toml"
    assert [a.name for a in proc.args] == ["A"] and not proc.args[0].required
    assert proc.column("x").type == Text("VARCHAR(10)", 10)


# --- a site's extra files and argument counts ----------------------------------------------------

def test_site_file_adds_a_procedure(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(MINIMAL.replace("MY_PROC", "SITE_TARIFF_LIST"), encoding="utf-8")
    catalogue = load_catalogue([site])
    assert set(catalogue) == VENDOR_PROCEDURES | {"SITE_TARIFF_LIST"}
    assert catalogue["SITE_TARIFF_LIST"].source == str(site)


def test_site_file_cannot_silently_redefine_a_builtin(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(MINIMAL.replace("MY_PROC", "CLN_SWITCH_LIST"), encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        load_catalogue([site])
    assert str(site) in str(info.value) and "CLN_SWITCH_LIST" in str(info.value)
    assert "replace = true" in str(info.value)

    site.write_text(MINIMAL.replace("MY_PROC", "CLN_SWITCH_LIST").replace('mode = "read"', 'mode = "read"\nreplace = true'),
                    encoding="utf-8")
    catalogue = load_catalogue([site])
    assert [a.name for a in catalogue["CLN_SWITCH_LIST"].args] == ["A"]
    assert catalogue["CLN_SWITCH_LIST"].source == str(site)
    assert len(catalogue) == 11
    # the built-in definition itself is untouched for the next load
    assert [a.name for a in load_catalogue()["CLN_SWITCH_LIST"].args] == ["P_ID", "P_HOME_ID"]


def test_a_second_site_file_cannot_silently_redefine_the_first(tmp_path: Path) -> None:
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text(MINIMAL, encoding="utf-8")
    second.write_text(MINIMAL, encoding="utf-8")
    with pytest.raises(ConfigurationError, match="b.toml: MY_PROC: already defined"):
        load_catalogue([first, second])


def test_unreadable_site_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigurationError, match=re.escape(str(missing))):
        load_catalogue([missing])


def test_arg_counts_drops_trailing_arguments() -> None:
    catalogue = load_catalogue(arg_counts={"CLN_USR_FIND_2": 23})
    proc = catalogue["CLN_USR_FIND_2"]
    assert len(proc.args) == 23 and proc.args[-1].name == "SMS_IN"
    assert "NAS_IP" not in {a.name for a in proc.args}
    assert len(proc.columns) == 15 and proc.doc_en and proc.mode == "read"
    assert len(load_catalogue()["CLN_USR_FIND_2"].args) == 24  # the built-in stays as it is
    # dropping optional or fixed trailing arguments is allowed
    assert len(load_catalogue(arg_counts={"CLN_FIN_OPER_ADD": 6})["CLN_FIN_OPER_ADD"].args) == 6
    assert len(load_catalogue(arg_counts={"CLN_USR_FIND_2": 24})["CLN_USR_FIND_2"].args) == 24


@pytest.mark.parametrize("counts, message", [
    ({"CLN_FIN_OPER_ADD": 2}, "cannot drop required arguments (SUMMA)"),
    ({"CLN_HOME_EDIT": 0}, "cannot drop required arguments (P_OP)"),
    ({"CLN_USR_FIND_2": 25}, "takes at most 24 arguments"),
    ({"CLN_USR_FIND_2": -1}, "takes at most 24 arguments"),
    ({"NO_SUCH_PROC": 1}, "unknown procedure 'NO_SUCH_PROC'"),
])
def test_arg_counts_refusals(counts: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_catalogue(arg_counts=counts)
    assert message in str(info.value)
    assert "arg_counts" in str(info.value)


def test_a_replaced_procedure_must_still_serve_the_lookups_that_use_it(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(MINIMAL.replace("MY_PROC", "CLN_USR_GET").replace('mode = "read"', 'mode = "read"\nreplace = true'),
                    encoding="utf-8")
    with pytest.raises(ConfigurationError, match="WEB_USER_PROMISE_PAY.lookup.subscriber.by: CLN_USR_GET has no "
                                                 "argument 'SELECT_ID'"):
        load_catalogue([site])
