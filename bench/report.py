"""The table of ratios against the issue's targets, and bench/RESULTS.md around it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .scenarios import LargeReply, SmallRead, Throughput

MIB = 1 << 20
SERVERS = ("gateway", "gateway REST", "spyne floor", "lxml floor")  # the small read's ways with a server of their own


@dataclass
class Target:
    measure: str
    value: float
    goal: str
    met: bool
    fmt: str = "{:.2f}×"

    def cells(self) -> list[str]:
        shown = "n/a" if math.isnan(self.value) else self.fmt.format(self.value)
        return [self.measure, shown, self.goal, "yes" if self.met else "**no**"]


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def targets(small: SmallRead, tput: Throughput, large: list[LargeReply], threads: dict[str, int]) -> list[Target]:
    lat = small.latency
    found: list[Target] = []
    if "lxml floor" in small.cpu:
        raw = _ratio(small.cpu["gateway"], small.cpu["lxml floor"])
        found.append(Target("gateway CPU per CLN_USR_GET ÷ raw lxml floor CPU", raw, "≤ 3×", raw <= 3))
    cpu = _ratio(small.cpu["gateway"], small.cpu["spyne floor"])
    found.append(Target("gateway CPU per CLN_USR_GET ÷ Spyne floor CPU", cpu, "≤ 0.35×", cpu <= 0.35))
    rest_cpu = _ratio(small.cpu["gateway REST"], small.cpu["gateway"])
    found.append(Target("REST CPU per CLN_USR_GET ÷ SOAP's", rest_cpu, "≤ 0.5×", rest_cpu <= 0.5))
    rest_direct = _ratio(lat["gateway REST"].p50, lat["direct call"].p50)
    found.append(Target("REST p50 latency ÷ direct pooled call (c=1)", rest_direct, "≤ 1.5×", rest_direct <= 1.5))
    gw_direct = _ratio(lat["gateway"].p50, lat["direct call"].p50)
    found.append(Target("gateway p50 latency ÷ direct pooled call (c=1)", gw_direct, "≤ 1.5×", gw_direct <= 1.5))
    naive = _ratio(lat["naive integration"].p50, lat["gateway"].p50)
    found.append(Target("naive integration p50 ÷ gateway p50 (c=1)", naive, "≥ 2×", naive >= 2))
    per_call = small.handshakes["gateway"]
    found.append(Target("billing TLS handshakes per gateway call (sequential)", per_call, "≈ 0 (not per call)",
                        per_call < 0.01, "{:.3f}"))
    for mode, count in tput.handshakes.items():
        found.append(Target(f"new billing connections under load, {mode} (≤ {threads[mode]} threads)",
                            count, f"≤ {threads[mode]}", count <= threads[mode], "{:.0f}"))
    if len(large) >= 3:
        small_, mid, big = large[-3:]
        growth = big.peak_growth / MIB
        found.append(Target(f"worker peak RSS growth, {big.rows:,} rows", growth, "≤ 100 MiB", growth <= 100,
                            "{:.0f} MiB"))
        rest_growth = big.rest_peak_growth / MIB
        found.append(Target(f"REST worker peak RSS growth, {big.rows:,} rows", rest_growth, "≤ 100 MiB",
                            rest_growth <= 100, "{:.0f} MiB"))
        linear = _ratio(big.seconds["gateway"] / big.rows, mid.seconds["gateway"] / mid.rows)
        found.append(Target(f"time per row {big.rows:,} ÷ {mid.rows:,}", linear, "≤ 1.3×", linear <= 1.3))
        floor = _ratio(big.seconds["gateway"], big.seconds["lxml floor"])
        found.append(Target(f"{big.rows:,} rows: gateway ÷ lxml floor", floor, "≤ 1.5×", floor <= 1.5))
    for (side, mode, concurrency), sample in sorted(tput.samples.items()):
        if side != "gateway":
            continue
        floor_key = ("spyne floor", mode, concurrency)
        ratio = _ratio(sample.rps, tput.samples[floor_key].rps)
        found.append(Target(f"throughput gateway ÷ floor, {mode}, c={concurrency}", ratio, "≥ 2.5×", ratio >= 2.5))
        capacity = _ratio(tput.cpu_per_call(floor_key), tput.cpu_per_call((side, mode, concurrency)))
        found.append(Target("  same, by server CPU per request (billing elsewhere)", capacity, "≥ 2.5×",
                            capacity >= 2.5))
    return found


def table(rows: list[list[str]], head: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def details(small: SmallRead, tput: Throughput, large: list[LargeReply], labels: dict[str, str]) -> str:
    parts = ["### Small read: CLN_USR_GET, one call at a time\n", table(
        [[name, ms(s.p50), ms(s.p99), ms(small.cpu[name]) if name in SERVERS else "-",
          ms(small.emulator_cpu[name]), f"{small.handshakes[name]:.3f}", str(s.count), str(s.errors)]
         for name, s in small.latency.items()],
        ["way", "p50 ms", "p99 ms", "server CPU ms/call", "emulator CPU ms/call", "handshakes/call", "calls",
         "errors"])]
    parts += ["\n### Throughput: CLN_USR_GET, closed loop\n", table(
        [[side, labels[mode], str(c), f"{s.rps:.0f}", ms(s.p50), ms(s.p99), str(s.errors),
          ms(tput.cpu_per_call((side, mode, c))), ms(tput.cpu_per_call((side, mode, c), emulator=True))]
         for (side, mode, c), s in sorted(tput.samples.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0]))],
        ["side", "gunicorn", "concurrency", "req/s", "p50 ms", "p99 ms", "errors", "server CPU ms/req",
         "emulator CPU ms/req"])]
    parts.append("\nThe emulator and the load generator run on the same two cores as the servers; the floor "
                 "needs no billing, so its req/s do not pay for one. Server CPU per request is what the "
                 "same cores would give each side if the billing ran elsewhere.")
    if large:
        parts += ["\n### Large replies: CLN_FIN_OPER of the bulk group\n", table(
            [[f"{e.rows:,}", f"{e.seconds['gateway']:.2f}", f"{e.seconds['gateway REST']:.2f}",
              f"{e.seconds['lxml floor']:.2f}", f"{e.seconds['emulator alone']:.2f}",
              f"{e.seconds['gateway'] / e.rows * 1e6:.1f}", f"{e.peak_growth / MIB:.1f}",
              f"{e.rest_peak_growth / MIB:.1f}", "yes" if e.ok else "**no**"] for e in large],
            ["rows", "gateway s (to last byte)", "REST s", "lxml floor s", "emulator alone s", "gateway µs/row",
             "worker peak RSS growth MiB", "REST peak RSS growth MiB", "complete"])]
        if len(large) >= 2:
            growth = [f"{b.rows // a.rows}× rows: time {b.seconds['gateway'] / a.seconds['gateway']:.1f}×, "
                      f"peak RSS growth {b.peak_growth / MIB:.1f} MiB after {a.peak_growth / MIB:.1f} MiB"
                      for a, b in zip(large, large[1:])]
            parts.append("\nGrowth: " + "; ".join(growth) + ".")
    return "\n".join(parts)


def slow_billing(samples: dict[str, Any], labels: dict[str, str], delay_ms: int, concurrency: int) -> str:
    rows = [[labels[mode], f"{s.rps:.0f}", ms(s.p50), ms(s.p99), str(s.errors)] for mode, s in samples.items()]
    return (f"\n### A slower billing: CLN_USR_GET with every billing call {delay_ms} ms longer, "
            f"{concurrency} clients\n\n" + table(rows, ["gunicorn", "req/s", "p50 ms", "p99 ms", "errors"])
            + "\n\nA sync worker waits out the billing's time; gthread threads serve other requests meanwhile.")


def render_targets(found: list[Target]) -> str:
    return table([t.cells() for t in found], ["measure (one run, interleaved)", "value", "target", "met"])


def results_md(machine: dict[str, Any], found: list[Target], detail: str, analysis: str) -> str:
    notes = "\n".join(f"- {key}: {value}" for key, value in machine.items())
    return f"""# Benchmark results

Written by `python -m bench` (see the README); every ratio below comes from one run in which the
sides were measured in turn, round after round, so drift on the shared machine hits all of them.
Absolute times are this machine's and this moment's; compare the ratios.

## Machine and run

{notes}

## Targets

{render_targets(found)}

## Measurements

{detail}

{analysis}
"""
