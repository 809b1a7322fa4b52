"""The settings: one frozen dataclass per section of the TOML file, with their defaults.

Every other module receives a ``Settings`` object.  The file and the
environment are read in ``config/loading.py`` and nowhere else; the rules
between fields are ``config/checks.py``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping
from urllib.parse import urlsplit

from ..security.settings import AuthSettings

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
        """Read the TOML file (if any), then apply the SOAP_GATEWAY_* variables; checked."""
        # imported here: both modules take the section classes above
        from .checks import check_settings
        from .loading import read_settings

        settings: Settings = read_settings(cls, path, environ)
        check_settings(settings)
        return settings

    def replace(self, **sections: Any) -> Settings:
        return dataclasses.replace(self, **sections)
