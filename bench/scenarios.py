"""The measurements, each interleaved over rounds so that drift on a shared machine hits every side alike."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import urlencode

from . import load, procs
from .calls import DirectClient, SoapClient, envelope, naive_call, mtls_session
from .stack import Server

USR_GET = envelope("CLN_USR_GET", SELECT_ID=101)
REST_USR_GET = "/api/v1/CLN_USR_GET?SELECT_ID=101"
BULK_GROUP = 5


@dataclass
class Stack:
    """The running processes and the clients' credentials."""

    emulator: Server
    gateways: dict[str, Server]  # "gthread" / "sync"
    floors: dict[str, Server]
    api_url: str
    pem: tuple[str, str]
    ca: str
    lxml_floor: Server | None = None  # gthread, answering the gateway's own CLN_USR_GET reply
    _control: Any = None

    def control(self, method: str, name: str, payload: Any = None) -> Any:
        """The emulator's control endpoint (stats, faults), on one kept-alive connection."""
        if self._control is None:
            self._control = mtls_session(self.pem, self.ca)
        reply = self._control.request(method, f"{self.emulator.url}/_emulator/{name}", json=payload, timeout=30)
        reply.raise_for_status()
        return json.loads(reply.content)

    def handshakes(self) -> int:
        """The emulator's count of completed TLS handshakes.

        Read on one kept-alive connection: a reconnect of this session itself is counted before the
        snapshot it serves, so it never lands inside a measured window.
        """
        return int(self.control("GET", "stats")["connections"])


def soap_call(url: str, body: bytes = USR_GET, marker: bytes = b"Envelope>") -> Callable[[], Callable[[], bool]]:
    def make() -> Callable[[], bool]:
        client = SoapClient(url)

        def call() -> bool:
            reply = client.post(body)
            return reply.status == 200 and reply.tail.rstrip().endswith(marker)
        return call
    return make


def rest_call(url: str, path: str = REST_USR_GET) -> Callable[[], Callable[[], bool]]:
    def make() -> Callable[[], bool]:
        client = SoapClient(url)

        def call() -> bool:
            reply = client.get(path)
            return reply.status == 200 and reply.tail.rstrip().endswith(b"}")
        return call
    return make


@dataclass
class SmallRead:
    """CLN_USR_GET one at a time: latency of each way, CPU per call of each server, handshakes per call."""

    latency: dict[str, load.Sample] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # seconds of server CPU per call
    emulator_cpu: dict[str, float] = field(default_factory=dict)
    handshakes: dict[str, float] = field(default_factory=dict)  # new TLS connections to the billing per call


