"""The OpenAPI 3.1 document of the REST facade, generated from the operations like the WSDL.

Every operation, argument (type, format, maxLength, minimum/maximum, enum,
required), reply row and error is derived from the catalogue; the words are
the catalogue's, Russian then English.  ``soap-gateway openapi`` writes it;
``openapi/billing.json`` is the committed copy (tests/test_openapi.py keeps
it current).
"""

from __future__ import annotations

import json
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from .. import __version__
from ..catalogue import Catalogue, Column, Procedure, load_catalogue
from ..catalogue.types import Integer, Money, Text, ValueType
from ..config import Settings
from ..operations import EXTRA_FIELD, KEY_MAX_LEN, Operation, documentation, operations
from .problems import problem_schema

# Characters the billing's XML cannot carry; the argument check refuses them.
_PRINTABLE = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\uFFFE\\uFFFF]*$"
_WALL_CLOCK = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}$"
_ERRORS = {
    "400": "Неверные аргументы или запрос / invalid arguments or request (VALIDATION_ERROR, BAD_REQUEST; "
           "INVALID_ARGUMENT: the billing refused a value)",
    "401": "Требуется аутентификация / authentication required (AUTHENTICATION_REQUIRED)",
    "403": "Адрес, роль или логин биллинга не позволяют / address, role or billing login refused "
           "(ADDRESS_NOT_ALLOWED, PERMISSION_DENIED, AUTHENTICATION_FAILED; NOT_PERMITTED: the billing's rules)",
    "404": "Биллинг не нашёл запрошенное / the billing does not know the record asked for (NOT_FOUND)",
    "408": "Тело запроса не пришло вовремя / the body did not arrive within server.body_timeout (REQUEST_TIMEOUT)",
    "409": "Такая запись в биллинге уже есть / the billing already has it (DUPLICATE)",
    "413": "Слишком большой запрос / the body is over server.max_body_bytes (REQUEST_TOO_LARGE)",
    "502": "Биллинг вернул ошибку или неверный ответ / the billing reported an error or answered badly "
           "(BILLING_ERROR, BILLING_TLS, BILLING_MALFORMED_REPLY)",
    "503": "Биллинг или журнал недоступны / the billing or the journal is unavailable (BILLING_UNAVAILABLE, "
           "BILLING_CIRCUIT_OPEN, SESSION_EXPIRED, JOURNAL_UNAVAILABLE)",
    "504": "Биллинг не ответил вовремя / the billing did not answer in time (BILLING_TIMEOUT, OUTCOME_UNKNOWN: "
           "retry a write with the same Idempotency-Key)",
}
_CONFLICT = ("Ключ идемпотентности уже использован для другого запроса / the Idempotency-Key was used for a "
             "different request (IDEMPOTENCY_CONFLICT)")
_DESCRIPTION = (
    "Процедуры биллинга как JSON по HTTP: те же операции, аргументы, роли и ошибки, что и у SOAP-сервиса "
    "(/soap?wsdl). Деньги — строки с двумя знаками после точки (\"350.00\"), время — ISO 8601.\n\n"
    "The billing's procedures as JSON over HTTP: the same operations, arguments, roles and errors as the "
    "SOAP service (/soap?wsdl). Reads: GET with query parameters or POST with a JSON object; writes: POST. "
    "Money is a decimal string with exactly two fraction digits, never a binary float; timestamps are "
    "ISO 8601; absent values are null. Lists stream as a JSON array, or as NDJSON (one row per line) with "
    "`Accept: application/x-ndjson`. Errors are RFC 9457 problem documents with the same code and "
    "correlation id as the SOAP fault. See docs/rest.md."
)


