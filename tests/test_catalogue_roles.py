"""What the gateway calls by itself is declared in the catalogue as roles, and checked after a site's files."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from probe import Probe
from soap_gateway.catalogue import load_catalogue, parse_catalogue
from soap_gateway.errors import ConfigurationError
from soap_gateway.ops.health import billing_checks

# The built-in login, as a site would redefine it: its arguments renamed, the roles kept.
SITE_LOGIN = """
[CLN_AUTH_LOGIN]
replace = true
mode = "login"
result = "row"
session = false
roles = ["login"]
args = [
  { name = "USERNAME", type = "VARCHAR(32)", required = true, role = "login" },
  { name = "SECRET", type = "VARCHAR(64)", required = true, secret = true, role = "password" },
  { name = "MODE", type = "INTEGER", fixed = 0 },
]
columns = [{ name = "SUID", type = "NUMERIC(18,0)", secret = true, role = "session" }]
"""
SITE_PROBE = """
[SITE_PING]
mode = "read"
result = "rows"
roles = ["probe"]
columns = [{ name = "X", type = "INTEGER" }]
"""


def site(tmp_path: Path, text: str) -> str:
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_the_gateways_own_calls_are_declared_as_roles() -> None:
    catalogue = load_catalogue()
    login, probe = catalogue.role("login"), catalogue.role("probe")
    assert login.mode == "login" and not login.session
    assert login.argument("login") and login.argument("password") and login.role_column("session")
    assert probe.mode == "read" and probe.probe  # sent with arguments that touch nothing
    assert all(p.argument("subscriber") for p in catalogue.values() if p.idempotent)


@pytest.mark.parametrize("text, message", [
    (SITE_LOGIN.replace('roles = ["login"]\n', ""),
     "catalogue: exactly one procedure must have roles = ['login']; found none"),
    (SITE_LOGIN.replace(', role = "session"', ""), "{site}: CLN_AUTH_LOGIN.columns: no column has role = 'session'"),
    (SITE_LOGIN.replace(', role = "password"', ""),
     "{site}: CLN_AUTH_LOGIN.args: no argument the caller supplies has role = 'password'"),
    (SITE_LOGIN.replace('session = false', "session = true"), "{site}: CLN_AUTH_LOGIN.roles: the login procedure"),
    (SITE_PROBE, "exactly one procedure must have roles = ['probe']; found CLN_HOME_LIST in procedures.toml, "
                 "SITE_PING in {site}"),
    ('[CLN_HOME_LIST]\nreplace = true\nmode = "write"\nresult = "status"\nroles = ["probe"]\n'
     'args = [{ name = "P_ID", type = "INTEGER" }]\nprobe = { P_ID = -1 }\n',
     "{site}: CLN_HOME_LIST.roles: a probe must be a read"),
])
def test_a_site_file_cannot_lose_or_double_a_role(tmp_path: Path, text: str, message: str) -> None:
    path = site(tmp_path, text)
    with pytest.raises(ConfigurationError) as info:
        load_catalogue([path])
    assert message.format(site=path) in str(info.value)


def test_arg_counts_cannot_drop_the_probes_argument() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_catalogue(arg_counts={"CLN_HOME_LIST": 0})
    assert "procedures.toml: CLN_HOME_LIST.probe.P_ID: is not an argument the procedure takes here" in str(info.value)


@pytest.mark.parametrize("text, where", [
    (SITE_PROBE.replace('roles = ["probe"]', 'roles = ["health"]'), "SITE_PING.roles"),
    (SITE_PROBE.replace('type = "INTEGER" }', 'type = "INTEGER", role = "id" }'), "SITE_PING.columns[0] (X).role"),
    (SITE_PROBE + 'args = [{ name = "A", type = "INTEGER", role = "subscriber" }]\nprobe = { A = "x" }\n',
     "SITE_PING.probe.A"),
    (SITE_PROBE + 'probe = { B = 1 }\n', "SITE_PING.probe.B: is not an argument the caller supplies"),
    (SITE_PROBE + 'args = [{ name = "A", type = "VARCHAR(8)", role = "subscriber" }]\n',
     "SITE_PING.args (A).role: a subscriber is an INTEGER id"),
])
def test_role_mistakes_name_file_procedure_and_field(text: str, where: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        parse_catalogue(text, "/etc/soap-gateway/site.toml")
    assert f"catalogue /etc/soap-gateway/site.toml: {where}" in str(info.value)


def test_the_client_logs_in_through_the_declared_roles(make_client: Any, emulator: Any, tmp_path: Path) -> None:
    client = make_client(catalogue_files=(site(tmp_path, SITE_LOGIN),))
    probe = Probe(emulator)
    assert client.login(client.service_account)  # USERNAME and SECRET sent in the login's positions
    assert client.call("CLN_USR_GET", {"SELECT_ID": 101})[0]["LOGIN"] == "ivanov"
    assert [r.proc for r in probe.requests()][:1] == ["CLN_AUTH_LOGIN"]


def test_the_readiness_probe_is_the_catalogues(client: Any, emulator: Any) -> None:
    probe = Probe(emulator)
    checks = dict(billing_checks(client))
    assert checks["billing"]() == "CLN_HOME_LIST answered"
    assert [r.proc for r in probe.requests("CLN_HOME_LIST")] == ["CLN_HOME_LIST"]


PACKAGE = Path(__file__).parent.parent / "soap_gateway"
# Names in code that happen to equal a billing name but are ours: the published types of unknown
# columns (NAME, VALUE; EXECUTE's reply columns too) and of the caller's own session header (SUID).
OURS = {"soap/models.py": {"NAME", "SUID"}, "operations.py": {"NAME"}, "rest/openapi.py": {"NAME"},
        "soap/execute.py": {"NAME"}}
# The accounting operations' published field names are ours (docs/accounting.md), named like the payment's
# arguments by choice and kept in one module; what they call and read is found by role.
OURS["accounting/published.py"] = {"USER_ID", "CONTRACT_NUMBER", "OP_DATE", "SUMMA", "DESCR", "NUMBER", "ID"}


def test_no_billing_name_in_the_code() -> None:
    catalogue = load_catalogue()
    names = set(catalogue)
    for proc in catalogue.values():
        names |= {a.name for a in proc.args} | {c.name for c in proc.columns}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        if where.startswith(("catalogue/", "emulator/")):  # the emulator is the billing
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in names - OURS.get(where, set()):
                found.append(f"{where}:{node.lineno}: {node.value}")
    assert found == []


# -- the accounting operations' procedures, by role -----------------------------------------------------

def builtin_section(name: str) -> str:
    """A built-in procedure's table (and its lookup, if any) as a site file redefining it."""
    from importlib import resources

    text = resources.files("soap_gateway.catalogue").joinpath("procedures.toml").read_text(encoding="utf-8")
    start = text.index(f"[{name}]\n")
    end = text.find("\n[", text.find("\n[", start + 1) + 1) if f"[{name}.lookup]" in text else text.find("\n[", start + 1)
    return text[start:end].replace(f"[{name}]\n", f"[{name}]\nreplace = true\n", 1) + "\n"


