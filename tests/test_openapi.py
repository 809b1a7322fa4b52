"""The OpenAPI document as a contract: valid OpenAPI 3.1, committed copy in sync, served as generated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator

from soap_gateway.catalogue import load_catalogue
from soap_gateway.config import Settings
from soap_gateway.rest import openapi_document

OPENAPI_FILE = Path(__file__).parent.parent / "openapi" / "billing.json"


def test_committed_openapi_matches_the_code() -> None:
    assert openapi_document(Settings()) == OPENAPI_FILE.read_bytes(), (
        "openapi/billing.json drifted from the catalogue; regenerate it with "
        "`soap-gateway openapi --out openapi/billing.json` and review the diff as a contract change")


def test_the_document_is_valid_openapi_3_1() -> None:
    validate(json.loads(OPENAPI_FILE.read_bytes()), cls=OpenAPIV31SpecValidator)


def test_every_operation_with_its_arguments() -> None:
    document = json.loads(OPENAPI_FILE.read_bytes())
    catalogue = load_catalogue()
    assert sorted(p.lstrip("/") for p in document["paths"]) == sorted(catalogue)
    for name, proc in catalogue.items():
        item = document["paths"][f"/{name}"]
        assert ("get" in item) == (proc.mode == "read"), name  # a write or a login: POST only
        request = document["components"]["schemas"][f"{name}_Request"]
        assert set(request["properties"]) == {a.name for a in proc.params}
        assert set(request["required"]) == {a.name for a in proc.params if a.required}
        assert request["additionalProperties"] is False
        assert all(request["properties"][a.name]["description"] for a in proc.params)


def test_types_formats_and_facets() -> None:
    schemas = json.loads(OPENAPI_FILE.read_bytes())["components"]["schemas"]
    add = schemas["CLN_FIN_OPER_ADD_Request"]["properties"]
    assert add["USER_ID"] == {**add["USER_ID"], "type": "integer", "format": "int32", "minimum": -2**31,
                              "maximum": 2**31 - 1}
    assert add["SUMMA"]["type"] == "string" and add["SUMMA"]["format"] == "decimal"
    assert add["OP_DATE"]["format"] == "date-time"
    assert add["NUMBER"]["maxLength"] == 10
    row = schemas["CLN_USR_GET_Result"]
    assert row["properties"]["BALANCE"]["pattern"] == "^-?[0-9]{1,13}\\.[0-9]{2}$"
    assert row["properties"]["IP"]["type"] == ["string", "null"] and row["properties"]["IP"]["format"] == "ipv4"
    assert set(row["required"]) >= {"NAME", "BALANCE"}  # every column present, null when absent
    assert "Problem" in schemas and schemas["Problem"]["required"][-2:] == ["code", "correlationId"]


def test_idempotent_writes_take_the_key_and_answer_a_conflict() -> None:
    document = json.loads(OPENAPI_FILE.read_bytes())
    post = document["paths"]["/CLN_FIN_OPER_ADD"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in post["parameters"]]
    assert "422" in post["responses"]
    assert document["components"]["securitySchemes"]["basic"] == {**document["components"][
        "securitySchemes"]["basic"], "type": "http", "scheme": "basic"}


def test_served_document_is_the_generated_one(gateway_server: Any) -> None:
    response = requests.get(f"{gateway_server.url}/api/openapi.json", timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    assert response.content == OPENAPI_FILE.read_bytes()
