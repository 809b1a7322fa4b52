"""``soap-gateway reconcile`` and ``soap-gateway post-payments``: the accounting operations for an operator.

Both run the same code as the SOAP operations, in this process, with the
gateway's configuration: its billing account and its write journal (shared
with the running gateway), so a payment posted here is one the gateway will
never post again, and the other way round.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import getpass
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence, TextIO

from ..config import Settings
from ..errors import ConfigurationError, GatewayError
from .progress import Progress
from .published import (CONTRACT, DAY_COLUMNS, DESCR, INPUT_COLUMNS, KEY, NUMBER, OP_DATE, PAYMENT_COLUMNS,
                        RESULT_COLUMNS, SUMMA, USER_ID)

if TYPE_CHECKING:
    from .batch import Caller, PaymentLine

# Building the command line imports nothing of the billing side: `serve` must set up
# multiprocess metrics before anything imports prometheus-client (ops/multiproc.py).


def add_reconcile_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", required=True, type=_moment,
                        help="first day (YYYY-MM-DD) or moment (YYYY-MM-DD HH:MM[:SS]), the billing's wall clock")
    parser.add_argument("--to", dest="end", required=True, type=lambda text: _moment(text, end=True),
                        help="last day (inclusive) or moment")
    scope = parser.add_mutually_exclusive_group(required=True)
    scope.add_argument("--group", type=int, help="a group id: every subscriber below it")
    scope.add_argument("--subscriber", type=int, help="one subscriber's id")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--days", action="store_true", help="csv: the per-day totals instead of the payments")


def add_post_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="CSV with the columns " + ", ".join(INPUT_COLUMNS)
                        + " (docs/payments-sample.csv); the result goes to FILE.result.csv")


def run_reconcile(args: argparse.Namespace) -> int:
    from .report import Reconciliation, day_values, payment_values

    settings = Settings.load(args.config)
    gateway = _gateway(settings)
    try:
        progress = Progress("сверка / reconciling", "days")
        try:
            report = Reconciliation(gateway, settings.accounting.max_report_days).run(
                args.start, args.end, args.group if args.group is not None else args.subscriber, _caller(),
                progress.update)
        finally:
            progress.done()
    except GatewayError as exc:
        print(f"reconcile: {exc}", file=sys.stderr)
        return 1
    finally:
        gateway.close()
    payments = [payment_values(p) for p in report.payments]
    days = [day_values(d) for d in report.days]
    out = sys.stdout
    if args.format == "json":
        json.dump({"payments": payments, "days": days}, out, ensure_ascii=False, indent=1, default=_text)
        out.write("\n")
    elif args.format == "csv":
        write_csv(out, DAY_COLUMNS if args.days else PAYMENT_COLUMNS, days if args.days else payments)
    else:
        _table(out, PAYMENT_COLUMNS, payments)
        out.write("\n")
        _table(out, DAY_COLUMNS, days)
        counts = report.counts()
        out.write("\n" + ", ".join(f"{kind}: {n}" for kind, n in counts.items()) + "\n")
    return 0


def run_post(args: argparse.Namespace) -> int:
    from .batch import ALREADY_POSTED, POSTED, BatchLimits, BatchSummary, PaymentBatch, line_values, new_batch_id

    settings = Settings.load(args.config)
    lines = read_lines(args.file)
    target = args.file.with_name(args.file.stem + ".result.csv")
    gateway = _gateway(settings)
    limits = BatchLimits(settings.accounting.max_lines, settings.accounting.concurrency,
                         settings.accounting.deadline_seconds)
    batch = PaymentBatch(gateway, limits)
    progress = Progress("платежи / payments", "lines")
    counts: dict[str, int] = {}
    try:
        with target.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, RESULT_COLUMNS)
            writer.writeheader()
            done = 0
            for first in range(0, len(lines), limits.max_lines):  # the batch limit holds here too
                chunk = lines[first:first + limits.max_lines]
                summary = BatchSummary(new_batch_id(), len(chunk))
                for result in batch.run(chunk, _caller(), summary):
                    writer.writerow({k: "" if v is None else v for k, v in
                                     line_values(result, summary.batch_id, offset=first).items()})
                    counts[result.status] = counts.get(result.status, 0) + 1
                    done += 1
                    progress.update(done, len(lines))
                handle.flush()
    except GatewayError as exc:
        print(f"post-payments: {exc}", file=sys.stderr)
        return 1
    finally:
        progress.done()
        gateway.close()
    print(f"{len(lines)} lines: " + ", ".join(f"{n} {status}" for status, n in counts.items())
          + f"; results in {target}")
    return 0 if set(counts) <= {POSTED, ALREADY_POSTED} else 1


def read_lines(path: Path) -> list[PaymentLine]:
    """The file's lines; values are passed on as text, so a bad one is that line's refusal, as over SOAP."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel writes a BOM
    except OSError as exc:
        raise ConfigurationError(f"{path}: {exc.strerror}") from None
    dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = {name.strip().upper(): name for name in reader.fieldnames or ()}
    missing = [c for c in (KEY, OP_DATE, SUMMA) if c not in header]
    if missing or not ({USER_ID, CONTRACT} & set(header)):
        raise ConfigurationError(f"{path}: the header needs {KEY}, {OP_DATE}, {SUMMA} and {USER_ID} or "
                                 f"{CONTRACT} (missing: {', '.join(missing) or f'{USER_ID}/{CONTRACT}'})")

    def cell(row: dict[str, str], name: str) -> str | None:
        value = (row.get(header[name]) or "").strip() if name in header else ""
        return value or None

    from .batch import PaymentLine

    lines = []
    for row in reader:
        user = cell(row, USER_ID)
        lines.append(PaymentLine(key=cell(row, KEY) or "", op_date=cell(row, OP_DATE),  # type: ignore[arg-type]
                                 summa=(cell(row, SUMMA) or "").replace(",", ".") or None,
                                 user_id=int(user) if user and user.isdigit() else user,  # type: ignore[arg-type]
                                 contract=cell(row, CONTRACT), descr=cell(row, DESCR), number=cell(row, NUMBER)))
    return lines


def write_csv(out: TextIO, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _text(row[c]) for c in columns])


def _table(out: TextIO, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
    cells = [[("" if r.get(c) is None else _text(r[c])) for c in columns] for r in rows]
    widths = [min(40, max([len(c), *(len(row[i]) for row in cells)])) for i, c in enumerate(columns)]
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
    for row in cells:
        out.write("  ".join(v[:w].ljust(w) for v, w in zip(row, widths)).rstrip() + "\n")


def _text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _moment(text: str, end: bool = False) -> dt.datetime:
    try:
        if len(text.strip()) == 10:
            day = dt.date.fromisoformat(text.strip())
            return dt.datetime.combine(day, dt.time(23, 59, 59) if end else dt.time.min)
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS]") from None


def _gateway(settings: Settings) -> Any:
    from ..core import Gateway  # here: the CLI's argument parsing does not need the billing side

    return Gateway.from_settings(settings)


def _caller() -> Caller:
    from .batch import Caller

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    return Caller(name=f"cli:{user}")
