"""The rules between settings that types alone cannot express, and what serving needs on the machine."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import ConfigurationError
from ..security.settings import check_auth
from .loading import ENVIRONMENT
from .settings import DEFAULT_ERROR_PATTERNS, Settings, default_journal_path


def check_settings(settings: Settings) -> None:
    """Everything ``Settings.load`` checks once the values are read."""
    _check(settings)
    check_auth(settings.auth)


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
