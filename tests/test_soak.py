"""Bounded soak: many clients, random retries and duplicates, a faulty billing; no payment twice, none lost.

Gateways run as separate processes under gunicorn: two instances sharing a
PostgreSQL journal, or one instance with several workers on the SQLite
journal.  The emulator drops replies after committing, delays and hangs,
answers 5xx, all at random rates set through its control endpoint.  A lost
answer the billing never committed stays unknown (the gateway does not guess),
so an operator thread does what docs/money-safety.md asks of a person: it
checks the billing for a write unknown for longer than the emulator's longest
fault and resolves it.  At the end the billing's operations and balances must
be exactly the intended payments, and the counts are printed.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import zeep
from zeep.transports import Transport

from money import write_config
from serving import free_port, serve_process
from soap_gateway.backend.tls import build_ssl_context, load_client_identity
from soap_gateway.emulator import Emulator
from soap_gateway.journal import open_journal
from soap_gateway.journal.model import Who
from soap_gateway.config import JournalSettings

CLIENTS, PAYMENTS_EACH, SUBSCRIBERS = 16, 10, range(1001, 1021)
DEADLINE = 120.0  # seconds for the whole run; it normally takes a fraction
RETRYABLE = ("Server.OutcomeUnknown", "Server.BillingUnavailable", "Server.JournalUnavailable")
FAULTS = [
    {"fault": "latency", "rate": 0.3, "ms": 150},
    {"fault": "drop_after_commit", "proc": "CLN_FIN_OPER_ADD", "rate": 0.12},
    {"fault": "delay_after_commit", "proc": "CLN_FIN_OPER_ADD", "rate": 0.05, "ms": 1500},
    {"fault": "hang_no_commit", "proc": "CLN_FIN_OPER_ADD", "rate": 0.05, "ms": 1200},
    {"fault": "http_error", "proc": "CLN_FIN_OPER_ADD", "rate": 0.04, "status": 502},
    {"fault": "http_error", "proc": "CLN_FIN_OPER", "rate": 0.05, "status": 503},
]


@pytest.fixture(scope="module")
def billing(pki: Any) -> Iterator[Emulator]:
    """An emulator of its own: 20 fresh subscribers, a fixed fault seed."""
    emulator = Emulator(str(pki.server_cert), str(pki.server_key), str(pki.client_ca), seed_users=len(SUBSCRIBERS),
                        seed_ops=0, fault_seed=20240501)
    emulator.start()
    yield emulator
    emulator.stop()


def control(billing: Emulator, pki: Any, payload: Any) -> Any:
    """POST /_emulator/faults over mutual TLS, as an out-of-process test driver would."""
    context = build_ssl_context(load_client_identity(str(pki.clients["cashier1"]), None), str(pki.ca_cert))
    connection = http.client.HTTPSConnection("127.0.0.1", billing.port, context=context, timeout=10)
    connection.request("POST", "/_emulator/faults", body=json.dumps(payload),
                       headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    assert response.status == 200, body
    return body


@dataclass
class Payment:
    key: str
    user: int
    amount: Decimal
    number: str
    op_date: Any
    ids: list[int] = field(default_factory=list)  # every successful answer's ID


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    retries: int = 0
    duplicates: int = 0
    outcome_unknown: int = 0
    client_timeouts: int = 0

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class Driver:
    """The test's clients: each posts its payments, retrying and duplicating at random."""

    def __init__(self, urls: list[str], seed: int) -> None:
        self.services = [self._service(url, timeout) for url in urls for timeout in (0.8, 15.0)]
        self.tally = Tally()
        self.seed = seed
        self.errors: list[str] = []

    @staticmethod
    def _service(url: str, timeout: float) -> Any:
        session = requests.Session()
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=CLIENTS * 2))
        transport = Transport(session=session, operation_timeout=timeout)
        return zeep.Client(f"{url}/soap?wsdl", transport=transport).service

    def submit(self, payment: Payment, service: Any) -> bool:
        self.tally.add(requests=1)
        try:
            answer = service.CLN_FIN_OPER_ADD(USER_ID=payment.user, OP_DATE=payment.op_date, SUMMA=payment.amount,
                                              DESCR=f"soak {payment.number}", NUMBER=payment.number,
                                              IDEMPOTENCY_KEY=payment.key)
        except zeep.exceptions.Fault as fault:
            if not str(fault.code).endswith(RETRYABLE):
                self.errors.append(f"{payment.number}: {fault.code} {fault.message}")
            self.tally.add(outcome_unknown=int(str(fault.code).endswith("OutcomeUnknown")))
            return False
        except requests.RequestException:
            self.tally.add(client_timeouts=1)
            return False
        payment.ids.append(answer.ID)
        return True

    def client(self, number: int, payments: list[Payment], stop_at: float) -> None:
        rng = random.Random(self.seed + number)
        for payment in payments:
            duplicates: list[threading.Thread] = []
            while time.monotonic() < stop_at:
                if rng.random() < 0.25:  # the same document sent again at once, elsewhere
                    self.tally.add(duplicates=1)
                    duplicates.append(threading.Thread(target=self.submit, args=(payment, rng.choice(self.services))))
                    duplicates[-1].start()
                if self.submit(payment, rng.choice(self.services)):
                    break
                self.tally.add(retries=1)
                time.sleep(rng.uniform(0.1, 0.5))
            if payment.ids and rng.random() < 0.2:  # a retry after success, e.g. a restarted 1C exchange
                self.tally.add(duplicates=1)
                self.submit(payment, rng.choice(self.services))
            for thread in duplicates:
                thread.join(30)


OPERATOR_WAIT = 4.0  # longer than any request of the emulator's faults can take to commit


def operator(billing: Emulator, journal: JournalSettings, stop: threading.Event, resolved: list[str]) -> None:
    """Settles unknown writes by looking at the billing, as a person with the journal command would."""
    store = open_journal(journal)
    try:
        while not stop.wait(0.5):
            for entry in store.entries(["unknown"]):
                if entry.sent_at is None or time.time() - entry.sent_at < OPERATOR_WAIT:
                    continue
                if any(entry.marker in (op["DESCR"] or "") for op in billing.fin_opers(entry.subscriber)):
                    continue  # posted: the client's next retry finds it and gets the billing's id
                settled = store.resolve(entry.key, "failed", "not in the billing", Who("soak operator"), time.time(),
                                        scope=entry.scope)
                if settled is not None and settled.state == "failed":
                    resolved.append(entry.key)
    finally:
        store.close()


def plan(seed: int) -> list[list[Payment]]:
    rng = random.Random(seed)
    when = dt.datetime.now().replace(microsecond=0)
    return [[Payment(str(uuid.uuid4()), rng.choice(SUBSCRIBERS), Decimal(rng.randint(100, 99999)) / 100,
                     f"S{c:02d}-{p:02d}", when) for p in range(PAYMENTS_EACH)] for c in range(CLIENTS)]