def openapi_document(settings: Settings, catalogue: Catalogue | None = None,
                     offered: Iterable[Operation] | None = None) -> bytes:
    """The document as served and committed: stable UTF-8 JSON (``soap-gateway openapi``, the drift test)."""
    if offered is None:
        catalogue = catalogue or load_catalogue(settings.billing.catalogue_files, settings.billing.arg_counts)
        zone = ZoneInfo(settings.billing.timezone) if settings.server.datetime_output == "offset" else None
        offered = operations(catalogue, None, zone, settings.server.buffer_rows,
                             marked=settings.journal.evidence == "marker").values()
    document = build_openapi(offered, settings)
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def build_openapi(operations: Iterable[Operation], settings: Settings) -> dict[str, Any]:
    offset = settings.server.datetime_output == "offset"
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"Problem": problem_schema(), "ExtraColumn": {
        "type": "object", "required": ["NAME", "VALUE"], "additionalProperties": False,
        "description": "Столбец ответа, которого нет в каталоге / a reply column the catalogue does not know",
        "properties": {"NAME": {"type": "string"}, "VALUE": {"type": ["string", "null"]}}}}
    for operation in sorted(operations, key=lambda o: o.name):
        proc = operation.proc
        schemas[f"{proc.name}_Request"] = _request(operation)
        schemas[f"{proc.name}_{_suffix(proc)}"] = _row(proc, offset)
        paths[f"/{proc.name}"] = _path(operation)
    return {
        "openapi": "3.1.0",
        "info": {"title": "BillingGateway REST API", "version": __version__, "description": _DESCRIPTION},
        "servers": [{"url": "/api/v1", "description": "this gateway"}],
        "security": [{"basic": []}, {}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {"Problem": {
                "description": "Ошибка / an error (RFC 9457)",
                "headers": {"X-Correlation-ID": {"$ref": "#/components/headers/X-Correlation-ID"}},
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
            "headers": {"X-Correlation-ID": {
                "description": "Идентификатор запроса в журналах / the request's id in the logs (the caller's "
                               "own X-Correlation-ID when it is a plain token)",
                "schema": {"type": "string"}}},
            "securitySchemes": {"basic": {
                "type": "http", "scheme": "basic",
                "description": "auth.mode basic (gateway users) or pass-through (the cashier's billing login); "
                               "none when auth.mode = none or a trusted proxy reports a client certificate"}},
        },
    }


def _suffix(proc: Procedure) -> str:
    return {"rows": "Row", "row": "Result"}.get(proc.result, "Status")


def _path(operation: Operation) -> dict[str, Any]:
    proc = operation.proc
    description = documentation(proc) + (f"\n\n{proc.note}" if proc.note else "")
    headers = _headers(operation)
    reply: dict[str, Any] = {"$ref": f"#/components/schemas/{proc.name}_{_suffix(proc)}"}
    if proc.result == "rows":
        reply = {"type": "array", "items": reply}
        description += ("\n\nСписок передаётся потоком; `Accept: application/x-ndjson` — по строке JSON на "
                        "запись.\nThe list streams; with `Accept: application/x-ndjson` it is one JSON "
                        "object per line.")
    responses: dict[str, Any] = {"200": {
        "description": "OK",
        "headers": {"X-Correlation-ID": {"$ref": "#/components/headers/X-Correlation-ID"}},
        "content": {"application/json": {"schema": reply}}}}
    for status, words in _ERRORS.items():
        responses[status] = {"$ref": "#/components/responses/Problem", "description": words}
    if proc.idempotent:
        responses["422"] = {"$ref": "#/components/responses/Problem", "description": _CONFLICT}
    tags = list(proc.tags) or ["read" if proc.mode == "read" else proc.mode]
    item: dict[str, Any] = {"post": {
        "operationId": proc.name, "summary": proc.doc_en or proc.doc_ru, "description": description,
        "tags": tags, "parameters": headers,
        "requestBody": {"required": any(a.required for a in operation.params), "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{proc.name}_Request"}}}},
        "responses": responses,
    }}
    if operation.by_query:
        query = [{"name": a.name, "in": "query", "required": a.required, "description": documentation(a),
                  "schema": _value(a.type, choices=a.choices, positive=a.positive)} for a in operation.params]
        item["get"] = {"operationId": f"{proc.name}_query", "summary": item["post"]["summary"],
                       "description": description, "tags": tags, "parameters": [*query, *headers],
                       "responses": responses}
    return item


