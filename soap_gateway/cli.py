"""The ``soap-gateway`` command: demo, serve, wsdl, check, journal, hash-password, emulator, certs.

Only ``demo`` and ``emulator`` import the billing emulator; the gateway
itself never does.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from .config import Settings, check_runtime
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
        ("check", cmd_check, "check configuration, certificate, connection and login"),
        ("journal", cmd_journal, "list the audit trail of writes: did this payment go through?"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        command.add_argument("--config", help="TOML configuration file (environment variables override it)")
        command.set_defaults(run=run)
        if name == "demo":
            command.add_argument("--port", type=int, default=8000, help="gateway port (default 8000; 0 = any)")
            command.add_argument("--dir", help="where to keep the demo certificates (default: a temp dir)")
        if name == "wsdl":
            command.add_argument("--out", help="write to this file instead of standard output")
        if name == "journal":
            from .journal.cli import add_arguments
            add_arguments(command)
    hashing = commands.add_parser("hash-password", help="print an argon2 hash for [auth.users.<name>] "
                                  "(the password is read from standard input or asked for)")
    hashing.set_defaults(run=cmd_hash_password)
    commands.add_parser("emulator", help="run the billing emulator (see: soap-gateway emulator --help)")
    commands.add_parser("certs", help="create a CA, server and client certificates (soap-gateway certs --help)")
    return parser


def cmd_wsdl(args: argparse.Namespace) -> int:
    from .soap import build_wsdl

    wsdl = build_wsdl(Settings.load(args.config))
    if args.out:
        Path(args.out).write_bytes(wsdl)
    else:
        sys.stdout.buffer.write(wsdl)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .security.settings import require_auth_decision
    from .server import run_gunicorn

    settings = Settings.load(args.config)
    require_auth_decision(settings.auth)
    check_runtime(settings)  # refuse here, in plain words, rather than in every worker
    return run_gunicorn(settings, args.config)


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


def cmd_check(args: argparse.Namespace) -> int:
    from .check import run_checks

    return run_checks(args.config)


def cmd_demo(args: argparse.Namespace) -> int:
    from .certs import create_demo_pki
    from .devserver import BackgroundServer
    from .emulator import Emulator
    from .application import create_app

    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="soap-gateway-demo-"))
    pki = create_demo_pki(workdir, domain="billing.local", overwrite=True)
    emulator = Emulator(str(pki.server_cert), str(pki.server_key), str(pki.client_ca))
    emulator.start()
    server = BackgroundServer(None, "127.0.0.1", args.port)  # bound first: the WSDL names its port
    settings = _demo_settings(_demo_environment(emulator.port, pki, server.port), workdir)
    configure_logging(settings.server.log_format)
    server.set_app(create_app(settings))
    with server:
        _print_demo(settings.server.wsdl_address, emulator.url, workdir)
        _wait_for_signal()
    emulator.stop()
    print("stopped")
    return 0


def _demo_environment(billing_port: int, pki: Any, port: int) -> dict[str, str]:
    # The billing is reached by IP while its certificate names a fictional
    # domain: exactly the situation SOAP_GATEWAY_BILLING_SERVER_NAME exists for.
    return {
        "SOAP_GATEWAY_BILLING_URL": f"https://127.0.0.1:{billing_port}/api.php",
        "SOAP_GATEWAY_BILLING_CERT": str(pki.clients["cashier1"]),
        "SOAP_GATEWAY_BILLING_CERT_PASSWORD": "",
        "SOAP_GATEWAY_BILLING_CA": str(pki.ca_cert),
        "SOAP_GATEWAY_BILLING_SERVER_NAME": pki.domain,
        "SOAP_GATEWAY_BILLING_LOGIN": "Administrator",
        "SOAP_GATEWAY_BILLING_PASSWORD": "servicemode",
        "SOAP_GATEWAY_LISTEN": f"127.0.0.1:{port}",
    }


def _demo_settings(environ: dict[str, str], workdir: Path) -> Settings:
    settings = Settings.load(None, environ=environ)
    return settings.replace(journal=dataclasses.replace(settings.journal, path=str(workdir / "journal.sqlite3")))


def _print_demo(soap_url: str, billing_url: str, workdir: Path) -> None:
    python = sys.executable  # the interpreter that has zeep (scripts/demo.sh installs it into .venv)
    print(f"""
soap-gateway demo is running.

  WSDL:     {soap_url}?wsdl
  SOAP:     {soap_url}
  billing:  {billing_url} (emulator, mutual TLS; certificates in {workdir})

Try it with zeep:
  {python} -m zeep '{soap_url}?wsdl'
  {python} -c "import zeep; c = zeep.Client('{soap_url}?wsdl'); print(c.service.CLN_USR_GET(SELECT_ID=101))"

or with curl:
  curl -s -H 'Content-Type: text/xml; charset=utf-8' {soap_url} -d '<soapenv:Envelope \\
    xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:b="urn:soap-gateway:billing">\\
    <soapenv:Body><b:CLN_USR_FIND_2><b:NAME_IN>Иванов</b:NAME_IN></b:CLN_USR_FIND_2></soapenv:Body></soapenv:Envelope>'

Press Ctrl-C to stop.
""", flush=True)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()

