"""The page for humans at ``GET /``: every operation with its words, parameters, reply and a sample envelope.

Derived, never written per operation: descriptions and billing types come from
the catalogue, XML types, lengths, occurrence and reply types from the WSDL the
gateway publishes, so the page cannot disagree with either.  Rendered once per
language at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jinja2
from lxml import etree

from ..catalogue import Catalogue, Procedure

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
LANGUAGES = ("ru", "en")
_FACETS = ("maxLength", "totalDigits", "fractionDigits", "pattern")


@dataclass(frozen=True)
class Field:
    """One element of a request or a reply row, as the WSDL declares it."""

    name: str
    xsd_type: str
    base: str
    required: bool
    facets: dict[str, str] = field(default_factory=dict)
    billing_type: str = ""
    doc_ru: str = ""
    doc_en: str = ""

    @property
    def length(self) -> str:
        return self.facets.get("maxLength", "")


@dataclass(frozen=True)
class Operation:
    name: str
    mode: str
    doc_ru: str
    doc_en: str
    note: str
    params: list[Field]
    reply_type: str
    columns: list[Field]
    sample: str


class _Schema:
    """Lookups in the WSDL's one schema: named complex and simple types."""

    def __init__(self, wsdl: bytes) -> None:
        root = etree.fromstring(wsdl)
        (self.schema,) = root.findall(f"{{{WSDL_NS}}}types/{{{XS}}}schema")
        self.tns = self.schema.get("targetNamespace", "")
        self.complex = {e.get("name"): e for e in self.schema.findall(f"{{{XS}}}complexType")}
        self.simple = {e.get("name"): e for e in self.schema.findall(f"{{{XS}}}simpleType")}

    def fields(self, type_name: str) -> list[Field]:
        complex_type = self.complex.get(type_name)
        if complex_type is None:
            return []
        return [self._field(e) for e in complex_type.iterfind(f"{{{XS}}}sequence/{{{XS}}}element")]

    def first_type(self, type_name: str) -> str:
        """The type of the first element of a complex type (a response's result, an array's item)."""
        fields = self.fields(type_name)
        return fields[0].xsd_type.partition(":")[2] if fields else ""

    def _field(self, element: Any) -> Field:
        qname = etree.QName(_resolve(element, element.get("type", "")))
        facets: dict[str, str] = {}
        base = qname
        if qname.namespace == self.tns and qname.localname in self.simple:
            restriction = self.simple[qname.localname].find(f"{{{XS}}}restriction")
            assert restriction is not None, qname  # the WSDL is ours: every simple type is a restriction
            base = etree.QName(_resolve(restriction, restriction.get("base", "")))
            for facet in _FACETS:
                found = restriction.find(f"{{{XS}}}{facet}")
                if found is not None:
                    facets[facet] = found.get("value", "")
        return Field(element.get("name", ""), _short(base) if facets else _short(qname), _short(base),
                     element.get("minOccurs", "1") != "0", facets)


def _resolve(element: Any, prefixed: str) -> str:
    prefix, _, local = prefixed.rpartition(":")
    return f"{{{element.nsmap.get(prefix or None, '')}}}{local}"


def _short(qname: etree.QName) -> str:
    return f"xs:{qname.localname}" if qname.namespace == XS else f"tns:{qname.localname}"


def sample_value(item: Field, choices: tuple[int, ...] = ()) -> str:
    """A value the schema accepts, to show the shape of the element."""
    if choices:
        return str(choices[0])
    base = item.base
    if base in ("xs:int", "xs:short", "xs:long", "xs:integer"):
        return "1"
    if base == "xs:decimal":
        return "100." + "0" * int(item.facets.get("fractionDigits", "2"))
    if base == "xs:dateTime":
        return "2024-01-31T12:00:00"
    if base == "xs:date":
        return "2024-01-31"
    if base == "xs:boolean":
        return "false"
    if "pattern" in item.facets:  # the only patterned strings are dotted IPv4 addresses
        return "10.0.0.1"
    return "текст"[: int(item.length or 5)]


