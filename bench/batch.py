"""``python -m bench.batch``: a bank statement in one call against the same payments one call each.

One run, one gateway under gunicorn (one worker, so its memory is the batch's), the emulator behind:
N sequential single CLN_FIN_OPER_ADD calls and one N-line GatewayPostPayments, alternated for
``rounds``, each payment new (its own key); then the worker's peak resident memory growth while it
answers a 10,000-line batch.  Reports ratios and writes its section into bench/RESULTS.md (``--smoke``:
tiny counts, the work directory).  Exit status 1 when a payment was not posted, never for a speed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from . import procs, stack
from .sections import Section
from .calls import SoapClient, envelope

HERE = Path(__file__).resolve().parent
HEADING = "## Accounting: a bank statement in one call"
REPORT = Section("accounting-batch")  # its section in the report
OP_DATE = "2026-03-02T10:00:00"


@dataclass(frozen=True)
class Plan:
    users: int
    lines: int
    rounds: int
    large: int


FULL = Plan(users=1000, lines=1000, rounds=1, large=10_000)
SMOKE = Plan(users=20, lines=20, rounds=1, large=200)


def batch_body(users: int, count: int, tag: str) -> bytes:
    lines = "".join(
        f"<b:Line><b:IDEMPOTENCY_KEY>{tag}-{i}</b:IDEMPOTENCY_KEY><b:USER_ID>{1001 + i % users}</b:USER_ID>"
        f"<b:OP_DATE>{OP_DATE}</b:OP_DATE><b:SUMMA>{100 + i % 900}.{i % 100:02d}</b:SUMMA>"
        f"<b:DESCR>Выписка, строка {i + 1}</b:DESCR><b:NUMBER>B{i % 100000}</b:NUMBER></b:Line>"
        for i in range(count))
    return envelope("GatewayPostPayments", LINES=lines)


def single_body(users: int, i: int, tag: str) -> bytes:
    return envelope("CLN_FIN_OPER_ADD", USER_ID=1001 + i % users, OP_DATE=OP_DATE,
                    SUMMA=f"{100 + i % 900}.{i % 100:02d}", DESCR=f"Платёж {i + 1}", NUMBER=f"S{i % 100000}",
                    IDEMPOTENCY_KEY=f"{tag}-{i}")


def _posted(client: SoapClient, body: bytes, expected: int) -> tuple[float, bool]:
    """Seconds for one batch call, and whether every line came back posted."""
    started = time.perf_counter()
    reply = _post_whole(client, body)
    seconds = time.perf_counter() - started
    return seconds, reply.count(b"<tns:STATUS>posted</tns:STATUS>") == expected


def _post_whole(client: SoapClient, body: bytes) -> bytes:
    """The whole reply (the benchmark's client keeps only a tail; here the statuses are counted)."""
    import http.client

    conn = http.client.HTTPConnection(client.host, client.port, timeout=client.timeout)
    try:
        conn.request("POST", "/soap", body, {"Content-Type": "text/xml; charset=utf-8"})
        return conn.getresponse().read()
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.batch", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts: checks the benchmark runs")
    parser.add_argument("--out", type=Path, help="report file (default bench/RESULTS.md; smoke: the work dir)")
    args = parser.parse_args(argv)
    plan = SMOKE if args.smoke else FULL
    workdir = Path(tempfile.mkdtemp(prefix="soap-gateway-bench-batch-"))
    out = args.out or (workdir / "RESULTS.md" if args.smoke else HERE / "RESULTS.md")

    started, load_before = time.time(), procs.load_average()
    servers: list[stack.Server] = []
    broken: list[str] = []
    try:
        pki = stack.make_pki(workdir)  # the same RSA-2048 certificates as the other benchmarks
        emulator = stack.start_emulator(workdir, pki, plan.users, 1)
        servers.append(emulator)
        gateway = _gateway(workdir, emulator.url, pki, plan)
        servers.append(gateway)
        stack.wait_ready(gateway)
        client = SoapClient(gateway.url)
        tag = uuid.uuid4().hex[:8]
        for i in range(3):  # warm-up: the worker's first calls log in and build its caches
            client.post(single_body(plan.users, i, f"{tag}-warm"))
        _posted(client, batch_body(plan.users, 3, f"{tag}-warmb"), 3)
        singles, batches = [], []
        for r in range(plan.rounds):
            began = time.perf_counter()
            for i in range(plan.lines):
                reply = client.post(single_body(plan.users, i, f"{tag}-s{r}"))
                if reply.status != 200:
                    broken.append(f"single call {i} answered {reply.status}")
            singles.append(time.perf_counter() - began)
            seconds, ok = _posted(client, batch_body(plan.users, plan.lines, f"{tag}-b{r}"), plan.lines)
            batches.append(seconds)
            if not ok:
                broken.append(f"a {plan.lines}-line batch did not post every line")
        (worker,) = gateway.workers()
        before = procs.rss_bytes(worker)
        procs.reset_peak(worker)
        seconds_large, ok = _posted(client, batch_body(plan.users, plan.large, f"{tag}-large"), plan.large)
        growth = (procs.peak_rss_bytes(worker) - before) / (1 << 20)
        if not ok:
            broken.append(f"the {plan.large}-line batch did not post every line")
    finally:
        for server in reversed(servers):
            server.stop()

    single, batched = statistics.median(singles), statistics.median(batches)
    section = _section(plan, single, batched, singles, batches, seconds_large, growth, started, load_before)
    print(section)
    REPORT.write(out, REPORT.mark(section))
    print(f"written: {out}")
    shutil.rmtree(workdir, ignore_errors=True)
    if broken:
        print("failed: " + "; ".join(broken), file=sys.stderr)
        return 1
    return 0


def _gateway(workdir: Path, billing: str, pki: dict[str, str], plan: Plan) -> stack.Server:
    """The gateway with the default accounting concurrency; the batch limit, deadline and body size raised for
    the large batch."""
    port = stack.free_port()
    config = stack.gateway_config(workdir, "gateway-batch", port, billing, pki, 1, 4)
    text = config.read_text(encoding="utf-8").replace(
        "[server]\n", f"[server]\nmax_body_bytes = {plan.large * 400 + (1 << 20)}\n")
    # the large batch runs to its end (the default 60 s deadline would answer its tail not_attempted)
    config.write_text(text + f"[accounting]\nmax_lines = {plan.large}\ndeadline_seconds = 900\n", encoding="utf-8")
    argv = [sys.executable, "-m", "soap_gateway", "serve", "--config", str(config)]
    process, log, handle = stack._spawn("gateway-batch", argv, workdir)
    return stack.Server("gateway-batch", process, f"http://127.0.0.1:{port}", log, "gthread 1×4", "/healthz", 1,
                        handle)


def _section(plan: Plan, single: float, batched: float, singles: list[float], batches: list[float],
             large_seconds: float, growth: float, started: float, load_before: tuple[float, ...]) -> str:
    ratio = batched / single if single else float("nan")
    rows = [
        ("batch of N ÷ N sequential single calls, wall time", f"{ratio:.2f}×", "≤ 0.5×",
         "yes" if ratio <= 0.5 else "no"),
        (f"worker peak RSS growth, one {plan.large:,}-line batch", f"{growth:.1f} MiB", "≤ 50 MiB",
         "yes" if growth <= 50 else "no"),
    ]
    table = "\n".join(["| measure | result | target | met |", "|---|---|---|---|",
                       *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)])
    return f"""{HEADING}

`python -m bench.batch`, {time.strftime("%Y-%m-%d %H:%M", time.localtime(started))}: N = {plan.lines:,}
payments, each new (its own idempotency key), to {plan.users:,} bulk subscribers of the emulator, through one
gateway (gunicorn, 1 worker × 4 threads, the default `[accounting]` concurrency of 4, SQLite journal);
{plan.rounds} round(s) of N sequential single `CLN_FIN_OPER_ADD` calls on one keep-alive connection, then
one N-line `GatewayPostPayments`; medians. Load average before: {' / '.join(map(str, load_before))}.

{table}

- N single calls: {', '.join(f'{s:.1f} s' for s in singles)} ({single / plan.lines * 1000:.1f} ms a payment);
  N-line batch: {', '.join(f'{s:.1f} s' for s in batches)} ({batched / plan.lines * 1000:.1f} ms a line).
- The {plan.large:,}-line batch took {large_seconds:.1f} s; the growth is the worker's VmHWM after it
  minus its resident size before (Spyne parses the whole request; the reply streams line by line).
"""


if __name__ == "__main__":
    sys.exit(main())
