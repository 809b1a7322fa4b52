"""Loads and validates catalogue TOML files: the built-in one and a site's extras.

Every mistake is reported as a ConfigurationError naming the file, the
procedure and the field, so a site editing its own file knows where to look.
"""

from __future__ import annotations

import dataclasses
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping, get_args

from ..errors import ConfigurationError
from .model import (ARGUMENT_ROLES, COLUMN_ROLES, PROCEDURE_ROLES, RECONCILERS, Argument, Catalogue, Column,
                    Lookup, Mode, Procedure, Shape)
from .roles import check_roles
from .types import Integer, Money, Text, Timestamp, parse_type

BUILTIN = "procedures.toml"

_PROC_KEYS = {"mode", "result", "session", "tags", "doc_ru", "doc_en", "note", "args", "columns", "replace",
              "idempotent", "marker", "reconcile", "roles", "probe", "lookup"}
RESERVED_PREFIX = "GATEWAY"
_ARG_KEYS = {"name", "type", "format", "required", "fixed", "fixed_null", "choices", "secret", "positive", "doc_ru",
             "doc_en", "role"}
_COL_KEYS = {"name", "type", "format", "secret", "doc_ru", "doc_en", "role"}
_MODES = set(get_args(Mode))
_SHAPES = set(get_args(Shape))


class _Where:
    """Builds 'file: PROC.args[2] (NAME)' prefixes for error messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, why: str) -> ConfigurationError:
        return ConfigurationError(f"catalogue {self.source}: {where}: {why}")


def load_catalogue(
    extra_files: Iterable[str | Path] = (),
    arg_counts: Mapping[str, int] | None = None,
) -> Catalogue:
    """The built-in catalogue, plus a site's files, with per-site argument counts."""
    text = resources.files(__package__).joinpath(BUILTIN).read_text(encoding="utf-8")
    procedures = parse_catalogue(text, BUILTIN)
    for path in extra_files:
        try:
            extra_text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"catalogue file {path}: cannot be read ({exc.strerror})") from exc
        for name, proc in parse_catalogue(extra_text, str(path), known=procedures).items():
            procedures[name] = proc
    for name, count in (arg_counts or {}).items():
        if name not in procedures:
            raise ConfigurationError(f"arg_counts: unknown procedure {name!r}")
        procedures[name] = _truncate(procedures[name], count)
    check_lookups(procedures)
    check_roles(procedures)
    return Catalogue(procedures)


