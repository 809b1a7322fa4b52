"""``soap-gateway emulator``: run the billing emulator until SIGINT/SIGTERM; prints its URL when ready."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from .dialect import DIALECTS, parse_dialect
from .emulator import Emulator


def _account(text: str) -> tuple[str, str]:
    login, sep, password = text.partition(":")
    if not sep or not login:
        raise argparse.ArgumentTypeError(f"expected login:password, got {text!r}")
    return login, password


def _dialect(text: str) -> str:
    try:
        parse_dialect(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soap-gateway emulator",
                                     description="Billing emulator: the cashier API (api.php) over mTLS.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1443, help="0 = any free port (default: 1443)")
    parser.add_argument("--cert", required=True, help="server certificate (PEM)")
    parser.add_argument("--key", required=True, help="server private key (PEM)")
    parser.add_argument("--client-ca", required=True, help="CA (PEM) that signs the cashiers' certificates")
    parser.add_argument("--db", default=":memory:", help="SQLite file (default: in memory)")
    parser.add_argument("--seed-users", type=int, default=0, help="extra bulk subscribers (ids 1001..)")
    parser.add_argument("--seed-ops", type=int, default=10, help="financial operations per bulk subscriber")
    parser.add_argument("--suid-lifetime", type=float, default=3600, help="seconds a SUID lives unused")
    parser.add_argument("--allow-ip", action="append", dest="allow_ips", metavar="IP",
                        help="allowed client IP or network (repeatable; default: everyone)")
    parser.add_argument("--account", action="append", type=_account, default=[], metavar="LOGIN:PASSWORD",
                        help="extra billing account (repeatable); Administrator/servicemode always exists")
    parser.add_argument("--encoding", default="windows-1251", choices=("windows-1251", "utf-8"),
                        help="reply encoding (default: windows-1251)")
    parser.add_argument("--no-declare-encoding", action="store_true",
                        help="omit the XML declaration (charset only in the HTTP header)")
    parser.add_argument("--timestamp-style", choices=("iso", "dmy"), default="iso")
    parser.add_argument("--legacy-find", action="store_true",
                        help="an old installation: CLN_USR_FIND_2 without its last argument NAS_IP")
    parser.add_argument("--dialect", default="", type=_dialect, metavar="NAME[,NAME...]",
                        help="behave like an installation that differs from the default reading of the vendor page: "
                             + "; ".join(f"{name}: {what}" for name, what in DIALECTS.items()) + "; all: every one")
    parser.add_argument("--access-log", action="store_true", help="log requests to stderr (secrets redacted)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        emulator = Emulator(
            args.cert, args.key, args.client_ca, host=args.host, port=args.port, db=args.db,
            seed_users=args.seed_users, seed_ops=args.seed_ops, suid_lifetime=args.suid_lifetime,
            allow_ips=args.allow_ips, encoding=args.encoding, declare_encoding=not args.no_declare_encoding,
            legacy_find=args.legacy_find, dialect=args.dialect, accounts=dict(args.account), timestamp_style=args.timestamp_style,
            access_log=(lambda line: print(line, file=sys.stderr, flush=True)) if args.access_log else None,
        ).start()
    except (OSError, ValueError) as error:  # unreadable PEM, busy port, bad option value
        print(f"emulator: {error}", file=sys.stderr)
        return 2
    done = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: done.set())
    print(f"Billing emulator listening on {emulator.url}", flush=True)
    try:
        while not done.wait(0.5):  # a timed wait keeps the main thread responsive to signals
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    print("Billing emulator stopped", flush=True)
    return 0
