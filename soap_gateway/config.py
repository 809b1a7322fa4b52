"""Settings: the TOML file and the environment are read here and nowhere else.

Every other module receives a ``Settings`` object.  A section is a frozen
dataclass; the loader checks keys and types against the dataclass fields, so
a typo in the file is reported with the key's full name.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import os
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .security.settings import AuthSettings, check_auth

DEFAULT_SESSION_EXPIRED_PATTERNS = (
    r"(?i)\bsuid\b",
    r"(?i)сесси[яиюей]",
    r"(?i)session\s+(expired|not\s+found|invalid)",
)

# Billing error messages a caller can act on, by class (errors.REFUSALS); the first class whose pattern
# matches wins, in the order not_found, duplicate, not_permitted, invalid_argument; anything else is a
# Server.BillingError.  A site's billing.error_patterns.<class> replaces that class's list.
DEFAULT_ERROR_PATTERNS: dict[str, tuple[str, ...]] = {
    "not_found": (r"(?i)не\s+найден", r"(?i)\bnot\s+found\b", r"(?i)\bE_\w*NOT_FOUND\b", r"(?i)не\s+существует",
                  r"(?i)\bdoes\s+not\s+exist\b", r"(?i)\bудал[её]н\b"),
    "duplicate": (r"(?i)violation\s+of\s+(primary\s+or\s+)?unique\s+key", r"(?i)\bduplicate\b",
                  r"(?i)уже\s+(существует|есть|взят)", r"(?i)\balready\b", r"(?i)\bE_\w*(DUPLICATE|EXISTS)\b"),
    "not_permitted": (r"(?i)\bno\s+permission\b", r"(?i)\baccess\s+denied\b", r"(?i)\bnot\s+(permitted|allowed)\b",
                      r"(?i)нет\s+прав", r"(?i)недостаточно\s+прав", r"(?i)запрещ", r"(?i)доступ\w*\s+только",
                      r"(?i)только\s+абонентам", r"(?i)\bE_\w*(ACCESS|PERMISSION|DENIED|FORBIDDEN)\w*\b"),
    "invalid_argument": (r"(?i)validation\s+error\s+for", r"(?i)cannot\s+transliterate", r"(?i)conversion\s+error",
                         r"(?i)string\s+(right\s+)?truncation", r"(?i)numeric\s+(value\s+is\s+out\s+of\s+range|overflow)",
                         r"(?i)violation\s+of\s+foreign\s+key", r"(?i)недопустим", r"(?i)некорректн", r"(?i)неверн",
                         r"(?i)неизвестный\s+код", r"(?i)должн[аоы]?\s+быть", r"(?i)\bE_\w*(INVALID|WRONG|BAD)\w*\b"),
}


@dataclass(frozen=True)
class BillingSettings:
    """How to reach the billing and log in to it."""

    url: str = ""
    cert: str = ""
    cert_password: str = field(default="", repr=False)
    ca: str = ""
    pin_sha256: str = ""
    server_name: str = ""
    login: str = ""
    password: str = field(default="", repr=False)
    login_mode: Literal["session", "one-step"] = "session"
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    pool_size: int = 10
    timezone: str = "Europe/Moscow"
    timestamp_format: str = "%Y-%m-%d %H:%M:%S"
    session_expired_patterns: tuple[str, ...] = DEFAULT_SESSION_EXPIRED_PATTERNS
    # Per class (not_found, duplicate, not_permitted, invalid_argument): regular expressions that make a
    # billing error message a Client fault; a class given here replaces its defaults (DEFAULT_ERROR_PATTERNS).
    error_patterns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # The billing's dialect (docs/connecting.md; ``soap-gateway check`` finds them): the character set its
    # database keeps text in (text it cannot hold is refused before sending), the one the arguments are
    # sent in, and the procedures called with cmd=select instead of cmd=execute.
    charset: str = "windows-1251"
    arg_charset: Literal["utf-8", "windows-1251"] = "utf-8"
    select_procedures: tuple[str, ...] = ()
    read_retries: int = 2
    # A larger reply is refused (MalformedReply) while it streams in, never held whole.
    max_reply_bytes: int = 64 << 20
    # The circuit breaker (issue #5): open after this many consecutive
    # failures to reach the billing, let one probe through after the pause.
    breaker_failures: int = 5
    breaker_reset_seconds: float = 30.0
    catalogue_files: tuple[str, ...] = ()
    arg_counts: Mapping[str, int] = field(default_factory=dict)
    # What a write's reply may look like to count as success (backend/writereply.py): "empty" and/or
    # "columns"; any other reply to a write is an unknown outcome that goes to reconciliation.
    write_success: tuple[str, ...] = ("empty", "columns")
    # Procedures outside the catalogue that the generic EXECUTE operation may run;
    # empty (the default): there is no EXECUTE operation at all.
    execute_procedures: tuple[str, ...] = ()

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def expected_name(self) -> str:
        """The name the billing's certificate must carry (and the SNI we send)."""
        return self.server_name or self.host


