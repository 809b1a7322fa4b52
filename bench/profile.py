"""``python -m bench.profile``: py-spy samples of the gateway's workers under one benchmark load.

    python -m bench.profile small --mode sync --concurrency 8 --seconds 10
    python -m bench.profile large --rows 100000
    python -m bench.profile small --section      # also write "what is left" into bench/RESULTS.md

Writes py-spy's collapsed stacks (samples of threads holding the GIL: CPU, not waiting) to the
work directory and prints where the samples fell: by
layer of the request's way (each sample counted where its innermost Python frame is, so time in
lxml's or OpenSSL's C code counts for the Python function that called it), then the functions
with the most samples, by own time and including callees (py-spy from PyPI:
``pip install -e '.[bench]'``).  ``--section`` puts the layer table and the heaviest functions
in bench/RESULTS.md's "profile" section, which ``python -m bench`` carries over.
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
from .sections import Section

REPORT = Section("profile")
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
# Where a sample's innermost frame is, in the order a request goes: (layer, how py-spy's path for it
# begins: the package's own path, or a library's path below site-packages or the standard library).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("HTTP server (gunicorn)", ("gunicorn/",)),
    ("web layer: guards, request checks, request log", ("soap_gateway/web/", "soap_gateway/soap/app.py",
                                                        "soap_gateway/soap/decoding.py",
                                                        "soap_gateway/soap/xmlguard.py",
                                                        "soap_gateway/security/")),
    ("SOAP request: parse, schema, arguments", ("soap_gateway/soap/fastpath.py", "spyne/")),
    ("core, operation, journal", ("soap_gateway/core.py", "soap_gateway/operations.py", "soap_gateway/journal/",
                                  "soap_gateway/execute.py")),
    ("billing client: session, retries, breaker", ("soap_gateway/backend/client.py",
                                                   "soap_gateway/backend/stream.py",
                                                   "soap_gateway/backend/breaker.py",
                                                   "soap_gateway/backend/session.py",
                                                   "soap_gateway/backend/transport.py")),
    ("HTTPS to the billing: requests, urllib3, http.client, ssl", ("requests/", "urllib3/", "http/", "email/",
                                                                    "ssl.py", "socket.py", "selectors.py")),
    ("reply decoding: lxml, catalogue types", ("soap_gateway/backend/codec.py", "soap_gateway/backend/dirty.py",
                                               "soap_gateway/catalogue/")),
    ("reply writing", ("soap_gateway/soap/writer.py",)),
    ("logging", ("logging/", "pythonjsonlogger/", "soap_gateway/ops/logs.py")),
    ("metrics", ("prometheus_client/", "soap_gateway/ops/metrics.py")),
    ("threads: handing work over, waiting for a lock", ("threading.py", "concurrent/", "queue.py")),
)


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
    parser.add_argument("--section", action="store_true", help="write the profile into bench/RESULTS.md")
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
    table = layer_table(output)
    print(table + "\n\n" + summary(output, args.top))
    print(f"collapsed stacks: {output}")
    if args.section:
        load_text = (f"{args.load} load, gunicorn {args.mode} {args.workers}×{threads}, "
                     + (f"concurrency {args.concurrency}, {args.seconds:.0f} s" if args.load == "small"
                        else f"{args.rows:,} rows"))
        REPORT.write(RESULTS, REPORT.mark(section_text(output, load_text)))
        print(f"written: {RESULTS} (section {REPORT.name})")
    return 0


def _record(spy: str, pid: int, output: Path, seconds: float) -> subprocess.Popen[bytes]:
    # --gil: only samples of a thread holding the GIL, so a worker waiting for the billing or the
    # network is not counted; what is left is close to the CPU it spends
    recorder = subprocess.Popen([spy, "record", "--subprocesses", "--gil", "--format", "raw", "--rate", "250", "--duration",
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


def layers(collapsed: Path, focus: str = "handle_request") -> tuple[collections.Counter[str], int]:
    """Samples under ``focus`` per layer of LAYERS (by the innermost frame's file), and their count."""
    found: collections.Counter[str] = collections.Counter()
    count = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack_text, _, number = line.rpartition(" ")
        frames = stack_text.split(";")
        if not any(f.split(" (")[0].split(".")[-1] == focus for f in frames):
            continue
        samples = int(number)
        count += samples
        where = frames[-1].partition(" (")[2]
        found[next((name for name, parts in LAYERS if where.startswith(parts)), "other")] += samples
    return found, count


def layer_table(collapsed: Path) -> str:
    found, count = layers(collapsed)
    if not count:
        return "no samples"
    rows = ["| layer (innermost Python frame) | share of samples |", "|---|---|"]
    for name in [n for n, _ in LAYERS] + ["other"]:
        rows.append(f"| {name} | {found[name] / count * 100:.1f}% |")
    return "\n".join(rows)


def section_text(collapsed: Path, load_text: str) -> str:
    own = [f"{line.split()[0]:>5}%  {line.split(None, 1)[1]}"
           for line in summary(collapsed, 24).split("most own time:")[-1].strip().splitlines()]
    return "\n".join([
        "## Profile: where a gateway worker's time goes",
        "",
        f"Written by `python -m bench.profile ... --section` ({load_text}): py-spy samples of the gateway's "
        "worker threads holding the GIL (so CPU, not waiting for the billing) while they answer requests, attributed to the innermost Python frame (C code in lxml "
        "or OpenSSL counts for the Python function that called it).",
        "",
        layer_table(collapsed),
        "",
        "Functions with the most own samples (share of all samples):",
        "",
        "```",
        *own,
        "```",
    ])


def _name(frame: str) -> str:
    """'func (path/to/file.py:12)' -> 'func (file.py)': one entry per function, not per line."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit('/', 1)[-1].split(':')[0].rstrip(')')})"


if __name__ == "__main__":
    sys.exit(main())
