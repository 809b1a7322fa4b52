"""The billing's api.php: sessions, procedure execution in one transaction, and the fault switches around it."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import wire
from .dialect import DEFAULT, Dialect
from .errors import BillingError
from .faults import BEFORE, ODD_REPLY, RESHAPE, Fault, FaultBoard
from .model import Context, Result
from .procedures import registry, unknown_procedure
from .replies import Renderer
from .sessions import BAD_LOGIN, SESSION_EXPIRED, Sessions
from .signatures import LOGIN_COLUMNS, LOGIN_PROC, SUID_TYPE, USR_GET_COLUMNS
from .stats import RequestRecord, Stats
from .store import Store

PHP_FATAL = ("<br />\n<b>Fatal error</b>:  Uncaught exception 'Exception' with message 'ibase_connect(): "
             "Unable to complete network request to host \"localhost\". Failed to establish a connection.' "
             "in /var/www/cashier/api.php:17\nStack trace:\n#0 {main}\n  thrown in "
             "<b>/var/www/cashier/api.php</b> on line <b>17</b><br />\n")
PHP_MEMORY = ("<br />\n<b>Fatal error</b>:  Allowed memory size of 134217728 bytes exhausted (tried to allocate "
              "20480 bytes) in <b>/var/www/cashier/api.php</b> on line <b>57</b><br />\n")
HTML = "text/html; charset=UTF-8"


@dataclass
class Reply:
    status: int = 200
    content_type: str = "text/xml"
    chunks: list[bytes] = field(default_factory=list)
    drop: bool = False  # close the TCP connection without any response


class Api:
    def __init__(self, store: Store, sessions: Sessions, stats: Stats, faults: FaultBoard, renderer: Renderer,
                 legacy_find: bool = False, stopping: threading.Event | None = None,
                 dialect: Dialect = DEFAULT) -> None:
        self.store, self.sessions, self.stats, self.faults = store, sessions, stats, faults
        self.renderer = renderer
        self.dialect = dialect
        self.procedures = registry(legacy_find or "find-23" in dialect)
        self.stopping = stopping or threading.Event()

    def handle(self, query: str, cn: str | None) -> Reply:
        request = wire.parse(query, "cp1251" if "cp1251-args" in self.dialect else None)
        self.stats.request(RequestRecord(request.proc, request.masked_args(), self._who(request), cn, time.time()))
        fired = self.faults.select(request.proc)
        for fault in fired:
            self.stats.fault(fault.fault)
        for fault in fired:
            if fault.fault == "latency":
                self._sleep(fault.ms)
        before = next((f for f in fired if f.fault in BEFORE), None)
        if before is not None:
            return self._before(before)
        odd = next((f for f in fired if f.fault == ODD_REPLY), None)
        if odd is not None:
            if odd.commit:
                self.execute(request)
            return self._odd(odd)
        reply = self.execute(request, [f for f in fired if f.fault == RESHAPE])
        for fault in fired:
            if fault.fault == "drop_after_commit":
                return Reply(drop=True)
            if fault.fault == "delay_after_commit" and not self._sleep(fault.ms):
                return Reply(drop=True)  # the emulator is stopping
        return reply

    def _who(self, request: wire.ApiRequest) -> str | None:
        if request.one_step:
            return request.login
        if not request.args or request.args[0] is None:
            return None
        if request.proc == LOGIN_PROC:
            return request.args[0]
        try:
            return self.sessions.peek(int(request.args[0]))
        except ValueError:
            return None

    def _sleep(self, ms: int) -> bool:
        """Sleep, but wake up at once when the emulator stops; False if it did."""
        return not self.stopping.wait(ms / 1000.0)

    def _before(self, fault: Fault) -> Reply:
        kind = fault.fault
        if kind == "hang_no_commit":
            self._sleep(fault.ms)
            return Reply(drop=True)
        if kind == "http_error":
            return Reply(fault.status, HTML, [(fault.body or PHP_FATAL).encode("utf-8")])
        if fault.variant == "php":
            return Reply(200, HTML, [PHP_MEMORY.encode("utf-8")])
        head = f'<?xml version="1.0" encoding="{self.renderer.encoding}"?>\n' if self.renderer.declare else ""
        return Reply(200, self.renderer.content_type, [f"{head}<result><row><id>1</id><balance>12".encode()])

    def _odd(self, fault: Fault) -> Reply:
        """Error replies of shapes other billings send (the second one is what the vendor's 1C module parses)."""
        head = f'<?xml version="1.0" encoding="{self.renderer.encoding}"?>\n' if self.renderer.declare else ""
        body = ("<result>Ошибка: операция не выполнена</result>" if fault.variant == "text" else
                "<result><errors>1</errors><error_text>Ошибка: операция не выполнена</error_text></result>")
        return Reply(200, self.renderer.content_type, [(head + body + "\n").encode(self.renderer.codec)])

    def execute(self, request: wire.ApiRequest, reshape: list[Fault] | None = None) -> Reply:
        try:
            result = self._execute(request, reshape or [])
        except BillingError as error:
            self.stats.incr("billing_errors")
            return Reply(200, self.renderer.content_type, self.renderer.error(error.message))
        return result

    def _execute(self, request: wire.ApiRequest, reshape: list[Fault]) -> Reply:
        if request.cmd not in ("execute", "select"):
            raise BillingError(f"Неизвестная команда: {request.cmd or 'null'}")
        procedure = self.procedures.get(request.proc)
        if procedure is None:
            raise unknown_procedure(request.proc or "null")
        if not self.dialect.command_allowed(request.cmd, procedure.name):
            # what Firebird says when a selectable procedure is EXECUTEd by a client that wants its rows
            raise BillingError(f"Dynamic SQL Error; SQL error code = -84; procedure {procedure.name} "
                               "does not return any values")
        if request.one_step:
            if not self.sessions.check(request.login, request.password):
                self.stats.incr("login_failures")
                raise BillingError(BAD_LOGIN)
            self.stats.incr("one_step_logins")
        if procedure.name == LOGIN_PROC:
            values = procedure.bind(request.args)
            suid = self.sessions.login(values["LOGIN"], values["PASSWORD"])
            if suid is None:
                self.stats.incr("login_failures")
                raise BillingError(BAD_LOGIN)
            self.stats.incr("logins")
            return self._render(Result(LOGIN_COLUMNS, [(suid,)], single=True))
        if request.one_step:
            login = str(request.login)
            values = procedure.bind(request.args)
        else:
            if len(request.args) > len(procedure.params) + 1:
                raise procedure.mismatch()
            raw_suid = request.args[0] if request.args else None
            suid = None if raw_suid is None else SUID_TYPE.parse(raw_suid)
            values = procedure.bind(request.args[1:])
            found = None if suid is None else self.sessions.resolve(suid)
            if found is None:
                raise BillingError(SESSION_EXPIRED)
            login = found
        assert procedure.handler is not None
        if (procedure.name == "CLN_USR_GET" and "nil-unknown-user" in self.dialect
                and values["SELECT_ID"] is not None and self.store.user(values["SELECT_ID"]) is None):
            return self._render(Result(USR_GET_COLUMNS, [(None,) * len(USR_GET_COLUMNS)], single=True))
        context = Context(login, datetime.now().replace(microsecond=0))
        with self.store.transaction() as conn:
            result = procedure.handler(conn, values, context)
            for fault in reshape:
                result = _reshaped(result, fault)
            reply = self._render(result)  # rows stream from the cursor
        if procedure.writes:
            self.stats.incr("commits")
        for event in context.events:
            self.stats.incr(event)
        return reply

    def _render(self, result: Result) -> Reply:
        return Reply(200, self.renderer.content_type, self.renderer.result(result))


def _reshaped(result: Result, fault: Fault) -> Result:
    """``result`` with one column renamed and/or its values cut short, as another billing might answer."""
    names = [name for name, _ in result.columns]
    if fault.column not in names:
        return result
    at = names.index(fault.column)
    columns = [(fault.rename_to or name, kind) if i == at else (name, kind)
               for i, (name, kind) in enumerate(result.columns)]

    def cut(row: Any) -> tuple[Any, ...]:
        values = list(row)
        if fault.max_len is not None and isinstance(values[at], str):
            values[at] = values[at][:fault.max_len]
        return tuple(values)

    return Result(columns, (cut(row) for row in result.rows), result.single)