@dataclass(frozen=True)
class ServerSettings:
    """The gateway's own HTTP side."""

    listen: str = "127.0.0.1:8000"
    public_url: str = ""
    workers: int = 2
    threads: int = 4
    timeout: int = 120
    # A worker is replaced (gracefully) after about this many requests, with 10% jitter so the
    # workers do not restart together; 0: never.  Bounds what the allocator keeps (deploy/TUNING.md).
    max_requests: int = 10000
    # A worker whose resident memory passes this many MiB after a request is replaced, gracefully;
    # 0: no ceiling.  Bounds what no count can: memory a stream of distinct names leaves behind.
    max_worker_memory_mib: int = 512
    max_body_bytes: int = 1 << 20
    # Seconds a request body may take to arrive in full, however it trickles in (soap/arrival.py).
    body_timeout: float = 30.0
    # Checked while streaming, before Spyne parses (our requests are ~5 deep, < 40 elements,
    # a few attributes): soap/xmlguard.py.
    max_depth: int = 32
    max_elements: int = 1000
    max_attributes: int = 32
    max_attributes_total: int = 256
    max_text_chars: int = 65536
    max_name_chars: int = 256
    # "wall": the billing's wall-clock time without an offset (what 1C's Дата
    # and the billing mean); "offset": the same instant with the zone's offset.
    datetime_output: Literal["wall", "offset"] = "wall"
    log_format: Literal["text", "json"] = "text"
    # List replies up to this many rows are read whole before the reply starts (an error among
    # them is a fault); longer ones stream, and an error later on cuts the connection.
    buffer_rows: int = 1000
    # "fast": SOAP requests read by lxml against the published schema and run without Spyne
    # (soap/fastpath.py); "spyne": through Spyne's own request path, which still publishes the WSDL.
    soap_path: Literal["fast", "spyne"] = "fast"

    @property
    def address(self) -> tuple[str, int]:
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]") or "127.0.0.1", int(port)

    @property
    def wsdl_address(self) -> str:
        """The soap:address published in the WSDL: the public URL, else the listen address."""
        if self.public_url:
            return self.public_url
        host, port = self.address
        return f"http://[{host}]:{port}/soap" if ":" in host else f"http://{host}:{port}/soap"


def default_journal_path() -> str:
    """The journal's file unless journal.path says otherwise; never relative to the working directory.

    systemd's StateDirectory= sets STATE_DIRECTORY (/var/lib/soap-gateway under
    deploy/soap-gateway.service); run by hand, the user's state directory
    ($XDG_STATE_HOME, else ~/.local/state) holds it.
    """
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    if not state:
        base = os.environ.get("XDG_STATE_HOME", "")
        state = str(Path(base if os.path.isabs(base) else Path.home() / ".local" / "state") / "soap-gateway")
    return str(Path(state) / "journal.sqlite3")


@dataclass(frozen=True)
class JournalSettings:
    """The durable journal of writes and the audit trail (docs/money-safety.md).

    ``url`` (postgresql://...) is for several instances sharing one journal;
    otherwise the SQLite file at ``path`` (by default in the state directory:
    ``default_journal_path``) is shared by the workers of one machine.
    ``lease_seconds`` / ``wait_seconds`` (0 = derived from the billing
    timeouts): how long one request may hold a key, and how long a duplicate
    waits for it.
    ``resolver_seconds``: how long after a write became unknown the
    background resolver looks for it again (then ever less often; 0: off).
    ``evidence``: how a lost payment is recognised in the billing: the
    gateway's marker in its text ("marker"), or, for operators who want no
    gateway text in a subscriber's statement, the caller's document number
    with the subscriber, amount and date ("number"; weaker: docs/money-safety.md).
    ``key_scope``: idempotency keys belong to the authenticated caller
    ("caller", the default), or to everyone ("shared": several front ends
    that post for one cashier and must see each other's keys).
    """

    path: str = field(default_factory=default_journal_path)
    url: str = field(default="", repr=False)
    lease_seconds: float = 0.0
    wait_seconds: float = 0.0
    key_scope: Literal["caller", "shared"] = "caller"
    evidence: Literal["marker", "number"] = "marker"
    resolver_seconds: float = 30.0


