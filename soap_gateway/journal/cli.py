"""``soap-gateway journal``: the audit trail for accountants, and an operator's verdict on unknown writes.

Lists what the gateway did with each write, filtered by date, key, outcome,
operation or subscriber: "did this payment go through?" without opening the
billing.  Times are the billing's wall clock (``billing.timezone``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
import time
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from ..config import Settings
from ..errors import ConfigurationError
from .model import DONE, FAILED, OUTCOMES, AuditRecord, Who, load_rows

COLUMNS = ("time", "outcome", "operation", "subscriber", "amount", "key", "caller", "detail")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="DATE", help="from this date/time (e.g. 2024-05-01 or 2024-05-01T09:30)")
    parser.add_argument("--until", metavar="DATE", help="before this date/time (a bare date: up to its end)")
    parser.add_argument("--key", help="one idempotency key: its history and its final state")
    parser.add_argument("--outcome", action="append", choices=OUTCOMES, help="only these outcomes (repeatable)")
    parser.add_argument("--operation", help="only this operation, e.g. CLN_FIN_OPER_ADD")
    parser.add_argument("--subscriber", type=int, help="only this subscriber (USER_ID)")
    parser.add_argument("--last", type=int, metavar="N", help="only the last N records")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--resolve", metavar="KEY", help="settle an unknown write by hand, after checking the billing")
    parser.add_argument("--as", dest="resolve_as", choices=(DONE, FAILED), help="with --resolve: what the billing shows")
    parser.add_argument("--reason", default="", help="with --resolve: how it was checked (kept in the audit)")
    parser.add_argument("--caller", help="with --resolve: whose key (needed when several callers used it)")


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    from . import open_journal

    settings = Settings.load(args.config)
    zone = ZoneInfo(settings.billing.timezone)
    journal = open_journal(settings.journal)
    try:
        if args.resolve:
            return _resolve(journal, args, out)
        records = journal.records(since=_when(args.since, zone), until=_when(args.until, zone, end=True),
                                  key=args.key, outcomes=args.outcome or (), procedure=args.operation,
                                  subscriber=args.subscriber, limit=args.last)
        _print(records, args.format, zone, out)
        if args.key and args.format == "table":
            entries = journal.entries(key=args.key)
            if not entries:
                print(f"\nkey {args.key}: no such key", file=out)
            for entry in entries:
                whose = f" of {entry.scope}" if entry.scope else ""
                result = _result(entry.result, _record_column(settings, entry.procedure))
                print(f"\nkey {args.key}{whose}: {entry.state}: {entry.reason or result}", file=out)
    finally:
        journal.close()
    return 0


def _resolve(journal: Any, args: argparse.Namespace, out: TextIO) -> int:
    if not args.resolve_as or not args.reason:
        raise ConfigurationError("--resolve needs --as done|failed and a --reason saying how it was checked")
    entry = journal.resolve(args.resolve, args.resolve_as, args.reason, Who("operator (soap-gateway journal)"),
                            time.time(), scope=args.caller)
    if entry is None:
        print(f"no such key: {args.resolve}", file=out)
        return 1
    if entry.state != args.resolve_as:
        print(f"key {args.resolve} is {entry.state} and was left as it is", file=out)
        return 1
    print(f"key {args.resolve}: {entry.state} ({args.reason})", file=out)
    return 0


def _when(text: str | None, zone: ZoneInfo, end: bool = False) -> float | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigurationError(f"{text!r} is not a date (YYYY-MM-DD) or date and time (YYYY-MM-DDTHH:MM)") from None
    if end and len(text) <= 10:
        value += dt.timedelta(days=1)
    return (value if value.tzinfo else value.replace(tzinfo=zone)).timestamp()


def _row(record: AuditRecord, zone: ZoneInfo) -> dict[str, Any]:
    when = dt.datetime.fromtimestamp(record.at, zone).strftime("%Y-%m-%d %H:%M:%S")
    return {"time": when, "outcome": record.outcome, "operation": record.procedure,
            "subscriber": "" if record.subscriber is None else record.subscriber, "amount": record.amount or "",
            "key": record.key or "", "caller": record.caller, "detail": record.detail}


def _print(records: list[AuditRecord], fmt: str, zone: ZoneInfo, out: TextIO) -> None:
    rows = [_row(r, zone) for r in records]
    if fmt == "json":
        extra = [{c: getattr(r, c) for c in ("correlation_id", "instance")} for r in records]
        json.dump([{**row, **more} for row, more in zip(rows, extra)], out, ensure_ascii=False, indent=1)
        out.write("\n")
        return
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        return
    widths = {c: max([len(c)] + [len(str(r[c])) for r in rows]) for c in COLUMNS if c != "detail"}
    print("  ".join(c.ljust(widths.get(c, 0)) for c in COLUMNS).rstrip(), file=out)
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths.get(c, 0)) for c in COLUMNS).rstrip(), file=out)
    print(f"({len(rows)} records)", file=out)


def _record_column(settings: Settings, procedure: str) -> str:
    """The reply column the catalogue names as the id of the written record ("" if none)."""
    from ..catalogue import load_catalogue

    proc = load_catalogue(settings.billing.catalogue_files, settings.billing.arg_counts).get(procedure)
    column = proc.role_column("record") if proc else None
    return column.name if column else ""


def _result(text: str | None, record: str) -> str:
    rows = load_rows(text)
    ident = rows[0].get(record) if rows and record else None
    return f"billing id {ident}" if ident is not None else "no billing id"

