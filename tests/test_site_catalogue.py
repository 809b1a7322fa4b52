"""A site's own procedure, added by an extra catalogue file, without code: WSDL, zeep call, help page, metrics.

The emulator lists only the vendor page's procedures, so the test teaches this
one emulator a site procedure through its test-only hook (emulator/site.py).
"""

from __future__ import annotations

import dataclasses
import sqlite3
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

@pytest.fixture(scope="module")
def execute_server(gateway_settings: Settings) -> Iterator[BackgroundServer]:
    settings = gateway_settings.replace(
        billing=dataclasses.replace(gateway_settings.billing, execute_procedures=(PROC,)))
    with gateway_in_thread(settings, lambda s: Gateway(BillingClient.from_settings(s.billing))) as server:
        yield server


def test_no_execute_operation_by_default(gateway_server: Any) -> None:
    assert b"EXECUTE" not in gateway_server.app.by_name["soap"].wsdl


def test_execute_runs_a_listed_procedure(execute_server: BackgroundServer, site_emulator: Any) -> None:
    client = site_client(execute_server)
    (row,) = client.service.EXECUTE(PROCEDURE=PROC, ARGS={"ARG": ["101"]})
    columns = {c.NAME.upper(): c.VALUE for c in row.COLUMNS.ExtraColumn}
    assert columns["CONTRACT_NUMBER"] == "Д-2024/001" and columns["ID"] == "101"
    metrics = requests.get(f"{execute_server.url}/metrics", timeout=10).text
    assert 'soap_gateway_requests_total{facade="soap",operation="EXECUTE",outcome="ok"}' in metrics


def test_execute_refuses_what_the_config_does_not_list(execute_server: BackgroundServer,
                                                       site_emulator: Any) -> None:
    site_emulator.reset_stats()
    with pytest.raises(zeep.exceptions.Fault) as caught:
        site_client(execute_server).service.EXECUTE(PROCEDURE="CLN_USR_USLUGA_EDIT", ARGS={"ARG": ["1"]})
    assert caught.value.code.endswith("Client.PermissionDenied")
    assert not [r for r in site_emulator.requests() if r.proc == "CLN_USR_USLUGA_EDIT"]  # never sent


def test_execute_cannot_shadow_a_catalogue_operation(gateway_settings: Settings) -> None:
    from soap_gateway.errors import ConfigurationError

    settings = gateway_settings.replace(
        billing=dataclasses.replace(gateway_settings.billing, execute_procedures=("CLN_FIN_OPER_ADD",)))
    gateway = Gateway(BillingClient.from_settings(settings.billing))
    with pytest.raises(ConfigurationError, match="execute_procedures: CLN_FIN_OPER_ADD is in the catalogue"):
        create_app(settings, gateway)
    gateway.close()
