"""``soap-gateway demo``: the billing emulator and a gateway wired to it over mutual TLS, in one process.

With ``--dir`` the demo keeps its certificates there and writes ``gateway.toml``, the configuration
a newcomer's own ``soap-gateway serve`` needs to reach the same emulator (``deploy/demo.toml`` is
that file as ``--dir demo`` writes it). Without ``--dir`` nothing is left behind after a stop.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from .config import Settings
from .ops.logs import configure_logging

DEMO_DOMAIN = "billing.local"
DEMO_LOGIN, DEMO_PASSWORD = "Administrator", "servicemode"  # the emulator's built-in account
SERVE_LISTEN = "127.0.0.1:8001"  # the demo's own gateway has 8000

# Lines marked "real billing" are the ones to change for a real Carbon-Billing installation.
CONFIG_TEMPLATE = """\
# soap-gateway in front of the demo's billing emulator: `soap-gateway demo --dir {dir}` writes this
# file as {dir}/gateway.toml (deploy/demo.toml is the one it writes from the repository root).
# While the demo runs, start your own gateway with it from the same directory:
#     soap-gateway serve --config {dir}/gateway.toml
# For a real billing change the lines marked "real billing"; every key is explained in
# deploy/soap-gateway.example.toml.

[billing]
url = "https://127.0.0.1:{billing_port}/api.php"   # real billing: its api.php address
cert = "{dir}/cashier1.pfx"   # real billing: the cashier's <CN>.pfx it issued
cert_password = ""   # real billing: SOAP_GATEWAY_BILLING_CERT_PASSWORD instead
ca = "{dir}/ca.pem"   # real billing: the CA that signed its certificate
server_name = "{domain}"   # real billing: delete (the URL's host) or the name in its certificate
login = "{login}"   # real billing: the billing account for API work
password = "{password}"   # real billing: delete; SOAP_GATEWAY_BILLING_PASSWORD instead

[server]
listen = "{listen}"

[journal]
path = "{dir}/serve-journal.sqlite3"

[auth]
mode = "none"   # real billing: "basic" with [auth.users.<name>] (README, "Who may call what")
"""


def render_config(directory: str, billing_port: int, listen: str = SERVE_LISTEN) -> str:
    text = CONFIG_TEMPLATE.format(dir=directory, billing_port=billing_port, domain=DEMO_DOMAIN,
                                  login=DEMO_LOGIN, password=DEMO_PASSWORD, listen=listen)
    return "".join(_align(line) for line in text.splitlines(keepends=True))


def _align(line: str) -> str:
    """The "real billing" comments in one column, whatever the values' lengths."""
    setting, marker, comment = line.partition(" # real billing")
    return f"{setting.rstrip():<44}#{marker[2:]}{comment}" if marker and not line.startswith("#") else line


def add_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--port", type=int, default=8000, help="gateway port (default 8000; 0 = any)")
    command.add_argument("--billing-port", type=int, default=1443,
                         help="the billing emulator's port (default 1443, as gateway.toml says; 0 = any)")
    command.add_argument("--dir", help="keep the certificates here and write gateway.toml for your own "
                                       "`soap-gateway serve` (default: a temporary directory, removed at exit)")


def run(args: argparse.Namespace) -> int:
    workdir = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="soap-gateway-demo-"))
    try:
        return _run(args, workdir)
    finally:
        if not args.dir:  # it holds a CA key and a cashier's .pfx
            shutil.rmtree(workdir, ignore_errors=True)


def _run(args: argparse.Namespace, workdir: Path) -> int:
    from .certs import create_demo_pki
    from .devserver import BackgroundServer
    from .emulator import Emulator
    from .application import create_app

    pki = create_demo_pki(workdir, domain=DEMO_DOMAIN, overwrite=True)
    emulator = Emulator(str(pki.server_cert), str(pki.server_key), str(pki.client_ca), port=args.billing_port)
    emulator.start()
    try:
        server = BackgroundServer(None, "127.0.0.1", args.port)  # bound first: the WSDL names its port
        settings = _settings(_environment(emulator.port, pki, server.port), workdir)
        configure_logging(settings.server.log_format)
        server.set_app(create_app(settings))
        config = None
        if args.dir:
            config = workdir / "gateway.toml"
            config.write_text(render_config(args.dir.rstrip("/") or "/", emulator.port), encoding="utf-8")
        stop = _stop_on_signal()  # before the text that invites Ctrl-C
        with server:
            _print(settings.server.wsdl_address, emulator.url, workdir, config)
            stop.wait()
    finally:
        emulator.stop()
    print("stopped")
    return 0


def _environment(billing_port: int, pki: Any, port: int) -> dict[str, str]:
    # The billing is reached by IP while its certificate names a fictional
    # domain: exactly the situation SOAP_GATEWAY_BILLING_SERVER_NAME exists for.
    return {
        "SOAP_GATEWAY_BILLING_URL": f"https://127.0.0.1:{billing_port}/api.php",
        "SOAP_GATEWAY_BILLING_CERT": str(pki.clients["cashier1"]),
        "SOAP_GATEWAY_BILLING_CERT_PASSWORD": "",
        "SOAP_GATEWAY_BILLING_CA": str(pki.ca_cert),
        "SOAP_GATEWAY_BILLING_SERVER_NAME": pki.domain,
        "SOAP_GATEWAY_BILLING_LOGIN": DEMO_LOGIN,
        "SOAP_GATEWAY_BILLING_PASSWORD": DEMO_PASSWORD,
        "SOAP_GATEWAY_LISTEN": f"127.0.0.1:{port}",
    }


def _settings(environ: dict[str, str], workdir: Path) -> Settings:
    settings = Settings.load(None, environ=environ)
    return settings.replace(journal=dataclasses.replace(settings.journal, path=str(workdir / "journal.sqlite3")))


def _print(soap_url: str, billing_url: str, workdir: Path, config: Path | None) -> None:
    python = sys.executable  # the interpreter that has zeep (scripts/demo.sh installs it into .venv)
    # Every command below is pasted into bash exactly as printed (tests/test_cli.py does so): the
    # curl body spans lines inside its quotes, which is fine for XML; no backslash continuations.
    if config is None:
        kept = ("certificates in a temporary directory, removed at exit;\n"
                "            run with --dir DIR to keep them and get a gateway.toml for your own serve")
        own = ""
    else:
        kept = f"certificates in {workdir}"
        own = f"""
Your own gateway against this emulator (from this directory, in a second terminal):
  {python} -m soap_gateway serve --config {config}
"""
    print(f"""
soap-gateway demo is running.

  WSDL:     {soap_url}?wsdl
  SOAP:     {soap_url}
  billing:  {billing_url} (emulator, mutual TLS, login {DEMO_LOGIN} / {DEMO_PASSWORD};
            {kept})

Try it with zeep:
  {python} -m zeep '{soap_url}?wsdl'
  {python} -c "import zeep; c = zeep.Client('{soap_url}?wsdl'); print(c.service.CLN_USR_GET(SELECT_ID=101))"

or with curl:
  curl -s -H 'Content-Type: text/xml; charset=utf-8' {soap_url} -d '<soapenv:Envelope
    xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:b="urn:soap-gateway:billing">
    <soapenv:Body><b:CLN_USR_FIND_2><b:NAME_IN>Иванов</b:NAME_IN></b:CLN_USR_FIND_2></soapenv:Body></soapenv:Envelope>'
{own}
Press Ctrl-C to stop.
""", flush=True)


def _stop_on_signal() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop
