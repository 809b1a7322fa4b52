"""``python -m bench.hostile``: a worker's memory under hostile request documents, 8 at a time.

One gateway worker (gthread, 8 threads, as ``soap-gateway serve`` runs it) in front of the emulator.
For each document of the corpus, ``--rounds`` batches of 8 identical requests are sent in parallel;
before each batch the worker's peak (VmHWM) is reset to its current size, after it the peak is read.
Reported per document: the largest peak growth of a batch over the worker's resident size before it,
that growth per request (a batch / 8), the answer, and the slowest request.  At the end: the
worker's resident size when idle before the corpus, after it, and after a quiet pause, which says
whether memory goes back or stays with the worker (deploy/TUNING.md); then requests whose element
names no other request used, and what the worker keeps of them.  Writes its section into
bench/RESULTS.md (between the ``hostile-memory`` markers) unless ``--out`` names another file.
This is a measurement, never a test: nothing here fails on a number.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import procs, stack
from .sections import Section

HERE = Path(__file__).resolve().parent
PARALLEL = 8
PASSES = 2
NAME_REQUESTS = 200
MIB = 1 << 20
REPORT = Section("hostile-memory")
BEGIN, END = REPORT.begin, REPORT.end
ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "urn:soap-gateway:billing"


def envelope(inner: str, header: str = "", namespace: str = ENV) -> str:
    return f'<s:Envelope xmlns:s="{namespace}" xmlns:b="{TNS}">{header}<s:Body>{inner}</s:Body></s:Envelope>'


def corpus() -> list[tuple[str, bytes, str]]:
    """(name, body, content type): every document at most 1 MiB, the default server.max_body_bytes."""
    xml = "text/xml; charset=utf-8"
    laughs = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "lol">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
        + "]>" + envelope("<b:CLN_USR_GET><b:SELECT_ID>&j;</b:SELECT_ID></b:CLN_USR_GET>"))
    attributes = " ".join(f'a{i}="x"' for i in range(60_000))
    namespaces = " ".join(f'xmlns:n{i}="u"' for i in range(45_000))
    many_allowed = "".join(f'<b:P_ID q="{i}">5</b:P_ID>' for i in range(240))  # within every limit, all wrong
    return [
        ("billion laughs", laughs.encode(), xml),
        ("external entity", ('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                             + envelope("<b:CLN_USR_GET><b:SELECT_ID>&e;</b:SELECT_ID></b:CLN_USR_GET>")).encode(),
         xml),
        ("UTF-7 DOCTYPE", b"+ADw-!DOCTYPE d +AFs-+ADw-!ENTITY a +ACI-b+ACI-+AD4-+AF0-+AD4-"
         + envelope("<b:CLN_USR_GET/>").encode(), "text/xml; charset=utf-7"),
        ("UTF-16 without BOM, 250 deep", envelope("<b:CLN_USR_GET>" + "<a>" * 250 + "</a>" * 250
                                                  + "</b:CLN_USR_GET>").encode("utf-16-le"), "text/xml"),
        ("100,000 deep", envelope("<b:CLN_USR_GET>" + "<a>" * 70_000 + "</a>" * 70_000
                                  + "</b:CLN_USR_GET>").encode(), xml),
        ("150,000 wide", envelope("<b:CLN_USR_GET>" + "<x/>" * 150_000 + "</b:CLN_USR_GET>").encode(), xml),
        ("150,000 wide as multipart", envelope("<b:CLN_USR_GET>" + "<x/>" * 150_000 + "</b:CLN_USR_GET>").encode(),
         "multipart/related; boundary=b"),
        ("60,000 attributes", envelope(f"<b:CLN_USR_GET {attributes}/>").encode(), xml),
        ("45,000 namespace declarations", envelope(f"<b:CLN_USR_GET {namespaces}/>").encode(), xml),
        ("1 MiB text in one element", envelope("<b:CLN_USR_FIND_2><b:NAME_IN>" + "x" * 1_000_000
                                               + "</b:NAME_IN></b:CLN_USR_FIND_2>").encode(), xml),
        ("two payments", envelope("".join(
            "<b:CLN_FIN_OPER_ADD><b:USER_ID>101</b:USER_ID><b:OP_DATE>2024-05-06T07:08:09</b:OP_DATE>"
            f"<b:SUMMA>1.00</b:SUMMA><b:DESCR>two-{n}</b:DESCR></b:CLN_FIN_OPER_ADD>" for n in "ab")).encode(), xml),
        ("SOAP 1.2", envelope("<b:CLN_HOME_LIST><b:P_ID>5</b:P_ID></b:CLN_HOME_LIST>",
                              namespace="http://www.w3.org/2003/05/soap-envelope").encode(),
         "application/soap+xml"),
        ("within the limits, 240 schema errors", envelope(f"<b:CLN_HOME_LIST>{many_allowed}</b:CLN_HOME_LIST>")
         .encode(), xml),
        ("900 KB of layout around a valid call", envelope("<b:CLN_HOME_LIST>" + " " * 900_000
                                                           + "<b:P_ID>5</b:P_ID></b:CLN_HOME_LIST>").encode(), xml),
        ("valid call (reference)", envelope("<b:CLN_HOME_LIST><b:P_ID>5</b:P_ID></b:CLN_HOME_LIST>").encode(), xml),
    ]


def post(url: str, body: bytes, content_type: str) -> tuple[int, str, float]:
    """HTTP status, the faultcode (or "ok"), seconds."""
    started = time.monotonic()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status, answer = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, answer = error.code, error.read()
    found = re.search(rb"<faultcode>[^:<]*:?([^<]*)</faultcode>", answer)
    return status, found[1].decode() if found else "ok", time.monotonic() - started


def measure(url: str, worker: int, body: bytes, content_type: str, rounds: int) -> dict[str, object]:
    worst, slowest, answers = 0, 0.0, set()
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        for _ in range(rounds):
            before = procs.rss_bytes(worker)
            procs.reset_peak(worker)
            results = list(pool.map(lambda _: post(url, body, content_type), range(PARALLEL)))
            worst = max(worst, procs.peak_rss_bytes(worker) - before)
            slowest = max([slowest, *(seconds for _, _, seconds in results)])
            answers |= {f"{status} {code}" for status, code, _ in results}
    return {"growth": worst, "slowest": slowest, "answers": ", ".join(sorted(answers))}


def distinct_names(url: str, worker: int, count: int) -> tuple[int, int]:
    """``count`` requests, 8 at a time, each with 900 element names no request used before (within every
    limit): what the worker keeps of them.  Returns (body size, resident growth)."""
    def body(n: int) -> bytes:
        names = "".join(f"<b:N{n}_{i}_{'x' * 200}/>" for i in range(900))
        return envelope(f"<b:CLN_HOME_LIST>{names}</b:CLN_HOME_LIST>").encode()
    before = procs.rss_bytes(worker)
    with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(lambda n: post(url, body(n), "text/xml; charset=utf-8"), range(count)))
    return len(body(0)), procs.rss_bytes(worker) - before


def render(rows: list[tuple[str, int, dict[str, object]]], idle: int, after: list[int], settled: int, rounds: int,
           passes: int, when: str, names: tuple[int, int, int]) -> str:
    lines = [BEGIN, "## Hostile request documents: a worker's memory",
             "",
             f"`python -m bench.hostile` ({when}): one gthread worker with {PARALLEL} threads; the corpus "
             f"sent {passes} times, each document {rounds} times as {PARALLEL} parallel requests per pass. *Peak "
             f"growth* is the worker's VmHWM during a batch over its resident size before it (the worst batch of "
             f"both passes); *per request* is that / {PARALLEL}.",
             "",
             "| document | size | peak growth, 8 parallel | per request | answer | slowest |",
             "|---|---:|---:|---:|---|---:|"]
    for name, size, result in rows:
        growth = int(result["growth"])  # type: ignore[call-overload]
        lines.append(f"| {name} | {size / 1024:,.0f} KiB | {growth / MIB:.1f} MiB | "
                     f"{growth / PARALLEL / MIB:.2f} MiB | {result['answers']} | {result['slowest']:.2f} s |")
    worst_name, _, worst = max(rows, key=lambda row: int(row[2]["growth"]))  # type: ignore[call-overload]
    lines += ["",
              f"Worst case: **{int(worst['growth']) / PARALLEL / MIB:.2f} MiB per request** ({worst_name}; "  # type: ignore[call-overload]
              f"{int(worst['growth']) / MIB:.1f} MiB for the batch of {PARALLEL}).",
              "",
              f"Worker resident size: {idle / MIB:.1f} MiB idle before the corpus (after warm-up calls), "
              + ", ".join(f"{size / MIB:.1f} MiB after pass {n}" for n, size in enumerate(after, 1))
              + f", {settled / MIB:.1f} MiB after a quiet pause of 10 s ({(settled - idle) / MIB:+.1f} MiB).",
              "",
              f"Distinct names: {names[0]} requests of {names[1] / 1024:,.0f} KiB, each with 900 element names "
              f"no other request used (within every limit; refused by the schema), left the worker "
              f"{names[2] / MIB:+.1f} MiB larger: {names[2] / names[0] / 1024:,.0f} KiB per request, kept for the "
              "worker's lifetime (lxml's per-thread name dictionary). `server.max_worker_memory_mib` bounds this.",
              END]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="batches of 8 per document (default 3)")
    parser.add_argument("--passes", type=int, default=PASSES, help=f"times through the corpus (default {PASSES})")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md", help="report file (default bench/RESULTS.md)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="soap-gateway-hostile-"))
    started = time.strftime("%Y-%m-%d %H:%M")
    servers: list[stack.Server] = []
    try:
        pki = stack.make_pki(workdir)
        emulator = stack.start_emulator(workdir, pki, 200, 5)
        servers.append(emulator)
        gateway = stack.wait_ready(stack.launch_gateway(workdir, "gateway", emulator.url, pki, 1, PARALLEL))
        servers.append(gateway)
        (worker,) = gateway.workers()
        url = gateway.url + "/soap"
        reference = corpus()[-1]
        measure(url, worker, reference[1], reference[2], 2)  # warm: every thread has served a call
        idle = procs.rss_bytes(worker)
        rows: list[tuple[str, int, dict[str, object]]] = []
        after = []
        for _ in range(args.passes):  # a second pass shows whether what stays after the first is reused or added to
            for name, body, content_type in corpus():
                result = measure(url, worker, body, content_type, args.rounds)
                rows.append((name, len(body), result))
                print(f"{name}: +{int(result['growth']) / MIB:.1f} MiB for {PARALLEL}, {result['answers']}",  # type: ignore[call-overload]
                      flush=True)
            after.append(procs.rss_bytes(worker))
        time.sleep(10 if args.passes > 1 else 0)
        settled = procs.rss_bytes(worker)
        count = NAME_REQUESTS if args.passes > 1 else PARALLEL
        names = (count, *distinct_names(url, worker, count))
        rows = [max((r for r in rows if r[0] == name), key=lambda r: int(r[2]["growth"]))  # type: ignore[call-overload]
                for name in dict.fromkeys(r[0] for r in rows)]
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    section = render(rows, idle, after, settled, args.rounds, args.passes, started, names)
    print(section)
    REPORT.write(args.out, section)
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
