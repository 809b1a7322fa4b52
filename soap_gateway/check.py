"""``soap-gateway check``: walk the path to the billing step by step, say what is wrong.

The last steps call every read procedure of the catalogue (harmless arguments, soap_gateway.dialect) and
say, in plain words and as [billing] lines to paste, which protocol settings this billing needs.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, TextIO

from .config import Settings, check_runtime
from .errors import GatewayError


def run_checks(config_path: str | None, out: TextIO = sys.stdout, calibrate: bool = False) -> int:
    """Print one line per step; return 0 when every step passed, 1 otherwise.

    ``calibrate``: look the last journaled payment of each posting lookup up in the billing now.
    """
    state: dict[str, Any] = {}

    def settings() -> str:
        state["settings"] = Settings.load(config_path)
        check_runtime(state["settings"])  # the same validation as serving
        billing = state["settings"].billing
        return (f"billing {billing.url}, expected certificate name {billing.expected_name}, "
                f"SOAP request path {state['settings'].server.soap_path}")

    def journal() -> str:
        from .journal import open_journal

        store = open_journal(state["settings"].journal)
        try:
            (unknown, oldest), where = store.unresolved(), store.where
        finally:
            store.close()
        if unknown:
            age = time.time() - oldest if oldest else 0.0
            where += (f"  WARNING: {unknown} write(s) of unknown outcome, the oldest {_age(age)} old: "
                      "soap-gateway journal --outcome unknown")
        return where

    def certificate() -> str:
        from .backend.tls import build_ssl_context, days_until_expiry, load_client_identity

        billing = state["settings"].billing
        identity = load_client_identity(billing.cert, billing.cert_password or None)
        build_ssl_context(identity, billing.ca)
        days = days_until_expiry(identity)
        warning = "  WARNING: renew it soon" if days < 30 else ""
        lines = [f"client certificate CN={identity.subject_cn}, expires in {days:.0f} days{warning}"]
        for user, entry in state["settings"].auth.users.items():
            if entry.cert:  # a cashier's own certificate, checked the same way
                own = load_client_identity(entry.cert, entry.cert_password or None)
                build_ssl_context(own, billing.ca)
                days = days_until_expiry(own)
                lines.append(f"  {user}: own certificate CN={own.subject_cn}, expires in {days:.0f} days"
                             + ("  WARNING: renew it soon" if days < 30 else ""))
        return "\n".join(lines)

    def login() -> str:
        from .backend import BillingClient

        state["client"] = client = BillingClient.from_settings(state["settings"].billing)
        client.login(client.service_account)
        return f"logged in as {client.service_account.login}"

    def reads() -> str:
        from .dialect import probe

        state["found"] = found = probe(state["settings"].billing, state["client"])
        lines = []
        for f in found.findings:
            if not f.command:
                lines.append(f"  {f.procedure}: NOT ANSWERED in any variant ({f.problem})")
                continue
            count = "" if f.arg_count == f.full_count else f" with {f.arg_count} arguments (not {f.full_count})"
            lines.append(f"  {f.procedure}: answers cmd={f.command}{count}")
        lines.append(f"  arguments: {found.charset_note}")
        if not found.complete:
            raise GatewayError("some read procedures answer no variant:\n" + "\n".join(lines))
        return f"{len(found.findings)} read procedures answered\n" + "\n".join(lines)

    def dialect() -> str:
        from .dialect import Recommendation

        billing, found = state["settings"].billing, state["found"]
        assert isinstance(found, Recommendation)
        changed = found.differs(billing)
        advice = found.toml(billing)
        if changed:
            raise GatewayError(f"this billing needs other settings ({', '.join(changed)}); "
                               f"put these lines in the config file:\n{advice}")
        return "the configured settings fit this billing:\n" + advice

    def reconciliation() -> str:
        from .journal import open_journal
        from .journal.calibration import Calibration, status

        client = state["client"]
        store = open_journal(state["settings"].journal)
        lines = []
        try:
            for proc in client.catalogue.values():
                if proc.reconcile != "posting":
                    continue
                if calibrate:
                    ok, detail = Calibration(client, store).now(proc)
                    if not ok:
                        raise CheckFailed(f"{proc.name}: the lookup is NOT calibrated: {detail}")
                lines.append(_calibration(proc.name, status(store, proc)))
        finally:
            store.close()
        return "; ".join(lines) or "no write is looked up by a posting"

    steps: list[tuple[str, Callable[[], str]]] = [
        ("configuration", settings), ("journal", journal), ("certificate", certificate), ("login", login),
        ("reads", reads), ("dialect", dialect), ("reconciliation", reconciliation)]
    for title, step in steps:
        started = time.perf_counter()
        try:
            detail = step()
        except (GatewayError, CheckFailed) as exc:
            print(f"FAIL  {title}: {exc}", file=out)
            return 1
        print(f"ok    {title}: {detail} ({(time.perf_counter() - started) * 1000:.0f} ms)", file=out)
    state["client"].close()
    print("everything works", file=out)
    return 0


class CheckFailed(Exception):
    """A step found something wrong that is not an error of the gateway's own."""


def _calibration(name: str, fact: dict[str, Any] | None) -> str:
    if fact is None:
        return (f"{name}: the lookup is not calibrated yet, so a payment not found in the billing proves nothing; "
                "the first payment calibrates it, or run soap-gateway check --calibrate")
    if fact.get("ok"):
        return f"{name}: the lookup is calibrated ({fact.get('detail')})"
    return f"{name}: WARNING: the lookup FAILED calibration: {fact.get('detail')}"


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