@dataclass(frozen=True)
class AccountingSettings:
    """The gateway's accounting operations (docs/accounting.md): statement batches and reconciliation.

    ``max_lines`` per batch call; ``concurrency``: billing writes one batch
    runs at a time (kept small: the billing is the bottleneck to protect);
    after ``deadline_seconds`` the lines not yet started are answered
    not_attempted; a reconciliation reads at most ``max_report_days`` days.
    """

    max_lines: int = 1000
    concurrency: int = 4
    deadline_seconds: float = 60.0
    max_report_days: int = 92


def write_budget(billing: BillingSettings, journal: JournalSettings) -> float:
    """Seconds one journaled write may take: its post and its lookups, each try within the timeouts.

    A key's lease lasts that long, and a graceful shutdown waits that long.
    """
    if journal.lease_seconds:
        return journal.lease_seconds
    per_call = billing.connect_timeout + billing.read_timeout
    lookups = 2 * (1 + billing.read_retries)
    return per_call * (2 + lookups) + 10


@dataclass(frozen=True)
class Settings:
    """Everything the gateway is configured with."""

    billing: BillingSettings = field(default_factory=BillingSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    journal: JournalSettings = field(default_factory=JournalSettings)
    accounting: AccountingSettings = field(default_factory=AccountingSettings)

    @classmethod
    def load(cls, path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the TOML file (if any), then apply the SOAP_GATEWAY_* variables."""
        data: dict[str, Any] = {}
        if path:
            data = _read_toml(Path(path))
        env = os.environ if environ is None else environ
        for variable, (section, key) in ENVIRONMENT.items():
            if variable in env:
                data.setdefault(section, {})[key] = env[variable]
        settings: Settings = _build(cls, data, "")
        _check(settings)
        check_auth(settings.auth)
        return settings

    def replace(self, **sections: Any) -> Settings:
        return dataclasses.replace(self, **sections)


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


def _check(settings: Settings) -> None:
    """Cross-field rules that types alone cannot express."""
    billing, server = settings.billing, settings.server
    if billing.url:
        parts = urlsplit(billing.url)
        try:
            port_ok = parts.port is None or parts.port > 0  # .port raises on "99999" or "abc"
        except ValueError:
            port_ok = False
        if parts.scheme not in ("https", "http") or not parts.hostname or not port_ok:
            raise ConfigurationError(
                f"billing.url: {billing.url!r} is not an http(s) URL such as https://billing.example:1443/api.php")
    for pattern in billing.session_expired_patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigurationError(
                f"billing.session_expired_patterns: {pattern!r} is not a regular expression ({exc})") from None
    unknown_shapes = sorted(set(billing.write_success) - {"empty", "columns"})
    if unknown_shapes or not billing.write_success:
        raise ConfigurationError(f"billing.write_success: {unknown_shapes or 'nothing'} is not a list of "
                                 "\"empty\" and/or \"columns\"")
    for kind, patterns in billing.error_patterns.items():
        if kind not in DEFAULT_ERROR_PATTERNS:
            raise ConfigurationError(f"billing.error_patterns.{kind}: not a class; known: {', '.join(DEFAULT_ERROR_PATTERNS)}")
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigurationError(
                    f"billing.error_patterns.{kind}: {pattern!r} is not a regular expression ({exc})") from None
    try:
        "".encode(billing.charset)
    except LookupError:
        raise ConfigurationError(f"billing.charset: {billing.charset!r} is not a character set") from None
    for key in ("execute_procedures", "select_procedures"):
        for name in getattr(billing, key):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ConfigurationError(f"billing.{key}: {name!r} is not a procedure name")
    for name in ("connect_timeout", "read_timeout"):
        if getattr(billing, name) <= 0:
            raise ConfigurationError(f"billing.{name}: must be a positive number of seconds")
    if server.max_worker_memory_mib < 0:
        raise ConfigurationError("server.max_worker_memory_mib: must be 0 (no ceiling) or a number of MiB")
    if server.max_requests < 0:
        raise ConfigurationError("server.max_requests: must be 0 (never) or a positive number of requests")
    if server.body_timeout <= 0:
        raise ConfigurationError("server.body_timeout: must be a positive number of seconds")
    if server.buffer_rows < 1:
        raise ConfigurationError("server.buffer_rows: must be at least 1")
    accounting = settings.accounting
    for name in ("max_lines", "concurrency", "deadline_seconds", "max_report_days"):
        if getattr(accounting, name) <= 0:
            raise ConfigurationError(f"accounting.{name}: must be positive")
    try:
        if not 0 <= server.address[1] <= 65535:
            raise ValueError("port out of range")
    except ValueError:
        raise ConfigurationError(f"server.listen: {server.listen!r} is not host:port") from None
    if server.public_url and urlsplit(server.public_url).scheme not in ("http", "https"):
        raise ConfigurationError(f"server.public_url: {server.public_url!r} is not an http(s) URL")
    _check_journal(settings)


def _check_journal(settings: Settings) -> None:
    journal, billing = settings.journal, settings.billing
    if journal.url and urlsplit(journal.url).scheme not in ("postgresql", "postgres"):
        # the URL may hold a password: name the scheme only
        raise ConfigurationError("journal.url: expected postgresql://user:password@host:port/database")
    if not journal.url and not journal.path:
        raise ConfigurationError("journal.path: set a file for the SQLite journal (or journal.url)")
    for name in ("lease_seconds", "wait_seconds", "resolver_seconds"):
        if getattr(journal, name) < 0:
            raise ConfigurationError(f"journal.{name}: must not be negative")
    if billing.breaker_failures < 1 or billing.breaker_reset_seconds <= 0:
        raise ConfigurationError("billing.breaker_failures must be >= 1 and billing.breaker_reset_seconds > 0")


# What to do about a missing or unreadable file, per setting.
_FILE_ADVICE = {
    "cert": "download the cashier's <CN>.pfx from the billing (it keeps them in /var/lib/usrcert) and put it there,"
            " or point billing.cert (SOAP_GATEWAY_BILLING_CERT) at it",
    "ca": "save the CA (or the self-signed certificate) of the billing's HTTPS server as PEM there,"
          " or point billing.ca (SOAP_GATEWAY_BILLING_CA) at it",
    "catalogue_files": "create the site catalogue file or remove it from billing.catalogue_files",
}


def check_runtime(settings: Settings) -> None:
    """What serving needs beyond well-formed settings: the values set, the files there and readable.

    Apart from ``Settings.load`` so that offline commands (``soap-gateway wsdl``)
    work on a machine without the certificate.
    """
    billing = settings.billing
    required = ["url", "login", "password"]
    if billing.url.startswith("https:"):
        required[1:1] = ["cert", "ca"]
    for name in required:
        if not getattr(billing, name):
            variable = next((v for v, key in ENVIRONMENT.items() if key == ("billing", name)), "")
            raise ConfigurationError(f"billing.{name} is not set: set it in the [billing] section"
                                     + (f" or in {variable}" if variable else ""))
    files = [(name, getattr(billing, name)) for name in ("cert", "ca") if getattr(billing, name)]
    files += [("catalogue_files", path) for path in billing.catalogue_files]
    for name, path in files:
        _check_file(f"billing.{name}", Path(path), _FILE_ADVICE[name])
    for user, entry in settings.auth.users.items():
        if entry.cert:
            _check_file(f"auth.users.{user}.cert", Path(entry.cert), _FILE_ADVICE["cert"])
    journal = settings.journal
    if not journal.url:
        directory = Path(journal.path).expanduser().absolute().parent
        if journal.path == default_journal_path() and not directory.exists():
            directory.mkdir(parents=True, mode=0o700)  # the user's own state directory, made on first use
        if not directory.is_dir() or not os.access(directory, os.W_OK):
            raise ConfigurationError(f"journal.path: {directory} is not a directory the gateway can write to; "
                                     "create it (e.g. /var/lib/soap-gateway, owned by the gateway's user)")


def _check_file(key: str, path: Path, advice: str) -> None:
    if not path.exists():
        raise ConfigurationError(f"{key}: {path} does not exist; {advice}")
    if not path.is_file():
        raise ConfigurationError(f"{key}: {path} is not a file; {advice}")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise ConfigurationError(f"{key}: {path} cannot be read ({exc.strerror}); make it readable by the "
                                 f"user the gateway runs as (e.g. chgrp soap-gateway and chmod 640)") from None
