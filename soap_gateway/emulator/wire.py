"""The api.php query string as PHP sees it: null forms, positional args, one-step login, and redaction."""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

from .signatures import LOGIN_PROC

MASK = "***"
MAX_ARGS = 1000  # anything beyond is a parameter mismatch anyway; don't allocate for "arg99999999"
_ARG = re.compile(r"arg([1-9][0-9]{0,8})")


def _decode(text: str, charset: str | None = None) -> str:
    raw = unquote_to_bytes(text.replace("+", " "))
    if charset:  # an installation that takes the bytes as they come: other encodings come out garbled
        return raw.decode(charset, "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # an old client that percent-encodes windows-1251
        return raw.decode("cp1251")


def pairs(query: str, charset: str | None = None) -> list[tuple[str, str | None]]:
    """``a=1&arg14&b=`` -> [("a", "1"), ("arg14", None), ("b", "")]: a bare name (no '=') is NULL."""
    result = []
    for part in query.split("&"):
        if part:
            key, eq, value = part.partition("=")
            result.append((_decode(key, charset), _decode(value, charset) if eq else None))
    return result


@dataclass
class ApiRequest:
    cmd: str | None
    proc: str  # upper-cased: Firebird identifiers are case-insensitive
    args: list[str | None]  # arg1..argN; NULL for 'null', a bare name, or a gap
    login: str | None = None
    password: str | None = None

    @property
    def one_step(self) -> bool:
        return self.login is not None

    def masked_args(self) -> list[str | None]:
        """Args for logs: the SUID (session mode) and the login password replaced by '***'."""
        masked = list(self.args)
        secret = 1 if self.proc == LOGIN_PROC else (None if self.one_step else 0)
        if secret is not None and secret < len(masked) and masked[secret] is not None:
            masked[secret] = MASK
        return masked


def parse(query: str, charset: str | None = None) -> ApiRequest:
    """``charset``: the one the arguments are read in (None: UTF-8, else windows-1251)."""
    values = dict(pairs(query, charset))  # a repeated name: the last one wins, as in PHP
    indexes = [int(m.group(1)) for key in values if (m := _ARG.fullmatch(key))]
    count = min(max(indexes, default=0), MAX_ARGS)
    args: list[str | None] = []
    for i in range(1, count + 1):
        value = values.get(f"arg{i}")
        args.append(None if value == "null" else value)
    proc = (values.get("proc") or "").strip().upper()
    return ApiRequest(values.get("cmd"), proc, args, values.get("login"), values.get("password"))


def redact(query: str) -> str:
    """The query for an access log: never a password, a login's arg2 or a SUID."""
    request = parse(query)
    secrets = {"password"}
    if request.proc == LOGIN_PROC:
        secrets.add("arg2")
    elif not request.one_step:
        secrets.add("arg1")
    out = []
    for key, value in pairs(query):
        if value is None:
            out.append(quote(key))
        else:
            out.append(f"{quote(key)}={MASK if key in secrets else quote(value)}")
    return "&".join(out)