def sample_envelope(tns: str, name: str, params: list[Field], proc: Procedure) -> str:
    """A request ready to POST: required elements filled in, optional ones commented out."""
    choices = {a.name: a.choices for a in proc.params}
    lines = []
    for item in params:
        element = f"<b:{item.name}>{sample_value(item, choices.get(item.name, ()))}</b:{item.name}>"
        lines.append(f"      {element}" if item.required else f"      <!--optional: {element} -->")
    body = "\n".join(lines)
    inner = f"    <b:{name}>\n{body}\n    </b:{name}>" if lines else f"    <b:{name}/>"
    return (f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:b="{tns}">\n'
            f"  <soapenv:Body>\n{inner}\n  </soapenv:Body>\n</soapenv:Envelope>")


def build_operations(catalogue: Catalogue, wsdl: bytes) -> list[Operation]:
    schema = _Schema(wsdl)
    operations = []
    for name, proc in sorted(catalogue.items()):
        args = {a.name: a for a in proc.params}
        params = [_described(f, args.get(f.name)) for f in schema.fields(name)]
        reply_type = schema.first_type(f"{name}Response")
        row_type = schema.first_type(reply_type) if reply_type.startswith("ArrayOf") else reply_type
        columns_by_name = {c.name: c for c in proc.columns}
        columns = [_described(f, columns_by_name.get(f.name)) for f in schema.fields(row_type)]
        operations.append(Operation(name, proc.mode, proc.doc_ru, proc.doc_en, proc.note, params, reply_type,
                                    columns, sample_envelope(schema.tns, name, params, proc)))
    return operations


def _described(item: Field, source: Any) -> Field:
    if source is None:
        return item
    return Field(item.name, item.xsd_type, item.base, item.required, item.facets, source.type.billing,
                 source.doc_ru, source.doc_en)


LABELS = {
    "ru": {"title": "Шлюз SOAP к биллингу", "lead": "SOAP 1.1-сервис: каждая операция — хранимая процедура "
           "биллинга с тем же именем, аргументами и колонками.", "operations": "Операции",
           "parameters": "Параметры", "name": "Имя", "type": "Тип XML", "length": "Длина",
           "required": "Обязательный", "billing_type": "Тип в биллинге", "description": "Описание",
           "yes": "да", "no": "нет", "reply": "Ответ", "reply_type": "Тип ответа", "columns": "Колонки",
           "sample": "Пример запроса", "no_params": "Без параметров.", "wsdl": "WSDL",
           "rest": "REST (JSON): справочник и OpenAPI",
           "endpoint": "Адрес SOAP", "mode": {"read": "чтение", "write": "запись", "login": "вход"},
           "other": "English", "sample_note": "POST на адрес SOAP с заголовком Content-Type: text/xml; "
           "charset=utf-8. Необязательные элементы закомментированы."},
    "en": {"title": "SOAP gateway to the billing", "lead": "A SOAP 1.1 service: each operation is the billing's "
           "stored procedure of the same name, with its arguments and columns.", "operations": "Operations",
           "parameters": "Parameters", "name": "Name", "type": "XML type", "length": "Length",
           "required": "Required", "billing_type": "Billing type", "description": "Description",
           "yes": "yes", "no": "no", "reply": "Reply", "reply_type": "Reply type", "columns": "Columns",
           "sample": "Sample request", "no_params": "No parameters.", "wsdl": "WSDL",
           "rest": "REST (JSON): reference and OpenAPI",
           "endpoint": "SOAP address", "mode": {"read": "read", "write": "write", "login": "login"},
           "other": "Русский", "sample_note": "POST it to the SOAP address with Content-Type: text/xml; "
           "charset=utf-8. Optional elements are commented out."},
}


class HelpPage:
    """The rendered page per language; built once, served as bytes."""

    def __init__(self, catalogue: Catalogue, wsdl: bytes, soap_address: str) -> None:
        environment = jinja2.Environment(loader=jinja2.PackageLoader(__package__, "templates"),
                                         autoescape=True, trim_blocks=True, lstrip_blocks=True)
        template = environment.get_template("help.html")
        operations = build_operations(catalogue, wsdl)
        self.pages = {lang: template.render(lang=lang, other="en" if lang == "ru" else "ru", t=LABELS[lang],
                                            operations=operations, soap_address=soap_address).encode("utf-8")
                      for lang in LANGUAGES}

    def render(self, lang: str) -> bytes:
        return self.pages.get(lang, self.pages["ru"])