def soak(billing: Emulator, pki: Any, urls: list[str], journal: JournalSettings, seed: int,
         capsys: pytest.CaptureFixture[str]) -> None:
    before = {user: billing.balance(user) for user in SUBSCRIBERS}
    first_new_id = 1 + max((op["ID"] for user in SUBSCRIBERS for op in billing.fin_opers(user)), default=0)
    billing.reset_stats()
    payments = plan(seed)
    driver = Driver(urls, seed)
    control(billing, pki, [{"fault": "clear"}, *FAULTS])
    started = time.monotonic()
    threads = [threading.Thread(target=driver.client, args=(n, payments[n], started + DEADLINE))
               for n in range(CLIENTS)]
    stop, resolved = threading.Event(), []
    person = threading.Thread(target=operator, args=(billing, journal, stop, resolved))
    person.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE + 60)
    stop.set()
    person.join(30)
    elapsed = time.monotonic() - started
    control(billing, pki, {"fault": "clear"})
    stats = billing.stats()
    everything = [p for batch in payments for p in batch]
    assert not driver.errors, driver.errors[:5]
    assert all(p.ids for p in everything), [p.number for p in everything if not p.ids]

    store = open_journal(journal)
    try:
        records = store.records(since=time.time() - elapsed - 5)
        entries = [store.entry(p.key) for p in everything]
    finally:
        store.close()
    assert all(e is not None and e.state == "done" for e in entries)

    # The billing holds exactly the intended payments: each once, with the ID its client was told.
    new = [op for user in SUBSCRIBERS for op in billing.fin_opers(user) if op["ID"] >= first_new_id]
    assert len(new) == len(everything)
    by_marker = {e.marker: p for e, p in zip(entries, everything)}  # type: ignore[union-attr]
    for op in new:
        payment = by_marker[op["DESCR"].split(" ", 1)[0]]  # the marker comes first
        assert (op["USER_ID"], op["SUMMA"], op["NUMBER"]) == (payment.user, payment.amount, payment.number)
        assert set(payment.ids) == {op["ID"]}
    for user in SUBSCRIBERS:
        intended = sum((p.amount for p in everything if p.user == user), Decimal("0.00"))
        assert billing.balance(user) == before[user] + intended, user

    count = {outcome: sum(r.outcome == outcome for r in records) for outcome in
             ("pending", "done", "replayed", "reconciling", "unknown", "conflict")}
    reconciled = sum(r.outcome == "done" and r.detail.startswith("reconciled") for r in records)
    assert count["conflict"] == 0
    tally = driver.tally
    with capsys.disabled():  # the counts belong in the run's output, passed or not
        print(f"\nsoak over {len(urls)} gateway URL(s), {journal.url and 'PostgreSQL' or 'SQLite'} journal, "
          f"{elapsed:.1f} s: payments {len(everything)}, SOAP requests {tally.requests}, client retries "
              f"{tally.retries}, duplicate submissions {tally.duplicates}, duplicates suppressed "
              f"{count['replayed']}, OutcomeUnknown answers {tally.outcome_unknown}, client timeouts "
              f"{tally.client_timeouts}, reconciliations {count['reconciling'] + reconciled} (found in the billing "
              f"{reconciled}), billing CLN_FIN_OPER_ADD requests {stats['calls'].get('CLN_FIN_OPER_ADD', 0)}, "
              f"commits {stats['commits']}, replies dropped {stats['dropped']}, faults fired {stats['faults']}, "
              f"resolved by the operator as never posted {len(resolved)}")
    assert stats["dropped"] > 0 and reconciled > 0 and count["replayed"] > 0  # the faults really were exercised


def gateway_config(tmp: Path, name: str, base: Any, billing: Emulator, journal: dict[str, Any],
                   workers: int) -> tuple[Path, int]:
    port = free_port()
    config = write_config(tmp / f"{name}.toml", base, listen=f"127.0.0.1:{port}", journal=journal,
                          server={"workers": workers, "threads": 8},
                          billing={"url": billing.url, "read_timeout": 1.0, "connect_timeout": 1.0,
                                   "breaker_reset_seconds": 1.0})
    return config, port


@pytest.mark.slow
def test_soak_two_instances_sharing_a_postgresql_journal(billing: Emulator, pki: Any, postgres: Any,
                                                         gateway_settings: Any, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    journal = {"url": postgres.database()}
    config_a, port_a = gateway_config(tmp_path, "a", gateway_settings, billing, journal, workers=2)
    config_b, port_b = gateway_config(tmp_path, "b", gateway_settings, billing, journal, workers=2)
    with serve_process(config_a, port_a, tmp_path / "a.log"), serve_process(config_b, port_b, tmp_path / "b.log"):
        soak(billing, pki, [f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"],
             JournalSettings(**journal), seed=1, capsys=capsys)


@pytest.mark.slow
def test_soak_one_instance_with_several_workers_on_sqlite(billing: Emulator, pki: Any, gateway_settings: Any,
                                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    journal = {"path": str(tmp_path / "journal.sqlite3")}
    config, port = gateway_config(tmp_path, "single", gateway_settings, billing, journal, workers=3)
    with serve_process(config, port, tmp_path / "single.log"):
        soak(billing, pki, [f"http://127.0.0.1:{port}"], JournalSettings(**journal), seed=2, capsys=capsys)
