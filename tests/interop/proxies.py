"""Checks on generated proxy source: wrapped methods, the types the catalogue promises, no Specified flags.

Each check reads the source a generator wrote (Mono ``wsdl``, Mono ``svcutil``,
``wsimport``) and compares every operation's parameters and every result
field with the catalogue: the parameters in the vendor's order (a wrapped
method, not one taking a request object), each typed as its value kind says
(an integer is never ``string``, money is ``decimal``/``BigDecimal``), and
no ``…Specified`` flag on a required argument.
"""

from __future__ import annotations

import re
from pathlib import Path

from soap_gateway.catalogue import Catalogue, Procedure

CSHARP = {"short": "short", "int": "int", "long": "long", "decimal": "decimal", "datetime": "System.DateTime",
          "date": "System.DateTime", "string": "string", "ipv4": "string"}
JAVA = {"short": "Short", "int": "Integer", "long": "Long", "decimal": "BigDecimal",
        "datetime": "XMLGregorianCalendar", "date": "XMLGregorianCalendar", "string": "String", "ipv4": "String"}
_NULLABLE = re.compile(r"System\.Nullable<(.+)>")
_CS_PARAM = re.compile(r"(?:\[[^\]]*\]\s*)*([\w.<>\[\]]+)\s+(\w+)$")
_CS_PROPERTY = re.compile(r"public ([\w.<>\[\]]+) (\w+) \{")
_JAVA_PARAM = re.compile(r'@WebParam\(name = "(\w+)"[^)]*\)\s*([\w.<>]+) \w+')
_JAVA_FIELD = re.compile(r'@XmlElement\(name = "(\w+)"[^)]*\)\s*(?:@\w+\([^)]*\)\s*)*protected ([\w.<>]+) \w+;')


def result_class(proc: Procedure) -> str:
    return f"{proc.name}_" + {"rows": "Row", "row": "Result"}.get(proc.result, "Status")


def _compare(where: str, proc: Procedure, params: list[tuple[str, str]], fields: dict[str, str],
             types: dict[str, str], required_plain: bool = True) -> list[str]:
    """Problems of one operation: parameters (name, type) in order and result fields {name: type}."""
    found = []
    names = [name for name, _ in params]
    wanted = [a.name for a in proc.params] + (["IDEMPOTENCY_KEY"] if proc.idempotent else [])  # money-safety.md
    if names != wanted:
        found.append(f"{where}{proc.name}: parameters {names}, want the wrapped {wanted}")
    by_name = dict(params)
    for arg in proc.params:
        got = by_name.get(arg.name)
        want = types[arg.type.kind]
        if got is None:
            continue
        if arg.required and required_plain and got != want:
            found.append(f"{where}{proc.name}({arg.name}): {got}, want {want} (required: not nullable)")
        elif _unwrap(got) != want:
            found.append(f"{where}{proc.name}({arg.name}): {got}, want {want}")
    for column in proc.columns:
        got = fields.get(column.name)
        want = types[column.type.kind]
        if got is None:
            found.append(f"{where}{result_class(proc)}.{column.name} missing")
        elif _unwrap(got) != want:
            found.append(f"{where}{result_class(proc)}.{column.name}: {got}, want {want}")
    return found


def _unwrap(type_name: str) -> str:
    match = _NULLABLE.fullmatch(type_name)
    return match[1] if match else type_name


def _cs_class(source: str, name: str) -> dict[str, str]:
    start = re.search(rf"public partial class {name}\b", source)
    if start is None:
        return {}
    end = source.find("public partial class ", start.end())
    body = source[start.end(): end if end > 0 else None]
    return {prop: kind for kind, prop in _CS_PROPERTY.findall(body)}


def _cs_params(signature: str) -> list[tuple[str, str]]:
    params = []
    for part in filter(None, (p.strip() for p in signature.split(","))):
        match = _CS_PARAM.search(part)
        if match:
            params.append((match[2], match[1]))
    return params


def check_wsdl_exe(source: str, catalogue: Catalogue) -> list[str]:
    """Mono ``wsdl`` (the ASMX generator, as wsdl.exe): SoapHttpClientProtocol methods."""
    found = ["CODEGEN fallback in the proxy"] if "CODEGEN" in source else []
    for proc in catalogue.values():
        method = re.search(rf"public [\w.\[\]<>]+ {proc.name}\((.*?)\) \{{", source, re.S)
        if method is None:
            found.append(f"no method {proc.name}")
            continue
        params = _cs_params(method[1])
        flags = {name[: -len("Specified")] for name, _ in params if name.endswith("Specified")}
        found += [f"{proc.name}({a.name}): a {a.name}Specified flag on a required argument"
                  for a in proc.params if a.required and a.name in flags]
        plain = [(n, t) for n, t in params if not n.endswith("Specified")]
        found += _compare("", proc, plain, _cs_class(source, result_class(proc)), CSHARP)
    return found


# The DataContractSerializer has no xs:date: svcutil hands one over as its text.
WCF = {**CSHARP, "date": "string"}


def check_svcutil(source: str, catalogue: Catalogue) -> list[str]:
    """Mono ``svcutil`` (WCF): the service contract interface and its data contracts."""
    found = ["CODEGEN fallback in the proxy"] if "CODEGEN" in source else []
    start = source.find("public interface BillingGateway")
    if start < 0:
        return [*found, "no service contract BillingGateway in the proxy"]
    interface = source[start:]
    for proc in catalogue.values():
        method = re.search(rf"[\w.]+ {proc.name}\((.*?)\);", interface, re.S)
        if method is None:
            found.append(f"no operation {proc.name}")
            continue
        params = _cs_params(method[1])
        found += [f"{proc.name}({name}): a Specified flag" for name, _ in params if name.endswith("Specified")]
        found += _compare("", proc, params, _cs_class(source, result_class(proc)), WCF)
    return found


def check_wsimport(sources: Path, catalogue: Catalogue) -> list[str]:
    """``wsimport`` (JAX-WS): wrapper-style SEI methods and JAXB classes."""
    sei = (sources / "BillingGateway.java").read_text(encoding="utf-8")
    found = []
    for proc in catalogue.values():
        start = sei.find(f'operationName = "{proc.name}"')
        if start < 0:
            found.append(f"no operation {proc.name}")
            continue
        declaration = sei[start: sei.index(");", start)]
        if "@RequestWrapper" not in declaration:
            found.append(f"{proc.name}: not wrapper style")
        params = [(name, _boxed(kind)) for name, kind in _JAVA_PARAM.findall(declaration)]
        row = sources / (result_class(proc).replace("_", "") + ".java")
        fields = dict(_JAVA_FIELD.findall(row.read_text(encoding="utf-8"))) if row.exists() else {}
        found += _compare("", proc, params, fields, JAVA, required_plain=False)
    return found


def _boxed(java_type: str) -> str:
    return {"short": "Short", "int": "Integer", "long": "Long"}.get(java_type, java_type)