def parse_catalogue(
    text: str, source: str, known: Mapping[str, Procedure] | None = None
) -> dict[str, Procedure]:
    """Parse one catalogue file; ``known`` holds procedures it may not redefine silently."""
    where = _Where(source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise where.fail("syntax", str(exc)) from exc
    result: dict[str, Procedure] = {}
    for name, entry in data.items():
        if not isinstance(entry, dict):
            raise where.fail(name, "must be a table of procedure fields")
        if known and name in known and not entry.get("replace", False):
            raise where.fail(name, "already defined; set replace = true to redefine it")
        result[name] = _procedure(name, entry, where, source)
    return result


def _procedure(name: str, entry: dict[str, Any], where: _Where, source: str) -> Procedure:
    if not name.isidentifier() or not name.isascii():
        raise where.fail(name, "a procedure name must be latin letters, digits and '_'")
    if name.upper().startswith(RESERVED_PREFIX):
        # the gateway's own operations (GatewayPostPayments, ...) share the WSDL; 1C's names ignore case
        raise where.fail(name, f"names starting with {RESERVED_PREFIX!r} (in any case) are the gateway's own")
    _check_keys(entry, _PROC_KEYS, name, where)
    mode = _require(entry, "mode", name, where)
    if mode not in _MODES:
        raise where.fail(f"{name}.mode", f"{mode!r} is not one of {sorted(_MODES)}")
    shape = _require(entry, "result", name, where)
    if shape not in _SHAPES:
        raise where.fail(f"{name}.result", f"{shape!r} is not one of {sorted(_SHAPES)}")
    args = tuple(_argument(a, f"{name}.args[{i}]", where) for i, a in enumerate(_list(entry, "args", name, where)))
    columns = tuple(_column(c, f"{name}.columns[{i}]", where)
                    for i, c in enumerate(_list(entry, "columns", name, where)))
    _check_unique([a.name for a in args], f"{name}.args", where)
    _check_unique([c.name.lower() for c in columns], f"{name}.columns", where)
    if shape in ("row", "rows") and not columns:
        raise where.fail(f"{name}.columns", f"result {shape!r} needs at least one column")
    return Procedure(
        name=name, mode=mode, result=shape, args=args, columns=columns,
        session=_flag(entry, "session", name, where, default=True),
        tags=_tags(entry, name, where),
        doc_ru=entry.get("doc_ru", ""), doc_en=entry.get("doc_en", ""),
        note=entry.get("note", ""), source=source, **_idempotency(name, entry, mode, args, where),
        **_roles(name, entry, args, where),
    )


def _roles(name: str, entry: dict[str, Any], args: tuple[Argument, ...], where: _Where) -> dict[str, Any]:
    """A procedure's roles, and a probe's arguments checked against its own."""
    roles = entry.get("roles", [])
    if not isinstance(roles, list) or any(r not in PROCEDURE_ROLES for r in roles):
        raise where.fail(f"{name}.roles", f"must be a list of {list(PROCEDURE_ROLES)}")
    probe = entry.get("probe", {})
    if not isinstance(probe, dict) or (probe and "probe" not in roles):
        raise where.fail(f"{name}.probe", 'a table of arguments, for a procedure with roles = ["probe"]')
    params = {a.name: a for a in args if not a.fixed}
    checked: dict[str, Any] = {}
    for arg_name, value in probe.items():
        if arg_name not in params:
            raise where.fail(f"{name}.probe.{arg_name}", "is not an argument the caller supplies")
        try:
            checked[arg_name] = params[arg_name].type.validate(value)
        except ValueError as exc:
            raise where.fail(f"{name}.probe.{arg_name}", str(exc)) from None
    for role in ARGUMENT_ROLES:
        if sum(a.role == role for a in args) > 1:
            raise where.fail(f"{name}.args", f"more than one argument has role = {role!r}")
    subscriber = next((a for a in args if a.role == "subscriber"), None)
    if subscriber is not None and not isinstance(subscriber.type, Integer):
        raise where.fail(f"{name}.args ({subscriber.name}).role", "a subscriber is an INTEGER id")
    return {"roles": tuple(roles), "probe": checked}


def _tags(entry: dict[str, Any], name: str, where: _Where) -> tuple[str, ...]:
    tags = entry.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise where.fail(f"{name}.tags", "must be a list of words, e.g. [\"payment\"]")
    return tuple(tags)


def _idempotency(name: str, entry: dict[str, Any], mode: str, args: tuple[Argument, ...],
                 where: _Where) -> dict[str, Any]:
    """The money-safety fields: only writes take a key; a marker is a caller-visible text argument."""
    idempotent = _flag(entry, "idempotent", name, where)
    marker, reconcile = entry.get("marker", ""), entry.get("reconcile", "")
    if idempotent and mode != "write":
        raise where.fail(f"{name}.idempotent", "only write procedures take an idempotency key")
    if (marker or reconcile) and not idempotent:
        raise where.fail(name, "marker and reconcile need idempotent = true")
    if marker:
        arg = next((a for a in args if a.name == marker), None)
        if arg is None or arg.fixed or not isinstance(arg.type, Text):
            raise where.fail(f"{name}.marker", f"{marker!r} is not a text argument the caller supplies")
    if reconcile and reconcile not in RECONCILERS:
        raise where.fail(f"{name}.reconcile", f"{reconcile!r} is not one of {list(RECONCILERS)}")
    if reconcile == "posting" and not marker:
        raise where.fail(f"{name}.reconcile", "posting needs a marker argument")
    if bool(reconcile) != ("lookup" in entry):
        raise where.fail(f"{name}.lookup", "reconcile and a [<procedure>.lookup] table go together")
    lookup = _lookup(entry["lookup"], reconcile, f"{name}.lookup", where) if reconcile else None
    return {"idempotent": idempotent, "marker": marker, "reconcile": reconcile, "lookup": lookup}


# Per reconcile kind: the lookup's parts and, for each, its keys (all required).
_LOOKUP_PARTS = {
    "posting": {"subscriber": ("argument", "by", "column"), "amount": ("argument", "column"),
                "time": ("argument", "from", "to", "column"), "evidence": ("column",), "id": ("column",)},
    "state": {"subscriber": ("argument", "by"), "amount": ("argument", "column"), "until": ("column",)},
}


def _lookup(entry: Any, kind: str, where_text: str, where: _Where) -> Lookup:
    if not isinstance(entry, dict):
        raise where.fail(where_text, "must be a table")
    parts = dict(_LOOKUP_PARTS[kind])
    optional = {"number": ("argument", "column")} if kind == "posting" else {}
    _check_keys(entry, {"procedure", *parts, *optional}, where_text, where)
    parts.update({part: keys for part, keys in optional.items() if part in entry})
    values: dict[str, str] = {}
    for part, keys in parts.items():
        table = _require(entry, part, where_text, where)
        extra = {"window_minutes"} if part == "time" else set()
        if not isinstance(table, dict):
            raise where.fail(f"{where_text}.{part}", "must be a table such as { column = \"NAME\" }")
        _check_keys(table, set(keys) | extra, f"{where_text}.{part}", where)
        for key in keys:
            value = _require(table, key, f"{where_text}.{part}", where)
            if not isinstance(value, str) or not value:
                raise where.fail(f"{where_text}.{part}.{key}", "must be a name")
            values[f"{part}.{key}"] = value
    window = entry.get("time", {}).get("window_minutes", 60)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise where.fail(f"{where_text}.time.window_minutes", "must be a positive number of minutes")
    procedure = _require(entry, "procedure", where_text, where)
    v = values.get
    return Lookup(procedure=procedure, subscriber=values["subscriber.argument"], by=values["subscriber.by"],
                  amount=values["amount.argument"], amount_column=values["amount.column"],
                  subscriber_column=v("subscriber.column", ""), time=v("time.argument", ""),
                  time_from=v("time.from", ""), time_to=v("time.to", ""), time_column=v("time.column", ""),
                  window_minutes=window, evidence_column=v("evidence.column", ""), id_column=v("id.column", ""),
                  until_column=v("until.column", ""), number=v("number.argument", ""),
                  number_column=v("number.column", ""))


def check_lookups(procedures: Mapping[str, Procedure]) -> None:
    """Every name a lookup declares exists where it says: the write's arguments, the lookup's arguments and columns."""
    for proc in procedures.values():
        lookup = proc.lookup
        if lookup is None:
            continue
        where = f"catalogue {proc.source}: {proc.name}.lookup"
        target = procedures.get(lookup.procedure)
        if target is None or target.mode != "read" or target.result not in ("row", "rows"):
            raise ConfigurationError(f"{where}.procedure: {lookup.procedure!r} is not a read procedure of the "
                                     "catalogue that answers rows")
        mine = {a.name: a for a in proc.params}
        theirs = {a.name for a in target.params}
        columns = {c.name: c for c in target.columns}
        names = [("subscriber.argument", lookup.subscriber, mine), ("amount.argument", lookup.amount, mine),
                 ("subscriber.by", lookup.by, theirs), ("amount.column", lookup.amount_column, columns)]
        if proc.reconcile == "posting":
            names += [("time.argument", lookup.time, mine), ("time.from", lookup.time_from, theirs),
                      ("time.to", lookup.time_to, theirs), ("subscriber.column", lookup.subscriber_column, columns),
                      ("time.column", lookup.time_column, columns), ("evidence.column", lookup.evidence_column, columns),
                      ("id.column", lookup.id_column, columns)]
            if lookup.number:
                names += [("number.argument", lookup.number, mine), ("number.column", lookup.number_column, columns)]
        else:
            names += [("until.column", lookup.until_column, columns)]
        for part, name, known in names:
            if name not in known:
                owner = proc.name if known is mine else lookup.procedure
                kind = "column" if known is columns else "argument"
                raise ConfigurationError(f"{where}.{part}: {owner} has no {kind} {name!r}")
        if not isinstance(mine[lookup.amount].type, Money) or not isinstance(columns[lookup.amount_column].type, Money):
            raise ConfigurationError(f"{where}.amount: {lookup.amount} and {lookup.amount_column} must be money")
        if proc.reconcile == "posting" and not isinstance(mine[lookup.time].type, Timestamp):
            raise ConfigurationError(f"{where}.time.argument: {lookup.time} must be a TIMESTAMP")


def _argument(entry: Any, where_text: str, where: _Where) -> Argument:
    if not isinstance(entry, dict):
        raise where.fail(where_text, "must be a table")
    name = _require(entry, "name", where_text, where)
    where_text = f"{where_text} ({name})"
    _check_keys(entry, _ARG_KEYS, where_text, where)
    value_type = _type(entry, where_text, where)
    fixed = "fixed" in entry or _flag(entry, "fixed_null", where_text, where)
    value = entry.get("fixed")
    if value is not None:
        try:
            value = value_type.validate(value)
        except ValueError as exc:
            raise where.fail(f"{where_text}.fixed", str(exc)) from None
    required = _flag(entry, "required", where_text, where)
    if fixed and required:
        raise where.fail(where_text, "a fixed argument cannot also be required")
    choices = entry.get("choices", [])
    if not isinstance(choices, list) or any(isinstance(c, bool) or not isinstance(c, int) for c in choices):
        raise where.fail(f"{where_text}.choices", "must be a list of integers")
    positive = _flag(entry, "positive", where_text, where)
    if positive and not isinstance(value_type, Money):
        raise where.fail(f"{where_text}.positive", "only money arguments (DOUBLE PRECISION, NUMERIC(p,s)) can be positive")
    return Argument(
        name=name, type=value_type, required=required, positive=positive,
        fixed=fixed, value=value, choices=tuple(choices), secret=_flag(entry, "secret", where_text, where),
        doc_ru=entry.get("doc_ru", ""), doc_en=entry.get("doc_en", ""),
        role=_role(entry, ARGUMENT_ROLES, where_text, where),
    )


def _column(entry: Any, where_text: str, where: _Where) -> Column:
    if not isinstance(entry, dict):
        raise where.fail(where_text, "must be a table")
    name = _require(entry, "name", where_text, where)
    where_text = f"{where_text} ({name})"
    _check_keys(entry, _COL_KEYS, where_text, where)
    return Column(
        name=name, type=_type(entry, where_text, where), secret=_flag(entry, "secret", where_text, where),
        doc_ru=entry.get("doc_ru", ""), doc_en=entry.get("doc_en", ""),
        role=_role(entry, COLUMN_ROLES, where_text, where),
    )


def _role(entry: dict[str, Any], allowed: tuple[str, ...], where_text: str, where: _Where) -> str:
    role = entry.get("role", "")
    if role and role not in allowed:
        raise where.fail(f"{where_text}.role", f"{role!r} is not one of {list(allowed)}")
    return str(role)


def _type(entry: dict[str, Any], where_text: str, where: _Where) -> Any:
    billing = _require(entry, "type", where_text, where)
    try:
        return parse_type(billing, entry.get("format"))
    except ValueError as exc:
        raise where.fail(f"{where_text}.type", str(exc)) from None


def _truncate(proc: Procedure, count: int) -> Procedure:
    """An older installation takes fewer trailing arguments (e.g. FIND_2 without NAS_IP)."""
    if not 0 <= count <= len(proc.args):
        raise ConfigurationError(
            f"arg_counts: {proc.name} takes at most {len(proc.args)} arguments after the SUID, not {count}")
    dropped = proc.args[count:]
    if any(a.required for a in dropped):
        names = ", ".join(a.name for a in dropped if a.required)
        raise ConfigurationError(f"arg_counts: {proc.name} cannot drop required arguments ({names})")
    if proc.marker and any(a.name == proc.marker for a in dropped):
        raise ConfigurationError(f"arg_counts: {proc.name} cannot drop {proc.marker}, its reconciliation marker")
    return dataclasses.replace(proc, args=proc.args[:count])


def _require(entry: dict[str, Any], key: str, where_text: str, where: _Where) -> Any:
    if key not in entry:
        raise where.fail(where_text, f"missing {key!r}")
    return entry[key]


def _list(entry: dict[str, Any], key: str, where_text: str, where: _Where) -> list[Any]:
    value = entry.get(key, [])
    if not isinstance(value, list):
        raise where.fail(f"{where_text}.{key}", "must be a list of tables")
    return value


def _flag(entry: dict[str, Any], key: str, where_text: str, where: _Where, default: bool = False) -> bool:
    value = entry.get(key, default)
    if not isinstance(value, bool):  # "false" in quotes would otherwise count as true
        raise where.fail(f"{where_text}.{key}", f"must be true or false, not {value!r}")
    return value


def _check_keys(entry: dict[str, Any], allowed: set[str], where_text: str, where: _Where) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise where.fail(where_text, f"unknown field(s) {unknown}; allowed: {sorted(allowed)}")


def _check_unique(names: list[str], where_text: str, where: _Where) -> None:
    seen = {n for n in names if names.count(n) > 1}
    if seen:
        raise where.fail(where_text, f"duplicate names {sorted(seen)}")
