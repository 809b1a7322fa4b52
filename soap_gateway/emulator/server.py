"""HTTPS transport: TLS >= 1.2 with a REQUIRED, verified client certificate, HTTP/1.1 keep-alive, IP allow-list.

Handshakes run in the connection's own thread, so a slow or failing client never blocks the accept loop.
"""
from __future__ import annotations

import ipaddress
import socket
import socketserver
import ssl
import threading
import traceback
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .api import Api, Reply
from .stats import Stats
from .wire import redact

ControlFn = Callable[[str, str, bytes], tuple[int, str, bytes]]
CONTROL_PREFIX = "/_emulator/"


def server_context(cert: str, key: str, client_ca: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.verify_mode = ssl.CERT_REQUIRED  # "Требовать и проверять клиентский сертификат"
    context.load_verify_locations(cafile=client_ca)
    return context


def _hard_close(sock: socket.socket) -> None:
    # socket.socket.shutdown, not SSLSocket.shutdown: the latter also drops the TLS object under a reader thread
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class BillingServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for idle keep-alive connections
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, api: Api, control: ControlFn,
                 stats: Stats, allow_ips: Iterable[str] | None = None,
                 access_log: Callable[[str], None] | None = None,
                 keepalive_timeout: float = 30.0, handshake_timeout: float = 10.0) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.context, self.api, self.control, self.stats = context, api, control, stats
        self.allowed = None if allow_ips is None else [ipaddress.ip_network(ip, strict=False) for ip in allow_ips]
        self.access_log = access_log
        self.keepalive_timeout, self.handshake_timeout = keepalive_timeout, handshake_timeout
        self._live: set[ssl.SSLSocket] = set()
        self._live_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # skips HTTPServer's getfqdn(): a reverse DNS lookup per start
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(self.handshake_timeout)
            # headers and body go out in separate writes: without NODELAY, Nagle + delayed ACK add 40 ms a reply
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):  # no/foreign client certificate, plain HTTP, port scan: count, stay quiet
            self.stats.incr("handshake_failures")
            return
        self.stats.incr("connections")
        if tls.session_reused:  # an abbreviated handshake (TLS session resumption)
            self.stats.incr("tls_resumptions")
        with self._live_lock:
            self._live.add(tls)
        try:
            tls.settimeout(self.keepalive_timeout)
            self.RequestHandlerClass(tls, client_address, self)  # type: ignore[arg-type]  # typeshed's Self
        except (OSError, ValueError):  # the peer vanished mid-request; nothing to report
            pass
        finally:
            with self._live_lock:
                self._live.discard(tls)
            _hard_close(tls)

    def shutdown_request(self, request: Any) -> None:
        try:  # the raw socket was detached into the TLS socket (or already closed): just release it
            request.close()
        except OSError:
            pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.stats.internal_error(traceback.format_exc())

    def ip_allowed(self, ip: str) -> bool:
        if self.allowed is None:
            return True
        address = ipaddress.ip_address(ip.removeprefix("::ffff:"))
        return any(address in network for network in self.allowed)

    def close_connections(self) -> None:
        with self._live_lock:
            live = list(self._live)
        for sock in live:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every reply carries Content-Length
    server_version = "Apache"
    sys_version = ""
    server: BillingServer
    connection: ssl.SSLSocket

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.cn = self._peer_cn()

    def _peer_cn(self) -> str | None:
        cert = self.connection.getpeercert() or {}
        for rdn in cert.get("subject", ()):
            for key, value in rdn:  # type: ignore[str-unpack]  # typeshed's _PeerCertRetDictType is too loose
                if key == "commonName":
                    return str(value)
        return None

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet by default; the optional access log is written (redacted) by _log_access

    def do_GET(self) -> None:
        self._route(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._route(self.rfile.read(length) if length > 0 else b"")

    def _route(self, body: bytes) -> None:
        path, _, query = self.path.partition("?")
        ip = str(self.client_address[0])
        try:
            if path.startswith(CONTROL_PREFIX):  # the emulator's own endpoint: not subject to the allow-list
                self.server.stats.incr("control_requests")
                status, ctype, data = self.server.control(self.command, path, body)
                reply = Reply(status, ctype, [data])
            elif path != "/api.php":
                reply = Reply(404, "text/plain; charset=utf-8", [b"404 Not Found\n"])
            elif not self.server.ip_allowed(ip):
                self.server.stats.incr("refused_ip")
                reply = Reply(403, "text/plain; charset=utf-8", [f"403 Forbidden: {ip} is not allowed\n".encode()])
            else:
                form = body.decode("latin-1")  # $_REQUEST: POSTed form fields join the query ones
                reply = self.server.api.handle(f"{query}&{form}" if form else query, self.cn)
        except Exception:
            self.server.stats.internal_error(traceback.format_exc())
            reply = Reply(500, "text/plain; charset=utf-8", [b"500 Internal Server Error (emulator bug)\n"])
        self._log_access(path, query, reply)  # before replying: a client that got its answer finds the line
        self._reply(reply)

    def _reply(self, reply: Reply) -> None:
        if reply.drop:
            self.server.stats.incr("dropped")
            self.close_connection = True
            try:
                socket.socket.shutdown(self.connection, socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(sum(len(chunk) for chunk in reply.chunks)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            for chunk in reply.chunks:
                self.wfile.write(chunk)
        except OSError:  # the client gave up (e.g. its read timeout during delay_after_commit)
            self.close_connection = True

    def _log_access(self, path: str, query: str, reply: Reply) -> None:
        if self.server.access_log is None:
            return
        shown = path + ("?" + redact(query) if query and path == "/api.php" else "")
        size = "-" if reply.drop else sum(len(chunk) for chunk in reply.chunks)
        status = "DROP" if reply.drop else reply.status
        self.server.access_log(f'{self.client_address[0]} {self.cn or "-"} "{self.command} {shown}" {status} {size}')