@pytest.mark.parametrize("name, change, message", [
    ("CLN_USR_GET", ('roles = ["subscriber"]\n', ""),
     "catalogue: exactly one procedure must have roles = ['subscriber']; found none"),
    ("CLN_USR_GET", (', role = "contract"', ""), "{site}: CLN_USR_GET.columns: no column has role = 'contract'"),
    ("CLN_USR_GET", (', role = "parent"', ""), "{site}: CLN_USR_GET.columns: no column has role = 'parent'"),
    ("CLN_USR_GET", ('result = "row"', 'result = "rows"'), "{site}: CLN_USR_GET.roles: reading a subscriber needs"),
    ("CLN_USR_FIND_2", (', role = "contract"', ""),
     "{site}: CLN_USR_FIND_2.args: no argument the caller supplies has role = 'contract'"),
    ("CLN_USR_FIND_2", ('type = "VARCHAR(32)", role = "contract"', 'type = "INTEGER", role = "contract"'),
     "{site}: CLN_USR_FIND_2.args: the argument with role = 'contract' must be text"),
    ("CLN_USR_FIND_2", ('type = "INTEGER", role = "subscriber"', 'type = "INTEGER"'),
     "{site}: CLN_USR_FIND_2.columns: no column has role = 'subscriber'"),
    ("CLN_FIN_OPER_ADD", ('roles = ["payment"]\n', ""),
     "catalogue: exactly one procedure must have roles = ['payment']; found none"),
    ("CLN_FIN_OPER_ADD", (', role = "subscriber"', ""),
     "{site}: CLN_FIN_OPER_ADD.args: no argument the caller supplies has role = 'subscriber'"),
    ("CLN_FIN_OPER_ADD", (', role = "record"', ""), "{site}: CLN_FIN_OPER_ADD.columns: no column has role = 'record'"),
    ("CLN_FIN_OPER_ADD", ('fixed = 2, role = "kind"', 'role = "kind"'),
     "{site}: CLN_FIN_OPER_ADD.args (OP_TYPE).role: the payment's kind is a fixed argument"),
    ("CLN_FIN_OPER_ADD", ('fixed = 2, role = "kind"', 'fixed = 2'),
     "procedures.toml: CLN_FIN_OPER.args (OP_TYPE_IN).role: lists operations by kind, but the payment "
     "CLN_FIN_OPER_ADD has no fixed argument with role = 'kind'"),
])
def test_a_site_file_cannot_lose_what_the_accounting_operations_call(tmp_path: Path, name: str,
                                                                     change: tuple[str, str], message: str) -> None:
    section = builtin_section(name)
    assert change[0] in section
    path = site(tmp_path, section.replace(change[0], change[1]))
    with pytest.raises(ConfigurationError) as info:
        load_catalogue([path])
    assert message.format(site=path) in str(info.value)


