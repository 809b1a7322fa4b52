"""``python -m bench``: start the emulator, gateways and Spyne floors, measure interleaved, report ratios.

``python -m bench soak`` is the long money soak instead (bench/soak.py); its section of
bench/RESULTS.md is kept when this rewrites the file.

``--smoke`` runs every section with tiny counts and data (seconds; for CI, so the suite cannot rot)
and writes its report into the work directory instead of bench/RESULTS.md.  The exit status is 1
when a call failed or a large reply came back incomplete, never because of a speed.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from . import batch, procs, report, scenarios, soak, stack
from .calls import DirectClient

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Plan:
    users: int
    ops: int
    rounds: int
    calls: int
    seconds: float
    levels: tuple[int, ...]
    large_reps: tuple[int, int, int]


SLOW_BILLING_MS = 5  # a billing across a network answers in milliseconds, the emulator in a fraction of one
FULL = Plan(users=10_000, ops=10, rounds=4, calls=150, seconds=3.0, levels=(1, 8, 32), large_reps=(5, 3, 2))
SMOKE = Plan(users=100, ops=10, rounds=1, calls=8, seconds=0.3, levels=(1, 4), large_reps=(1, 1, 1))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["soak"]:
        return soak.main(argv[1:])  # the money soak, not a speed measurement
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts and data: checks the suite runs")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2, one per core)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (default 4)")
    parser.add_argument("--out", type=Path, help="report file (default bench/RESULTS.md; smoke: the work dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, configs)")
    args = parser.parse_args(argv)
    plan = SMOKE if args.smoke else FULL
    workdir = Path(tempfile.mkdtemp(prefix="soap-gateway-bench-"))
    out = args.out or (workdir / "RESULTS.md" if args.smoke else HERE / "RESULTS.md")
    threads = {"gthread": args.threads, "sync": 1}
    labels = {mode: f"{mode} {args.workers}×{n}" for mode, n in threads.items()}

    started, load_before, cpu_before = time.time(), procs.load_average(), procs.cpu_snapshot()
    pki = stack.make_pki(workdir)
    servers: list[stack.Server] = []
    try:
        emulator = stack.start_emulator(workdir, pki, plan.users, plan.ops)
        servers.append(emulator)
        api_url = emulator.url + "/api.php"
        reply = workdir / "CLN_USR_GET.xml"
        reply.write_bytes(DirectClient(api_url, (pki["pem"], pki["pem_key"]), pki["ca"]).raw("CLN_USR_GET", 101))
        gateways = {mode: stack.launch_gateway(workdir, f"gateway-{mode}", emulator.url, pki, args.workers, n)
                    for mode, n in threads.items()}
        floors = {mode: stack.launch_floor(workdir, f"floor-{mode}", reply, args.workers, n)
                  for mode, n in threads.items()}
        servers += [*gateways.values(), *floors.values()]
        for server in servers[1:]:
            stack.wait_ready(server)
        own_reply = workdir / "CLN_USR_GET.gateway.xml"
        own_reply.write_bytes(_post(gateways["gthread"].url + "/soap", scenarios.USR_GET))
        lxml_floor = stack.launch_lxml_floor(workdir, "lxml-floor", own_reply, args.workers, threads["gthread"])
        servers.append(lxml_floor)
        stack.wait_ready(lxml_floor)
        run = scenarios.Stack(emulator, gateways, floors, api_url, (pki["pem"], pki["pem_key"]), pki["ca"],
                              lxml_floor)
        _say("small read")
        small = scenarios.small_read(run, plan.rounds, plan.calls)
        memory = {name: max(procs.rss_bytes(pid) for pid in server.workers()) / (1 << 20)
                  for name, server in (("gateway", gateways["gthread"]), ("Spyne floor", floors["gthread"]))}
        _say("throughput")
        tput = scenarios.throughput(run, max(1, plan.rounds // 2), plan.seconds, plan.levels)
        _say("slow billing")
        slow_clients = plan.levels[1] if len(plan.levels) > 1 else 8
        slow = scenarios.slow_billing(run, max(1, plan.rounds // 2), plan.seconds, slow_clients, SLOW_BILLING_MS)
        _say("large replies")
        sizes = [plan.users // 10, plan.users, plan.users * plan.ops]
        large = scenarios.large_replies(run, [(rows, scenarios.fin_oper_args(plan.users, rows, plan.ops), reps)
                                              for rows, reps in zip(sizes, plan.large_reps)])
        ours = {os.getpid(), *(pid for s in servers for pid in (s.pid, *s.workers()))}
    finally:
        for server in reversed(servers):
            server.stop()

    other, top = procs.other_cpu(cpu_before, procs.cpu_snapshot(), ours)
    found = report.targets(small, tput, large, {m: args.workers * n for m, n in threads.items()})
    detail = report.details(small, tput, large, labels)
    detail += "\n" + report.slow_billing(slow, labels, SLOW_BILLING_MS, slow_clients)
    print("\n" + report.render_targets(found) + "\n\n" + detail + "\n")
    machine = _machine(plan, args, labels, started, load_before, other, top)
    machine["worker memory"] = ", ".join(f"{name} {mib:.0f} MiB" for name, mib in memory.items()) + \
        " resident, the larger worker of each after the small reads"
    notes = HERE / "ANALYSIS.md"
    analysis = notes.read_text(encoding="utf-8") if notes.exists() and not args.smoke else ""
    text = report.results_md(machine, found, detail, analysis)
    # python -m bench.hostile, python -m bench soak, python -m bench.batch and python -m bench.profile write their own
    from . import hostile, profile
    for section in (profile.REPORT, hostile.REPORT, soak.REPORT, batch.REPORT):
        text = section.carry(out, text)
    out.write_text(text, encoding="utf-8")
    print(f"written: {out}")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    # Speed never fails the run; a call that failed or a reply that came back incomplete does.
    broken = [name for name, s in small.latency.items() if s.errors]
    broken += [f"{side} {mode} c={c}" for (side, mode, c), s in tput.samples.items() if s.errors]
    broken += [f"{e.rows} rows" for e in large if not e.ok]
    broken += [f"slow billing {mode}" for mode, s in slow.items() if s.errors]
    if broken:
        print("calls failed: " + ", ".join(broken), file=sys.stderr)
        return 1
    return 0


def _machine(plan: Plan, args: argparse.Namespace, labels: dict[str, str], started: float,
             load_before: tuple[float, ...], other: float, top: list[tuple[str, float]]) -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    elapsed = time.time() - started
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("spyne", "lxml", "gunicorn", "requests"))
    commit = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=stack.ROOT, capture_output=True,
                            text=True).stdout.strip()
    return {
        "when": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)) + f", {elapsed:.0f} s, commit {commit}",
        "machine": f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, Python {platform.python_version()}",
        "libraries": versions,
        "servers": f"gunicorn {labels['gthread']} and {labels['sync']} (workers × threads), each for the gateway "
                   "and for the Spyne floor; the emulator, the servers and the load generator share the cores",
        "data": f"{plan.users:,} bulk subscribers × {plan.ops} operations; RSA-2048 certificates",
        "load average": f"{' / '.join(map(str, load_before))} before, {' / '.join(map(str, procs.load_average()))} "
                        "after (1 / 5 / 15 min)",
        "other processes": f"{other:.0f} CPU-seconds during the run ({other / elapsed * 100:.0f}% of one core); "
                           "largest: " + ("; ".join(f"`{cmd}` {sec:.0f} s" for cmd, sec in top) or "none"),
    }


def _post(url: str, body: bytes) -> bytes:
    request = urllib.request.Request(url, body, {"Content-Type": "text/xml; charset=utf-8"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return bytes(response.read())


def _say(text: str) -> None:
    print(f"… {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
