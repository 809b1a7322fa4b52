"""The ``soap-gateway`` command: serve the gateway, and the tools an operator runs beside it.

demo, serve, wsdl, openapi, check, journal, reconcile, post-payments, hash-password, emulator, certs.

Only ``demo`` and ``emulator`` import the billing emulator; the gateway
itself never does.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .config import Settings
from .errors import ConfigurationError
from .ops.logs import configure_logging


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["emulator"]:
        from .emulator.cli import main as emulator_main
        return emulator_main(argv[1:])
    if argv[:1] == ["certs"]:
        from .certs import main as certs_main
        return certs_main(argv[1:])
    args = _parser().parse_args(argv)
    configure_logging("text", logging.INFO)
    try:
        return int(args.run(args) or 0)
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soap-gateway", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, run, text in (
        ("demo", cmd_demo, "run the gateway in front of the embedded billing emulator"),
        ("serve", cmd_serve, "run the gateway under gunicorn"),
        ("wsdl", cmd_wsdl, "print the WSDL (for offline import into 1C or .NET)"),
        ("openapi", cmd_openapi, "print the OpenAPI 3.1 document of the REST facade"),
        ("check", cmd_check, "check configuration, certificate, connection and login"),
        ("journal", cmd_journal, "list the audit trail of writes: did this payment go through?"),
        ("reconcile", cmd_reconcile, "reconcile a period: the journal's payments against the billing's"),
        ("post-payments", cmd_post_payments, "post the payments of a CSV file (a bank statement) once each"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--config", help="TOML configuration file (environment variables override it)")
        command.set_defaults(run=run)
        if name == "demo":
            from .demo import add_arguments as add_demo_arguments
            add_demo_arguments(command)
        if name in ("wsdl", "openapi"):
            command.add_argument("--out", help="write to this file instead of standard output")
        if name == "check":
            command.add_argument("--calibrate", action="store_true",
                                 help="look the last journaled payment up in the billing, to trust the lookup")
        if name == "journal":
            from .journal.cli import add_arguments
            add_arguments(command)
        if name == "reconcile":
            from .accounting.cli import add_reconcile_arguments
            add_reconcile_arguments(command)
        if name == "post-payments":
            from .accounting.cli import add_post_arguments
            add_post_arguments(command)
    hashing = commands.add_parser("hash-password", help="print an argon2 hash for [auth.users.<name>] "
                                  "(the password is read from standard input or asked for)")
    hashing.set_defaults(run=cmd_hash_password)
    commands.add_parser("emulator", help="run the billing emulator (see: soap-gateway emulator --help)")
    commands.add_parser("certs", help="create a CA, server and client certificates (soap-gateway certs --help)")
    return parser


def cmd_openapi(args: argparse.Namespace) -> int:
    from .rest import openapi_document

    document = openapi_document(Settings.load(args.config))
    if args.out:
        Path(args.out).write_bytes(document)
    else:
        sys.stdout.buffer.write(document)
    return 0


def cmd_wsdl(args: argparse.Namespace) -> int:
    from .soap import build_wsdl

    wsdl = build_wsdl(Settings.load(args.config))
    if args.out:
        Path(args.out).write_bytes(wsdl)
    else:
        sys.stdout.buffer.write(wsdl)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import run_gunicorn

    return run_gunicorn(args.config)


def cmd_hash_password(args: argparse.Namespace) -> int:
    import getpass

    from .security.passwords import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("the passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("an empty password is refused", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


def cmd_journal(args: argparse.Namespace) -> int:
    from .journal.cli import run

    return run(args)


def cmd_reconcile(args: argparse.Namespace) -> int:
    from .accounting.cli import run_reconcile

    return run_reconcile(args)


def cmd_post_payments(args: argparse.Namespace) -> int:
    from .accounting.cli import run_post

    return run_post(args)


def cmd_check(args: argparse.Namespace) -> int:
    from .check import run_checks

    return run_checks(args.config, calibrate=args.calibrate)


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run

    return run(args)
