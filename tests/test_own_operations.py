"""An operation of the gateway's own, declared once (soap_gateway.operations.declare), is offered by
both facades: in the WSDL and the OpenAPI document, callable over SOAP and REST, selected by roles."""

from __future__ import annotations

import decimal
from typing import Any, Iterator

import pytest
import requests
import zeep

from securing import secured_gateway
from soap_gateway.backend import Row
from soap_gateway.catalogue import Argument, Catalogue, Column, Procedure
from soap_gateway.catalogue.types import parse_type
from soap_gateway.operations import OwnOperation, declare, withdraw
from soap_gateway.security.settings import AuthSettings, RoleSettings

NAME = "GW_DEBT_CHECK"


def debt_check(catalogue: Catalogue) -> list[OwnOperation]:
    spec = Procedure(
        name=NAME, mode="read", result="row", source="gateway",
        args=(Argument("USER_ID", parse_type("INTEGER"), required=True, doc_ru="id абонента",
                       doc_en="subscriber id"),),
        columns=(Column("USER_ID", parse_type("INTEGER")), Column("BALANCE", parse_type("NUMERIC(15,2)")),
                 Column("IN_DEBT", parse_type("SMALLINT"))),
        doc_ru="Должен ли абонент", doc_en="Whether a subscriber is in debt")

    def run(gateway: Any, call: Any, args: dict[str, Any]) -> list[Row]:
        (user,) = gateway.invoke("CLN_USR_GET", {"SELECT_ID": args["USER_ID"]}, credentials=call.credentials)
        balance = decimal.Decimal(user["BALANCE"])
        return [Row({"USER_ID": args["USER_ID"], "BALANCE": balance, "IN_DEBT": int(balance < 0)})]

    return [OwnOperation(spec, run)]


@pytest.fixture(scope="module")
def server(gateway_settings: Any) -> Iterator[Any]:
    declare(debt_check)
    try:
        with secured_gateway(gateway_settings, AuthSettings(mode="none")) as gateway:
            yield gateway
    finally:
        withdraw(debt_check)


def test_it_is_described_by_both_facades(server: Any) -> None:
    assert f'name="{NAME}"'.encode() in requests.get(f"{server.url}/soap?wsdl", timeout=10).content
    document = requests.get(f"{server.url}/api/openapi.json", timeout=10).json()
    assert set(document["paths"][f"/{NAME}"]) == {"get", "post"}
    assert f'id="{NAME}"'.encode() in requests.get(f"{server.url}/", timeout=10).content  # the help page


def test_it_answers_over_rest_and_soap_alike(server: Any) -> None:
    rest = requests.get(f"{server.url}/api/v1/{NAME}", params={"USER_ID": 101}, timeout=30)
    assert rest.status_code == 200, rest.text
    client = zeep.Client(f"{server.url}/soap?wsdl", settings=zeep.Settings(strict=True, force_https=False))
    soap = client.service.GW_DEBT_CHECK(USER_ID=101)
    assert rest.json() == {"USER_ID": 101, "BALANCE": f"{soap.BALANCE:.2f}", "IN_DEBT": soap.IN_DEBT}


@pytest.mark.parametrize("selector, status", [("mode:read", 200), (NAME, 200), ("tag:payment", 403)])
def test_roles_select_it_like_a_procedure(gateway_settings: Any, selector: str, status: int) -> None:
    auth = AuthSettings(mode="none", anonymous_roles=("only",), roles={"only": RoleSettings(operations=(selector,))})
    declare(debt_check)
    try:
        with secured_gateway(gateway_settings, auth) as gateway:
            response = requests.get(f"{gateway.url}/api/v1/{NAME}", params={"USER_ID": 101}, timeout=30)
    finally:
        withdraw(debt_check)
    assert response.status_code == status, response.text
