"""The TOML file and the SOAP_GATEWAY_* variables, read into the settings' dataclasses.

The loader checks keys and types against the dataclass fields, so a typo in
the file is reported with the key's full name; an environment variable's
text is converted to its field's type.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import os
import tomllib
import typing
from pathlib import Path
from typing import Any, Literal, Mapping

from ..errors import ConfigurationError

# The fixed environment contract (DESIGN.md §5): variable -> (section, key).
ENVIRONMENT = {
    "SOAP_GATEWAY_BILLING_URL": ("billing", "url"),
    "SOAP_GATEWAY_BILLING_CERT": ("billing", "cert"),
    "SOAP_GATEWAY_BILLING_CERT_PASSWORD": ("billing", "cert_password"),
    "SOAP_GATEWAY_BILLING_CA": ("billing", "ca"),
    "SOAP_GATEWAY_BILLING_SERVER_NAME": ("billing", "server_name"),
    "SOAP_GATEWAY_BILLING_LOGIN": ("billing", "login"),
    "SOAP_GATEWAY_BILLING_PASSWORD": ("billing", "password"),
    "SOAP_GATEWAY_LISTEN": ("server", "listen"),
    "SOAP_GATEWAY_PUBLIC_URL": ("server", "public_url"),
}


# Settings that are gone, and why: a file that still has one is refused with the reason, not ignored.
REMOVED = {
    "journal.settle_seconds": "a payment not found in the billing some time after its attempt is no proof that it was "
                              "not posted (the billing may still be committing it), so the gateway no longer posts it "
                              "again after a wait; delete the setting (docs/money-safety.md: what \"unknown\" means)",
}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigurationError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigurationError(f"config file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {path} is not valid TOML: {exc}") from None


def _build(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigurationError(f"{prefix.rstrip('.')}: expected a table")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    for name in unknown:
        if prefix + name in REMOVED:
            raise ConfigurationError(f"{prefix}{name} was removed: {REMOVED[prefix + name]}")
    if unknown:
        raise ConfigurationError(
            f"unknown setting {prefix}{unknown[0]}; known in this section: {', '.join(sorted(names))}")
    secrets = {f.name for f in dataclasses.fields(cls) if not f.repr}
    values: dict[str, Any] = {}
    for name in data:
        try:
            values[name] = _coerce(hints[name], data[name], prefix + name)
        except ConfigurationError:
            if name in secrets:  # the message would quote the password
                raise ConfigurationError(f"{prefix}{name}: expected a string (value not shown)") from None
            raise
    return cls(**values)


def _coerce(hint: Any, value: Any, key: str) -> Any:
    """Check (and for environment strings, convert) one value against its field type."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, key + ".")
    origin = typing.get_origin(hint)
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise ConfigurationError(f"{key}: {value!r} is not one of {list(typing.get_args(hint))}")
        return value
    if origin is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ConfigurationError(f"{key}: expected a list of strings")
        return tuple(i.strip() for i in items if i.strip())
    if origin in (collections.abc.Mapping, dict) and dataclasses.is_dataclass(typing.get_args(hint)[1]):
        if not isinstance(value, dict):
            raise ConfigurationError(f"{key}: expected a table")
        return {name: _build(typing.get_args(hint)[1], item, f"{key}.{name}.") for name, item in value.items()}
    if origin in (collections.abc.Mapping, dict) and typing.get_args(hint)[1] == tuple[str, ...]:
        if not isinstance(value, dict):
            raise ConfigurationError(f"{key}: expected a table of lists of strings")
        return {name: _coerce(tuple[str, ...], item, f"{key}.{name}") for name, item in value.items()}
    if hint is Mapping[str, int] or origin in (Mapping, dict):
        if not isinstance(value, dict) or not all(isinstance(v, int) for v in value.values()):
            raise ConfigurationError(f"{key}: expected a table of integers")
        return dict(value)
    if hint in (int, float):
        try:
            accepted = (str, int, float) if hint is float else (str, int)
            number = hint(value) if isinstance(value, accepted) and not isinstance(value, bool) else None
        except ValueError:
            number = None
        if number is None or (hint is int and isinstance(value, float)):
            raise ConfigurationError(f"{key}: expected {'an integer' if hint is int else 'a number'}, got {value!r}")
        return number
    if hint is bool:
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no"):
            return value.lower() in ("1", "true", "yes")
        if not isinstance(value, bool):
            raise ConfigurationError(f"{key}: expected true or false")
        return value
    if hint is str and not isinstance(value, str):
        raise ConfigurationError(f"{key}: expected a string, got {value!r}")
    return value


def read_settings(cls: type, path: str | Path | None, environ: Mapping[str, str] | None) -> Any:
    """``cls`` (the Settings class) built from the TOML file (if any), then the SOAP_GATEWAY_* variables."""
    data: dict[str, Any] = {}
    if path:
        data = _read_toml(Path(path))
    env = os.environ if environ is None else environ
    for variable, (section, key) in ENVIRONMENT.items():
        if variable in env:
            data.setdefault(section, {})[key] = env[variable]
    return _build(cls, data, "")