def test_the_payment_role_needs_a_write_reconciled_by_postings(tmp_path: Path) -> None:
    moved = (builtin_section("CLN_FIN_OPER_ADD").replace('roles = ["payment"]\n', "")
             + builtin_section("WEB_USER_PROMISE_PAY").replace("replace = true\n", 'replace = true\nroles = ["payment"]\n'))
    path = site(tmp_path, moved)
    with pytest.raises(ConfigurationError) as info:
        load_catalogue([path])
    assert f"{path}: WEB_USER_PROMISE_PAY.roles: the payment must be an idempotent write reconciled by its " \
           "postings" in str(info.value)


def test_arg_counts_cannot_drop_the_contract_searchs_argument() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_catalogue(arg_counts={"CLN_USR_FIND_2": 10})
    assert "procedures.toml: CLN_USR_FIND_2.args: no argument the caller supplies has role = 'contract'" in str(info.value)


# A billing whose payment and operations list take their arguments under other names: the accounting
# operations find them by role and by the payment's lookup (the billing's arguments are positional).
SITE_PAYMENT = """
[CLN_FIN_OPER_ADD]
replace = true
mode = "write"
result = "status"
roles = ["payment"]
idempotent = true
marker = "PURPOSE"
reconcile = "posting"
args = [
  { name = "PAYER", type = "INTEGER", role = "subscriber", required = true },
  { name = "PAID_AT", type = "TIMESTAMP", required = true },
  { name = "AMOUNT", type = "DOUBLE PRECISION", required = true, positive = true },
  { name = "PURPOSE", type = "VARCHAR(255)" },
  { name = "DOC_NO", type = "VARCHAR(10)" },
  { name = "KIND", type = "INTEGER", fixed = 2, role = "kind" },
  { name = "SPARE", type = "INTEGER", fixed_null = true },
]
columns = [{ name = "ID", type = "INTEGER", role = "record" }]

[CLN_FIN_OPER_ADD.lookup]
procedure = "CLN_FIN_OPER"
subscriber = { argument = "PAYER", by = "WHO", column = "USER_ID" }
amount = { argument = "AMOUNT", column = "SUMMA" }
time = { argument = "PAID_AT", from = "SINCE", to = "UNTIL", column = "OP_DATE" }
evidence = { column = "DESCR" }
number = { argument = "DOC_NO", column = "NUMBER" }
id = { column = "ID" }

[CLN_FIN_OPER]
replace = true
mode = "read"
result = "rows"
args = [
  { name = "WHO", type = "INTEGER", required = true },
  { name = "SINCE", type = "TIMESTAMP" },
  { name = "UNTIL", type = "TIMESTAMP" },
  { name = "FIN", type = "INTEGER" },
  { name = "KIND_IN", type = "INTEGER", role = "kind" },
  { name = "OPER", type = "INTEGER" },
  { name = "END_USER", type = "INTEGER" },
  { name = "FIN_USER", type = "INTEGER" },
  { name = "GROUP_IN", type = "INTEGER" },
]
columns = [
  { name = "ID", type = "INTEGER" },
  { name = "USER_ID", type = "INTEGER" },
  { name = "OP_DATE", type = "TIMESTAMP" },
  { name = "SUMMA", type = "NUMERIC(15,2)" },
  { name = "DESCR", type = "VARCHAR(255)" },
  { name = "NUMBER", type = "VARCHAR(10)" },
  { name = "OP_TYPE", type = "INTEGER" },
]
"""


def test_a_statement_posts_and_reconciles_under_a_sites_names(gateway_settings: Any, emulator: Any,
                                                             tmp_path: Path) -> None:
    import datetime as dt
    import uuid
    from decimal import Decimal

    from money import journal_path, running_gateway

    when, key = dt.datetime(2025, 11, 23, 10, 30), str(uuid.uuid4())
    with running_gateway(gateway_settings, journal_path(tmp_path), catalogue_files=(site(tmp_path, SITE_PAYMENT),)
                         ) as gw:
        (result,) = gw.service.GatewayPostPayments(LINES={"Line": [{
            "IDEMPOTENCY_KEY": key, "CONTRACT_NUMBER": "Д-2024/004", "OP_DATE": when, "SUMMA": Decimal("41.50"),
            "DESCR": "Оплата по выписке", "NUMBER": "B-17"}]})
        assert (result.STATUS, result.USER_ID, result.MESSAGE) == ("posted", 104, None)
        (posted,) = [op for op in emulator.fin_opers(104) if op["ID"] == result.ID]
        assert (posted["SUMMA"], posted["NUMBER"]) == (Decimal("41.50"), "B-17")
        assert posted["DESCR"] == f"{gw.journal.entry(key).marker} Оплата по выписке"
        report = gw.service.GatewayReconcile(FROM=when.replace(hour=0, minute=0),
                                             TO=when.replace(hour=23, minute=59, second=59), USER_ID=104)
        (mine,) = [p for p in report.PAYMENTS.Payment if p.IDEMPOTENCY_KEY == key]
        assert (mine.KIND, mine.BILLING_ID, mine.BILLING_SUMMA) == ("matched", result.ID, Decimal("41.50"))
