"""A site's own procedure, added by an extra catalogue file, without code: WSDL, zeep call, help page, metrics.

The emulator lists only the vendor page's procedures, so the test teaches this
one emulator a site procedure through its test-only hook (emulator/site.py).
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from typing import Any, Iterator

import pytest
import requests
import zeep

from serving import gateway_in_thread
from soap_gateway.backend import BillingClient
from soap_gateway.config import Settings, check_runtime
from soap_gateway.core import Gateway
from soap_gateway.devserver import BackgroundServer
from soap_gateway.emulator.model import Context, Result
from soap_gateway.emulator.signatures import fields
from soap_gateway.emulator.site import add_site_procedure, remove_site_procedure
from soap_gateway.application import create_app

PROC = "SITE_USR_CONTRACT"
SITE_CATALOGUE = f"""
[{PROC}]
mode = "read"
result = "row"
doc_ru = "Договор и баланс абонента (процедура площадки)."
doc_en = "A subscriber's contract and balance (a site procedure)."
args = [
  {{ name = "USER_ID", type = "INTEGER", required = true, doc_ru = "ID абонента", doc_en = "subscriber id" }},
]
columns = [
  {{ name = "ID", type = "INTEGER", doc_ru = "ID абонента", doc_en = "subscriber id" }},
  {{ name = "CONTRACT_NUMBER", type = "VARCHAR(32)", doc_ru = "номер договора", doc_en = "contract number" }},
  {{ name = "BALANCE", type = "NUMERIC(15,2)", doc_ru = "баланс", doc_en = "balance" }},
]
"""
COLUMNS = fields("ID integer; CONTRACT_NUMBER varchar(32); BALANCE numeric(15,2)")


def contract(conn: sqlite3.Connection, args: dict[str, Any], ctx: Context) -> Result:
    row = conn.execute("SELECT USER_ID, CONTRACT_NUMBER, BALANCE FROM users WHERE USER_ID = ?",
                       (args["USER_ID"],)).fetchone()
    return Result(COLUMNS, [row] if row else [], single=True)


@pytest.fixture(scope="module")
def site_server(gateway_settings: Settings, emulator: Any, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[BackgroundServer]:
    path = tmp_path_factory.mktemp("site") / "site.toml"
    path.write_text(SITE_CATALOGUE, encoding="utf-8")
    settings = gateway_settings.replace(
        billing=dataclasses.replace(gateway_settings.billing, catalogue_files=(str(path),)))
    check_runtime(settings)
    with gateway_in_thread(settings, lambda s: Gateway(BillingClient.from_settings(s.billing))) as server:
        yield server


@pytest.fixture
def site_emulator(emulator: Any) -> Iterator[Any]:
    add_site_procedure(emulator, PROC, "USER_ID integer", contract)
    yield emulator
    remove_site_procedure(emulator, PROC)


def site_client(server: BackgroundServer) -> Any:
    return zeep.Client(f"{server.url}/soap?wsdl", settings=zeep.Settings(strict=True, force_https=False))


def test_the_built_in_catalogue_does_not_have_it(gateway_server: Any) -> None:
    assert PROC not in gateway_server.app.gateway.catalogue
    assert PROC.encode() not in gateway_server.app.by_name["soap"].wsdl


def test_zeep_calls_the_site_procedure(site_server: BackgroundServer, site_emulator: Any) -> None:
    result = site_client(site_server).service.SITE_USR_CONTRACT(USER_ID=101)
    assert (result.ID, result.CONTRACT_NUMBER) == (101, "Д-2024/001")
    assert result.BALANCE == site_emulator.balance(101)
    (call,) = [r for r in site_emulator.requests() if r.proc == PROC][-1:]
    assert call.proc == PROC


def test_without_the_emulator_hook_the_billing_does_not_know_it(site_server: BackgroundServer) -> None:
    with pytest.raises(zeep.exceptions.Fault) as caught:
        site_client(site_server).service.SITE_USR_CONTRACT(USER_ID=101)
    assert caught.value.code.endswith("Server.BillingError") and "Procedure unknown" in caught.value.message


def test_site_procedure_on_the_help_page_and_in_the_metrics(site_server: BackgroundServer,
                                                            site_emulator: Any) -> None:
    page = requests.get(f"{site_server.url}/?lang=en", timeout=10).text
    assert f'id="{PROC}"' in page and "A subscriber&#39;s contract and balance" in page
    site_client(site_server).service.SITE_USR_CONTRACT(USER_ID=102)
    metrics = requests.get(f"{site_server.url}/metrics", timeout=10).text
    assert f'soap_gateway_requests_total{{facade="soap",operation="{PROC}",outcome="ok"}}' in metrics
    assert f'procedure="{PROC}"' in metrics


# -- the generic EXECUTE, off by default -----------------------------------------------------------

EXECUTE_USERS = {"reader1": ("Reader-pass-1", "reader"), "admin1": ("Admin-pass-1", "admin"),
                 "ops1": ("Ops-pass-1", "operator")}


@pytest.fixture(scope="module")
def execute_server(gateway_settings: Settings, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[BackgroundServer]:
    """EXECUTE enabled; callers by HTTP Basic: a reader, an admin, and a role that names only EXECUTE."""
    from securing import auth_from_toml
    from soap_gateway.security.passwords import hash_password

    tmp = tmp_path_factory.mktemp("execute")
    users = "".join(f'[auth.users.{name}]\npassword_hash = "{hash_password(password)}"\nroles = ["{role}"]\n'
                    for name, (password, role) in EXECUTE_USERS.items())
    auth = auth_from_toml(tmp, f'[auth]\nmode = "basic"\n[auth.roles.operator]\noperations = ["EXECUTE"]\n{users}')
    settings = gateway_settings.replace(
        billing=dataclasses.replace(gateway_settings.billing, execute_procedures=(PROC,), read_timeout=1.0),
        auth=auth, journal=dataclasses.replace(gateway_settings.journal, path=str(tmp / "journal.sqlite3")))
    with gateway_in_thread(settings) as server:
        yield server


def execute_client(server: BackgroundServer, user: str = "admin1") -> Any:
    from securing import soap_client

    return soap_client(server, user, EXECUTE_USERS[user][0])


def test_no_execute_operation_by_default(gateway_server: Any) -> None:
    assert b"EXECUTE" not in gateway_server.app.by_name["soap"].wsdl


def test_execute_runs_a_listed_procedure(execute_server: BackgroundServer, site_emulator: Any) -> None:
    (row,) = execute_client(execute_server).EXECUTE(PROCEDURE=PROC, ARGS={"ARG": ["101"]})
    columns = {c.NAME.upper(): c.VALUE for c in row.COLUMNS.ExtraColumn}
    assert columns["CONTRACT_NUMBER"] == "Д-2024/001" and columns["ID"] == "101"
    metrics = requests.get(f"{execute_server.url}/metrics", auth=("admin1", EXECUTE_USERS["admin1"][0]),
                           timeout=10).text
    assert 'soap_gateway_requests_total{facade="soap",operation="EXECUTE",outcome="ok"}' in metrics


def test_execute_refuses_what_the_config_does_not_list(execute_server: BackgroundServer,
                                                       site_emulator: Any) -> None:
    site_emulator.reset_stats()
    with pytest.raises(zeep.exceptions.Fault) as caught:
        execute_client(execute_server).EXECUTE(PROCEDURE="CLN_USR_USLUGA_EDIT", ARGS={"ARG": ["1"]})
    assert caught.value.code.endswith("Client.PermissionDenied")
    assert not [r for r in site_emulator.requests() if r.proc == "CLN_USR_USLUGA_EDIT"]  # never sent


def test_execute_is_authorized_like_every_operation(execute_server: BackgroundServer, site_emulator: Any) -> None:
    site_emulator.reset_stats()
    with pytest.raises(zeep.exceptions.Fault) as caught:
        execute_client(execute_server, "reader1").EXECUTE(PROCEDURE=PROC, ARGS={"ARG": ["101"]})
    assert caught.value.code.endswith("Client.PermissionDenied") and "EXECUTE" in caught.value.message
    assert not [r for r in site_emulator.requests() if r.proc == PROC]  # the billing never saw it
    (row,) = execute_client(execute_server, "ops1").EXECUTE(PROCEDURE=PROC, ARGS={"ARG": ["102"]})
    assert {c.NAME.upper(): c.VALUE for c in row.COLUMNS.ExtraColumn}["ID"] == "102"


def test_every_execute_is_audited_and_never_repeated(execute_server: BackgroundServer, site_emulator: Any) -> None:
    journal = execute_server.app.gateway.journal  # type: ignore[attr-defined]
    started = time.time()
    execute_client(execute_server).EXECUTE(PROCEDURE=PROC, ARGS={"ARG": ["103"]})
    site_emulator.add_fault("http_error", proc=PROC, status=502)
    site_emulator.reset_stats()
    with pytest.raises(zeep.exceptions.Fault) as caught:
        execute_client(execute_server).EXECUTE(PROCEDURE=PROC, ARGS={"ARG": ["104"]})
    assert caught.value.code.endswith("Server.OutcomeUnknown")
    assert len([r for r in site_emulator.requests() if r.proc == PROC]) == 1  # sent once, never again
    site_emulator.expire_sessions()
    site_emulator.clear_faults()
    site_emulator.reset_stats()
    with pytest.raises(zeep.exceptions.Fault) as expired:  # refused by the billing: not repeated either
        execute_client(execute_server).EXECUTE(PROCEDURE=PROC, ARGS={"ARG": ["105"]})
    assert expired.value.code.endswith("Server.SessionExpired")
    assert len([r for r in site_emulator.requests() if r.proc == PROC]) == 1
    records = journal.records(since=started, procedure=PROC)
    assert [(r.outcome, r.caller) for r in records] == [("pending", "admin1"), ("done", "admin1")] + [
        ("pending", "admin1"), ("unknown", "admin1"), ("pending", "admin1"), ("failed", "admin1")]
    assert all(r.detail.startswith("via EXECUTE") for r in records)


def test_an_execute_refused_for_its_arguments_is_audited(execute_server: BackgroundServer,
                                                          site_emulator: Any) -> None:
    journal = execute_server.app.gateway.journal  # type: ignore[attr-defined]
    started = time.time()
    site_emulator.reset_stats()
    with pytest.raises(zeep.exceptions.Fault) as caught:  # windows-1251 cannot hold it
        execute_client(execute_server).EXECUTE(PROCEDURE=PROC, ARGS={"ARG": ["101", "Ёлка 😀"]})
    assert caught.value.code.endswith("Client.ValidationError") and "ARG2" in caught.value.message
    assert not [r for r in site_emulator.requests() if r.proc == PROC]  # never sent
    (record,) = journal.records(since=started, procedure=PROC)
    assert (record.outcome, record.caller) == ("failed", "admin1")
    assert record.detail.startswith("via EXECUTE; refused before sending") and "ARG2" in record.detail


def test_execute_cannot_shadow_a_catalogue_operation(gateway_settings: Settings) -> None:
    from soap_gateway.errors import ConfigurationError

    settings = gateway_settings.replace(
        billing=dataclasses.replace(gateway_settings.billing, execute_procedures=("CLN_FIN_OPER_ADD",)))
    gateway = Gateway(BillingClient.from_settings(settings.billing))
    with pytest.raises(ConfigurationError, match="execute_procedures: CLN_FIN_OPER_ADD is in the catalogue"):
        create_app(settings, gateway)
    gateway.close()