def small_read(stack: Stack, rounds: int, calls: int) -> SmallRead:
    direct = DirectClient(stack.api_url, stack.pem, stack.ca)
    gateway, floor = stack.gateways["gthread"], stack.floors["gthread"]
    ways: dict[str, tuple[Server | None, Callable[[], Callable[[], bool]]]] = {
        "gateway": (gateway, soap_call(gateway.url)),
        "gateway REST": (gateway, rest_call(gateway.url)),
        "spyne floor": (floor, soap_call(floor.url)),
        **({"lxml floor": (stack.lxml_floor, soap_call(stack.lxml_floor.url))} if stack.lxml_floor else {}),
        "direct call": (None, lambda: lambda: bool(direct.usr_get(101))),
        "naive integration": (None, lambda: lambda: bool(naive_call(stack.api_url, stack.pem, stack.ca, 101))),
    }
    result = SmallRead()
    totals: dict[str, list[float]] = {name: [0.0, 0.0, 0.0, 0.0] for name in ways}  # cpu, emu cpu, tls, calls
    names = list(ways)
    for number in range(rounds):
        for name in names[number % len(names):] + names[:number % len(names)]:
            server, make = ways[name]
            load.run(make, 1, calls=max(3, calls // 10))  # warm: connections, worker caches
            cpu0, emu0, tls0 = (server.cpu() if server else 0.0), stack.emulator.cpu(), stack.handshakes()
            sample = load.run(make, 1, calls=calls)
            total = totals[name]
            total[0] += (server.cpu() - cpu0) if server else 0.0
            total[1] += stack.emulator.cpu() - emu0
            total[2] += stack.handshakes() - tls0
            total[3] += sample.count + sample.errors
            result.latency.setdefault(name, load.Sample()).merge(sample)
    for name, (cpu, emu, tls, count) in totals.items():
        result.cpu[name] = cpu / count
        result.emulator_cpu[name] = emu / count
        result.handshakes[name] = tls / count
    return result


@dataclass
class Throughput:
    samples: dict[tuple[str, str, int], load.Sample] = field(default_factory=dict)  # (side, mode, concurrency)
    cpu: dict[tuple[str, str, int], float] = field(default_factory=dict)  # server CPU seconds, summed
    emulator_cpu: dict[tuple[str, str, int], float] = field(default_factory=dict)
    handshakes: dict[str, int] = field(default_factory=dict)  # per gateway mode, over every measured window

    def cpu_per_call(self, key: tuple[str, str, int], emulator: bool = False) -> float:
        sample = self.samples[key]
        return (self.emulator_cpu if emulator else self.cpu)[key] / max(1, sample.count + sample.errors)


def throughput(stack: Stack, rounds: int, seconds: float, levels: tuple[int, ...]) -> Throughput:
    result = Throughput()
    combos = [(side, mode, c) for c in levels for mode in stack.gateways for side in ("gateway", "spyne floor")]
    for number in range(rounds):
        order = combos[number % len(combos):] + combos[:number % len(combos)]
        for side, mode, concurrency in order:
            server = (stack.gateways if side == "gateway" else stack.floors)[mode]
            load.run(soap_call(server.url), concurrency, seconds=min(0.5, seconds / 4))  # warm
            tls0, cpu0, emu0 = stack.handshakes(), server.cpu(), stack.emulator.cpu()
            sample = load.run(soap_call(server.url), concurrency, seconds=seconds)
            key = (side, mode, concurrency)
            result.cpu[key] = result.cpu.get(key, 0.0) + server.cpu() - cpu0
            result.emulator_cpu[key] = result.emulator_cpu.get(key, 0.0) + stack.emulator.cpu() - emu0
            if side == "gateway":
                result.handshakes[mode] = result.handshakes.get(mode, 0) + stack.handshakes() - tls0
            result.samples.setdefault((side, mode, concurrency), load.Sample()).merge(sample)
    return result


def slow_billing(stack: Stack, rounds: int, seconds: float, concurrency: int, ms: int) -> dict[str, load.Sample]:
    """Gateway throughput per gunicorn mode when every billing call takes ``ms`` longer (a real network)."""
    result: dict[str, load.Sample] = {}
    stack.control("POST", "faults", {"fault": "latency", "proc": "CLN_USR_GET", "ms": ms})
    try:
        modes = list(stack.gateways)
        for number in range(rounds):
            for mode in modes[number % len(modes):] + modes[:number % len(modes)]:
                make = soap_call(stack.gateways[mode].url)
                load.run(make, concurrency, seconds=min(0.5, seconds / 4))  # warm
                result.setdefault(mode, load.Sample()).merge(load.run(make, concurrency, seconds=seconds))
    finally:
        stack.control("POST", "faults", {"fault": "clear"})
    return result


@dataclass
class LargeReply:
    rows: int
    seconds: dict[str, float] = field(default_factory=dict)  # median time to last byte per way
    peak_growth: int = 0  # bytes: the largest worker peak-RSS growth over the calls
    rest_peak_growth: int = 0  # the same for the REST facade's JSON array
    ok: bool = True


def fin_oper_args(users: int, rows: int, ops: int) -> dict[str, Any]:
    """CLN_FIN_OPER arguments that select ``rows`` bulk operations (seed.py: user i pays at 09:00 + i s)."""
    if rows >= users * ops:
        return {"USER_ID": BULK_GROUP}
    return {"USER_ID": BULK_GROUP, "DATEH": f"2025-01-01T{_clock(9 * 3600 + rows - 1)}"}


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def large_replies(stack: Stack, sizes: list[tuple[int, dict[str, Any], int]]) -> list[LargeReply]:
    """Per size (rows, CLN_FIN_OPER arguments, repetitions): gateway, lxml floor and the emulator alone."""
    direct = DirectClient(stack.api_url, stack.pem, stack.ca)
    gateway = stack.gateways["gthread"]
    results = []
    for rows, args, reps in sizes:
        body = envelope("CLN_FIN_OPER", **args)
        wire_args = (args["USER_ID"], None, args["DATEH"].replace("T", " ") if "DATEH" in args else None)
        path = "/api/v1/CLN_FIN_OPER?" + urlencode(args)
        times: dict[str, list[float]] = {"gateway": [], "gateway REST": [], "lxml floor": [], "emulator alone": []}
        entry = LargeReply(rows)
        for number in range(reps):
            ways: list[tuple[str, Callable[[], Any]]] = [
                ("gateway", lambda body=body: _post_once(gateway.url, body)),
                ("gateway REST", lambda path=path: _get_once(gateway.url, path)),
                ("lxml floor", lambda wire_args=wire_args: direct.lxml_floor("CLN_FIN_OPER", *wire_args)),
                ("emulator alone", lambda wire_args=wire_args: direct.drain("CLN_FIN_OPER", *wire_args)),
            ]
            for name, run in ways[number % 4:] + ways[:number % 4]:
                workers = gateway.workers() if name.startswith("gateway") else []
                before = {}
                for pid in workers:
                    procs.reset_peak(pid)
                    before[pid] = procs.rss_bytes(pid)
                began = time.perf_counter()
                outcome = run()
                times[name].append(time.perf_counter() - began)
                if name.startswith("gateway"):
                    end = b"Envelope>" if name == "gateway" else b"]"
                    entry.ok &= outcome.status == 200 and outcome.tail.rstrip().endswith(end)
                    growth = max(procs.peak_rss_bytes(pid) - rss for pid, rss in before.items())
                    if name == "gateway":
                        entry.peak_growth = max(entry.peak_growth, growth)
                    else:
                        entry.rest_peak_growth = max(entry.rest_peak_growth, growth)
                elif name == "lxml floor":
                    entry.ok &= outcome == rows
        entry.seconds = {name: statistics.median(values) for name, values in times.items()}
        results.append(entry)
    return results


def _get_once(url: str, path: str) -> Any:
    client = SoapClient(url)
    try:
        return client.get(path)
    finally:
        client.close()


def _post_once(url: str, body: bytes) -> Any:
    """A fresh connection: gunicorn drops idle keep-alive ones after 2 s, well within a large call's gap."""
    client = SoapClient(url)
    try:
        return client.post(body)
    finally:
        client.close()
