"""``Emulator``: the billing test double as one object - start/stop, fault switches and state helpers for tests."""
from __future__ import annotations

import hashlib
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from types import TracebackType
from typing import Any

from . import control, seed
from .api import Api
from .dialect import Dialect, parse_dialect
from .errors import user_not_found
from .faults import FaultBoard, parse_fault
from .replies import Renderer
from .server import BillingServer, server_context
from .sessions import Sessions
from .stats import RequestRecord, Stats
from .store import Store


class Emulator:
    """An HTTPS "cashier API" (api.php) with SQLite state; use as a context manager or start()/stop()."""

    def __init__(self, server_cert: str, server_key: str, client_ca: str, host: str = "127.0.0.1",
                 port: int = 0, db: str = ":memory:", seed_users: int = 0, seed_ops: int = 10,
                 suid_lifetime: float = 3600, allow_ips: Iterable[str] | None = None,
                 encoding: str = "windows-1251", declare_encoding: bool = True, legacy_find: bool = False,
                 accounts: Mapping[str, str] | None = None, timestamp_style: str = "iso", fault_seed: int = 0,
                 access_log: Callable[[str], None] | None = None, keepalive_timeout: float = 30.0,
                 handshake_timeout: float = 10.0, dialect: Dialect | str = "") -> None:
        if timestamp_style not in ("iso", "dmy"):
            raise ValueError("timestamp_style must be 'iso' or 'dmy'")
        self.host, self._requested_port = host, port
        self._tls = (server_cert, server_key, client_ca)
        self._context = server_context(*self._tls)  # fail early on bad PEM files, before start()
        self.store = Store(db)
        if self.store.is_empty():  # a file database keeps its state across restarts
            with self.store.transaction() as conn:
                seed.seed_base(conn)
                seed.seed_bulk(conn, seed_users, seed_ops)
        self.sessions = Sessions(suid_lifetime, accounts)
        self._stats = Stats()
        self._faults = FaultBoard(fault_seed)
        self._stopping = threading.Event()
        self.dialect = dialect if isinstance(dialect, Dialect) else parse_dialect(dialect)
        self.api = Api(self.store, self.sessions, self._stats, self._faults,
                       Renderer(encoding, declare_encoding, timestamp_style, self.dialect), legacy_find,
                       self._stopping, self.dialect)
        self._allow_ips = None if allow_ips is None else list(allow_ips)
        self._access_log = access_log
        self._timeouts = (keepalive_timeout, handshake_timeout)
        self._server: BillingServer | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> Emulator:
        """Bind and serve; the port accepts connections when this returns."""
        if self._server is not None:
            return self
        self._stopping.clear()
        # a restart reuses the port it had, so URLs handed out earlier stay valid
        address = (self.host, self._port or self._requested_port)
        self._server = BillingServer(address, self._context, self.api, self._control, self._stats,
                                     self._allow_ips, self._access_log, *self._timeouts)
        self._port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=f"billing-emulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut every open connection; state stays readable (balance(), requests(), ...)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in latency/hang faults
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (still known after stop(), so a test can show that nothing answers there)."""
        if self._port is None:
            raise RuntimeError("the emulator was never started")
        return self._port

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"https://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/api.php"

    @property
    def server_cert_sha256(self) -> str:
        """Hex SHA-256 of the server certificate (DER), for certificate pinning tests."""
        with open(self._tls[0], encoding="ascii") as handle:
            return hashlib.sha256(ssl.PEM_cert_to_DER_cert(handle.read())).hexdigest()

    # -- faults ------------------------------------------------------------------------------------------
    def apply_faults(self, spec: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Same JSON as POST /_emulator/faults: one object or a list; validated as a whole, then applied."""
        if isinstance(spec, Mapping):
            items: list[Any] = [spec]
        elif isinstance(spec, (list, tuple)):
            items = list(spec)
        else:
            raise ValueError("expected a fault object or a list of them")
        faults = [parse_fault(dict(item) if isinstance(item, Mapping) else item) for item in items]
        for fault in faults:
            if fault.fault == "clear":
                self._faults.clear()
            elif fault.fault == "expire_sessions":
                self.sessions.expire_all()
            else:
                self._faults.add(fault)
        return self._faults.active()

    def add_fault(self, fault: str, **params: Any) -> list[dict[str, Any]]:
        """e.g. ``add_fault("latency", ms=300, proc="CLN_FIN_OPER_ADD", count=1)``; returns the active faults."""
        return self.apply_faults({"fault": fault, **params})

    def clear_faults(self) -> None:
        self._faults.clear()

    def expire_sessions(self) -> int:
        return self.sessions.expire_all()

    def faults(self) -> list[dict[str, Any]]:
        return self._faults.active()

    # -- observation -------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        data = self._stats.snapshot()
        data["active_sessions"] = self.sessions.active()
        data["active_faults"] = len(self._faults.active())
        return data

    def requests(self) -> list[RequestRecord]:
        return self._stats.records()

    def issued_suids(self) -> list[int]:
        """The SUIDs the emulator has handed out (expired ones too; the last 10,000)."""
        return list(self.sessions.issued)

    def reset_stats(self) -> None:
        self._stats.reset()

    def add_account(self, login: str, password: str) -> None:
        self.sessions.add_account(login, password)

    # -- state -------------------------------------------------------------------------------------------
    def user(self, user_id: int) -> dict[str, Any]:
        """Every CLN_USR_GET column (money as Decimal), plus COMMENT and COLOR."""
        row = self.store.user(user_id)
        if row is None:
            raise KeyError(user_not_found(user_id).message)
        return row

    def balance(self, user_id: int) -> Decimal:
        value = self.store.balance(user_id)
        if value is None:
            raise KeyError(user_not_found(user_id).message)
        return value

    def fin_opers(self, user_id: int) -> list[dict[str, Any]]:
        """The subscriber's own operations (not its subtree), oldest id first; SUMMA as Decimal."""
        return self.store.fin_opers(user_id)

    def services(self, user_id: int) -> list[dict[str, Any]]:
        return self.store.query("SELECT * FROM usr_uslugi WHERE USER_ID = ? ORDER BY ID", user_id)

    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Escape hatch for tests: raw rows of the SQLite state (money in kopecks)."""
        return self.store.query(sql, *params)

    def _control(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        return control.handle(self, method, path, body)


__all__ = ["Emulator"]
