"""``python -m bench soak``: many payments through two gateways on one PostgreSQL journal, a faulty billing.

Not part of the test suite (tests/test_soak.py is its bounded sibling).  Two
gateway instances under gunicorn share a PostgreSQL journal; ``--clients``
threads post ``--payments`` payments with idempotency keys to either instance,
retrying on every fault and sometimes sending a payment twice at once, while
the emulator drops requests before and after the commit, commits later than
the gateways' read timeout, answers 5xx, and every few seconds forgets every
session.  A write that never reached the billing stays unknown, as it must;
an operator thread does what docs/money-safety.md asks of a person: it looks
in the billing for a write unknown for longer than any fault can take, and
resolves one that is not there as failed, after which the client's retry
posts it.

At the end, per key: intended (the client's payment), posted (operations in
the billing carrying its marker) and answered (the ID the client was finally
told).  The run passes with 0 duplicates, 0 lost, every answer equal to the
billing's operation, and every balance equal to the intended sum.  The report
goes into a section of bench/RESULTS.md; the per-key table into the work
directory (``--keep``).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
import zeep
from zeep.transports import Transport

from soap_gateway.backend import BillingClient
from soap_gateway.config import JournalSettings, Settings
from soap_gateway.journal import open_journal
from soap_gateway.journal.model import Who

from . import stack
from .sections import Section
from .calls import mtls_session

HERE = Path(__file__).resolve().parent
FIRST_USER, USERS = 1001, 200  # the emulator's bulk subscribers
READ_TIMEOUT = 1.0
OPERATOR_WAIT = 10.0  # longer than any fault below can keep a request from committing
RETRYABLE = ("Server.OutcomeUnknown", "Server.BillingUnavailable", "Server.JournalUnavailable",
             "Server.SessionExpired")
FAULTS = [
    {"fault": "latency", "rate": 0.2, "ms": 100},
    {"fault": "hang_no_commit", "proc": "CLN_FIN_OPER_ADD", "rate": 0.02, "ms": 1500},  # dropped before the commit
    {"fault": "drop_after_commit", "proc": "CLN_FIN_OPER_ADD", "rate": 0.03},
    {"fault": "latency", "proc": "CLN_FIN_OPER_ADD", "rate": 0.02, "ms": 2500},  # commits after the read timeout
    {"fault": "delay_after_commit", "proc": "CLN_FIN_OPER_ADD", "rate": 0.02, "ms": 1500},
    {"fault": "http_error", "proc": "CLN_FIN_OPER_ADD", "rate": 0.02, "status": 502},
    {"fault": "http_error", "proc": "CLN_FIN_OPER", "rate": 0.02, "status": 503},
]
REPORT = Section("soak")
BEGIN, END = REPORT.begin, REPORT.end
SECTION = "## Soak (python -m bench soak)"


@dataclass
class Payment:
    key: str
    user: int
    amount: Decimal
    number: str
    answers: list[int] = field(default_factory=list)


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, value: int = 1) -> None:
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench soak", description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md", help="the report's section goes here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, per-key table)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(stack.ROOT / "tests"))
    from postgres_server import PostgresServer  # the tests' throw-away server: Debian's postgresql

    workdir = Path(tempfile.mkdtemp(prefix="soap-gateway-soak-"))
    pki = stack.make_pki(workdir)
    database = PostgresServer().start()
    servers: list[stack.Server] = []
    try:
        journal_url = database.database()
        emulator = stack.start_emulator(workdir, pki, USERS, 0)
        servers.append(emulator)
        extra = f'[journal]\nurl = "{journal_url}"\nresolver_seconds = 2.0\n'
        gateways = [stack.launch_gateway(workdir, f"gateway-{name}", emulator.url, pki, 2, 8, read_timeout=READ_TIMEOUT,
                                         journal=extra) for name in ("a", "b")]
        servers += gateways
        for server in gateways:
            stack.wait_ready(server)
        result = Soak(emulator.url, [g.url for g in gateways], pki, journal_url,
                      Settings.load(workdir / "gateway-a.toml").billing).run(args.payments, args.clients)
    finally:
        for server in reversed(servers):
            server.stop()
        database.stop()
    result.write_table(workdir / "soak-keys.csv")
    text = result.report()
    print(text)
    REPORT.write(args.out, text)
    print(f"written: {args.out}" + (f"; per-key table {workdir / 'soak-keys.csv'}" if args.keep else ""))
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if result.ok else 1


class Soak:
    def __init__(self, billing_url: str, gateways: list[str], pki: dict[str, str], journal_url: str,
                 billing: Any) -> None:
        self.control = mtls_session((pki["pem"], pki["pem_key"]), pki["ca"])
        self.faults_url = f"{billing_url}/_emulator/faults"
        self.services = [_service(url, timeout) for url in gateways for timeout in (0.8, 30.0)]
        self.journal = JournalSettings(url=journal_url)
        self.billing = billing
        self.tally = Tally()
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self, count: int, clients: int) -> Result:
        rng = random.Random(20260303)
        payments = [Payment(str(uuid.uuid4()), FIRST_USER + rng.randrange(USERS), Decimal(rng.randint(100, 99999)) / 100,
                            f"S{n:05d}") for n in range(count)]
        client = BillingClient.from_settings(self.billing)
        try:
            before = {u: _operations(client, u) for u in range(FIRST_USER, FIRST_USER + USERS)}
            self._faults([{"fault": "clear"}, *FAULTS])
            helpers = [threading.Thread(target=self._operator, args=(client,)),
                       threading.Thread(target=self._expire_sessions)]
            for thread in helpers:
                thread.start()
            started = time.monotonic()
            shares = [payments[n::clients] for n in range(clients)]
            threads = [threading.Thread(target=self._client, args=(n, share)) for n, share in enumerate(shares)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - started
            self.stop.set()
            for thread in helpers:
                thread.join(60)
            self._faults({"fault": "clear"})
            after = {u: _operations(client, u) for u in range(FIRST_USER, FIRST_USER + USERS)}
        finally:
            client.close()
        store = open_journal(self.journal)
        try:
            entries = {e.key: e for e in store.entries()}
            records = store.records()
        finally:
            store.close()
        return Result(payments, before, after, entries, records, self.tally.counts, self.errors, elapsed, clients)

    def _client(self, number: int, payments: list[Payment]) -> None:
        rng = random.Random(number)
        for payment in payments:
            duplicate: threading.Thread | None = None
            if rng.random() < 0.1:  # the same document sent twice at once, to the other instance
                self.tally.add("duplicate submissions")
                duplicate = threading.Thread(target=self._submit, args=(payment, rng.choice(self.services)))
                duplicate.start()
            while not self._submit(payment, rng.choice(self.services)):
                self.tally.add("client retries")
                time.sleep(rng.uniform(0.2, 1.0))
            if duplicate is not None:
                duplicate.join()

    def _submit(self, payment: Payment, service: Any) -> bool:
        self.tally.add("SOAP requests")
        try:
            answer = service.CLN_FIN_OPER_ADD(USER_ID=payment.user, OP_DATE="2026-03-03T10:00:00",
                                              SUMMA=payment.amount, DESCR=f"soak {payment.number}",
                                              NUMBER=payment.number, IDEMPOTENCY_KEY=payment.key)
        except zeep.exceptions.Fault as fault:
            code = str(fault.code)
            self.tally.add(f"faults {code.split(':')[-1]}")
            if not code.endswith(RETRYABLE):
                self.errors.append(f"{payment.number}: {code} {fault.message}")
                return True  # not retryable: a bug, reported at the end
            return False
        except requests.RequestException:
            self.tally.add("client timeouts")
            return False
        payment.answers.append(int(answer.ID))
        return True

    def _operator(self, client: BillingClient) -> None:
        """Resolves as failed what stayed unknown well past any fault and is not in the billing."""
        store = open_journal(self.journal)
        try:
            while not self.stop.wait(1.0):
                for entry in store.entries(["unknown"]):
                    if entry.sent_at is None or time.time() - entry.sent_at < OPERATOR_WAIT:
                        continue
                    try:
                        posted = [op for op in _operations(client, entry.subscriber) if entry.marker in op[1]]
                    except Exception as exc:  # the billing is faulty on purpose: look again next round
                        self.tally.add(f"operator lookups failed ({type(exc).__name__})")
                        continue
                    if posted:
                        continue  # there: the resolver or the client's retry answers it
                    settled = store.resolve(entry.key, "failed", "soak operator: not in the billing",
                                            Who("soak operator"), time.time(), scope=entry.scope)
                    if settled is not None and settled.state == "failed":
                        self.tally.add("resolved by the operator as never posted")
        finally:
            store.close()

    def _expire_sessions(self) -> None:
        while not self.stop.wait(7.0):
            self._faults({"fault": "expire_sessions"})
            self.tally.add("session expiries")

    def _faults(self, payload: Any) -> None:
        reply = self.control.post(self.faults_url, data=json.dumps(payload), timeout=30,
                                  headers={"Content-Type": "application/json"})
        reply.raise_for_status()


@dataclass
class Result:
    payments: list[Payment]
    before: dict[int, list[tuple[int, str, Decimal]]]
    after: dict[int, list[tuple[int, str, Decimal]]]
    entries: dict[str, Any]
    records: list[Any]
    counts: dict[str, int]
    errors: list[str]
    elapsed: float
    clients: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        known = {u: {op[0] for op in ops} for u, ops in self.before.items()}
        new = {u: [op for op in ops if op[0] not in known[u]] for u, ops in self.after.items()}
        for payment in self.payments:
            entry = self.entries.get(payment.key)
            marker = entry.marker if entry is not None else "(no entry)"
            posted = [op for op in new[payment.user] if marker in op[1]]
            self.rows.append({"key": payment.key, "user": payment.user, "intended": payment.amount,
                              "posted": [op[0] for op in posted], "posted amounts": [op[2] for op in posted],
                              "answered": sorted(set(payment.answers)), "state": entry.state if entry else "-"})
        self.duplicates = [r for r in self.rows if len(r["posted"]) > 1]
        self.lost = [r for r in self.rows if not r["posted"]]
        self.wrong = [r for r in self.rows if len(r["posted"]) == 1 and (
            r["answered"] != r["posted"] or r["posted amounts"] != [r["intended"]])]
        self.strangers = sum(len(ops) for ops in new.values()) - sum(len(r["posted"]) for r in self.rows)
        intended: dict[int, Decimal] = {}
        for payment in self.payments:
            intended[payment.user] = intended.get(payment.user, Decimal("0")) + payment.amount
        self.balances_off = [u for u in self.after if sum((op[2] for op in new[u]), Decimal("0"))
                             != intended.get(u, Decimal("0"))]
        self.ok = not (self.duplicates or self.lost or self.wrong or self.strangers or self.balances_off
                       or self.errors)

    def write_table(self, path: Path) -> None:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(self.rows[0]))
            writer.writeheader()
            writer.writerows(self.rows)

    def report(self) -> str:
        outcomes: dict[str, int] = {}
        for record in self.records:
            outcomes[record.outcome] = outcomes.get(record.outcome, 0) + 1
        reconciled = sum(r.outcome == "done" and r.detail.startswith("reconciled") for r in self.records)
        by_resolver = sum(r.outcome == "done" and r.caller.startswith("gateway (background") for r in self.records)
        lines = [
            BEGIN, SECTION, "",
            f"Run {time.strftime('%Y-%m-%d %H:%M')}: two gateway instances (gunicorn 2×8 each) on one PostgreSQL "
            f"journal, {self.clients} clients, {len(self.payments):,} payments to {len(self.after)} subscribers, "
            f"{self.elapsed:.0f} s; billing read timeout {READ_TIMEOUT:g} s. Faults: "
            + "; ".join(f"{f['fault']}{' ' + f['proc'] if 'proc' in f else ''} {f['rate']:.0%}"
                        + (f" {f['ms']} ms" if "ms" in f else "") for f in FAULTS)
            + "; every session expired every 7 s.", "",
            "| per key | count |", "|---|---|",
            f"| intended | {len(self.payments):,} |",
            f"| posted exactly once | {sum(len(r['posted']) == 1 for r in self.rows):,} |",
            f"| posted twice or more (duplicates) | {len(self.duplicates)} |",
            f"| not posted (lost) | {len(self.lost)} |",
            f"| final answer ≠ the billing's operation (or amount) | {len(self.wrong)} |",
            f"| operations in the billing no key explains | {self.strangers} |",
            f"| subscribers whose balance ≠ intended | {len(self.balances_off)} |",
            f"| non-retryable faults | {len(self.errors)} |", "",
            "| during the run | count |", "|---|---|",
            *(f"| {name} | {value:,} |" for name, value in sorted(self.counts.items())),
            *(f"| journal audit: {name} | {value:,} |" for name, value in sorted(outcomes.items())),
            f"| found in the billing after a lost answer (reconciled) | {reconciled:,} |",
            f"| ... of them by the background resolver | {by_resolver:,} |", "",
            "Verdict: " + ("0 duplicates, 0 lost, every final answer is the billing's operation."
                           if self.ok else "FAILED: see the table above."),
        ]
        if self.errors:
            lines += ["", "First non-retryable faults:", *(f"- {e}" for e in self.errors[:5])]
        for name, rows in (("duplicates", self.duplicates), ("lost", self.lost), ("wrong answers", self.wrong)):
            if rows:
                lines += ["", f"First {name}:", *(f"- {r}" for r in rows[:5])]
        return "\n".join([*lines, END]) + "\n"


def _service(url: str, timeout: float) -> Any:
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=64))
    return zeep.Client(f"{url}/soap?wsdl", transport=Transport(session=session, operation_timeout=timeout)).service


def _operations(client: BillingClient, user: int) -> list[tuple[int, str, Decimal]]:
    return [(int(r.get("ID")), str(r.get("DESCR") or ""), r.get("SUMMA"))
            for r in client.call("CLN_FIN_OPER", {"USER_ID": user})]