def _headers(operation: Operation) -> list[dict[str, Any]]:
    found = []
    if operation.proc.idempotent:
        found.append({"name": "Idempotency-Key", "in": "header", "required": False, "schema": {
            "type": "string", "minLength": 1, "maxLength": KEY_MAX_LEN, "pattern": "^[!-~]+$"},
            "description": "Ключ идемпотентности (тот же, что IDEMPOTENCY_KEY в SOAP) / the idempotency key, the "
                           "same as SOAP's IDEMPOTENCY_KEY: a retry with the same key and payload posts nothing "
                           "and returns the first answer (docs/money-safety.md)"})
    if operation.proc.session:
        found.append({"name": "X-Billing-SUID", "in": "header", "required": False,
                      "schema": {"type": "string", "pattern": "^-?[0-9]{1,18}$"},
                      "description": "SUID из CLN_AUTH_LOGIN: вызов в своей сессии биллинга / run the call in "
                                     "the caller's own billing session"})
    return found


def _request(operation: Operation) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False,
            "required": [a.name for a in operation.params if a.required],
            "properties": {a.name: {**_value(a.type, choices=a.choices, nullable=not a.required,
                                            positive=a.positive), "description": documentation(a)}
                           for a in operation.params}}


def _row(proc: Procedure, offset: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {c.name: _column(c, offset) for c in proc.columns}
    properties[EXTRA_FIELD] = {"type": "array", "items": {"$ref": "#/components/schemas/ExtraColumn"}}
    return {"type": "object", "additionalProperties": False, "required": [c.name for c in proc.columns],
            "properties": properties}


def _column(column: Column, offset: bool) -> dict[str, Any]:
    schema = _value(column.type, nullable=True, reply=True, offset=offset)
    schema["description"] = documentation(column)
    return schema


def _value(vt: ValueType, *, choices: tuple[int, ...] = (), nullable: bool = False, reply: bool = False,
           offset: bool = False, positive: bool = False) -> dict[str, Any]:
    """The JSON Schema of one value: an argument's (``reply`` False) or a reply column's."""
    schema: dict[str, Any]
    if isinstance(vt, Integer):
        limit = 1 << (vt.bits - 1)
        schema = {"type": "integer", "format": "int64" if vt.bits == 64 else "int32",
                  "minimum": -limit, "maximum": limit - 1}
        if choices:
            schema["enum"] = list(choices)
    elif isinstance(vt, Money):
        whole = vt.precision - vt.scale
        fraction = f"\\.[0-9]{{{vt.scale}}}" if reply else f"(\\.[0-9]{{1,{vt.scale}}})?"
        pattern = f"^-?[0-9]{{1,{whole}}}{fraction}$"
        if positive:  # > 0: a nonzero digit before the point, or after it (no lookahead: generators read it)
            small = "|".join("0" * i + f"[1-9][0-9]{{0,{vt.scale - i - 1}}}" for i in range(vt.scale))
            pattern = f"^(0*[1-9][0-9]{{0,{whole - 1}}}{fraction}|0*\\.({small}))$"
        schema = {"type": "string", "format": "decimal", "pattern": pattern, "examples": ["350.00"],
                  "x-billing-type": vt.billing}
    elif isinstance(vt, Text):
        schema = {"type": "string", "maxLength": vt.max_len}
        if not reply:
            schema["pattern"] = _PRINTABLE
    elif vt.kind == "ipv4":
        schema = {"type": "string", "format": "ipv4"}
    elif vt.kind == "datetime":
        schema = {"type": "string", "format": "date-time"} if offset or not reply else \
            {"type": "string", "pattern": _WALL_CLOCK, "description": "wall clock of the billing"}
    elif vt.kind == "date":
        schema = {"type": "string", "format": "date"}
    else:
        raise LookupError(f"no JSON type for value kind {vt.kind!r}")
    if nullable:
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema
