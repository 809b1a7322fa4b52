"""``python -m bench.profile``: py-spy samples of the gateway's workers under one benchmark load.

    python -m bench.profile small --mode sync --concurrency 8 --seconds 10
    python -m bench.profile large --rows 100000

Writes py-spy's collapsed stacks to the work directory and prints the functions with the most
samples, by own time and including callees (py-spy from PyPI: ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import load, scenarios, stack
from .calls import SoapClient, envelope


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("load", choices=("small", "large"))
    parser.add_argument("--mode", choices=("gthread", "sync"), default="gthread")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy")
    if spy is None:
        parser.error("py-spy is not installed (pip install py-spy)")
    workdir = Path(tempfile.mkdtemp(prefix="soap-gateway-profile-"))
    pki = stack.make_pki(workdir)
    users = max(args.rows // 10, 100) if args.load == "large" else 100
    emulator = stack.start_emulator(workdir, pki, users, 10)
    threads = args.threads if args.mode == "gthread" else 1
    gateway = stack.wait_ready(stack.launch_gateway(workdir, "gateway", emulator.url, pki, args.workers, threads))
    output = workdir / "profile.txt"
    try:
        if args.load == "small":
            make = scenarios.soap_call(gateway.url)
            load.run(make, args.concurrency, seconds=1)  # warm
            recorder = _record(spy, gateway.pid, output, args.seconds + 5)
            sample = load.run(make, args.concurrency, seconds=args.seconds)
            print(f"{sample.count} calls, {sample.rps:.0f}/s, p50 {sample.p50 * 1000:.2f} ms, errors {sample.errors}")
        else:
            body = envelope("CLN_FIN_OPER", **scenarios.fin_oper_args(users, args.rows, 10))
            recorder = _record(spy, gateway.pid, output, 600)
            began = time.perf_counter()
            reply = SoapClient(gateway.url).post(body)
            print(f"{args.rows} rows: HTTP {reply.status}, {reply.size} bytes in {time.perf_counter() - began:.2f} s")
        recorder.send_signal(2)  # py-spy writes what it has on SIGINT
        recorder.wait(60)
    finally:
        gateway.stop()
        emulator.stop()
    print(summary(output, args.top))
    print(f"collapsed stacks: {output}")
    return 0


def _record(spy: str, pid: int, output: Path, seconds: float) -> subprocess.Popen[bytes]:
    recorder = subprocess.Popen([spy, "record", "--subprocesses", "--format", "raw", "--rate", "250", "--duration",
                                 str(int(seconds)), "--output", str(output), "--pid", str(pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)  # py-spy attaches to every worker before the load starts
    return recorder


def summary(collapsed: Path, top: int, focus: str = "handle_request") -> str:
    """Per function under ``focus`` (gunicorn's request handling): share of its samples spent in the
    function itself (own) and in it with its callees (total)."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    count = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack_text, _, number = line.rpartition(" ")
        frames = [_name(f) for f in stack_text.split(";")]
        inside = [i for i, f in enumerate(frames) if f.split(" (")[0].split(".")[-1] == focus]
        if not inside:
            continue
        frames = frames[inside[0]:]
        samples = int(number)
        count += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            total[frame] += samples
    if not count:
        return f"no samples under {focus}"
    rows = [f"{'own %':>6} {'total %':>7}  function (file) — {count} samples under {focus}"]
    for frame, samples in total.most_common(top):
        rows.append(f"{own[frame] / count * 100:6.1f} {samples / count * 100:7.1f}  {frame}")
    rows.append("\nmost own time:")
    for frame, samples in own.most_common(top // 2):
        rows.append(f"{samples / count * 100:6.1f}          {frame}")
    return "\n".join(rows)


def _name(frame: str) -> str:
    """'func (path/to/file.py:12)' -> 'func (file.py)': one entry per function, not per line."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit('/', 1)[-1].split(':')[0].rstrip(')')})"


if __name__ == "__main__":
    sys.exit(main())
