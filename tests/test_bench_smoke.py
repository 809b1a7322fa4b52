"""The benchmark's smoke mode runs end to end, so bench/ cannot rot; no assertion on speed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_smoke_prints_its_table_and_writes_the_report(tmp_path: Path) -> None:
    report = tmp_path / "RESULTS.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOAP_GATEWAY_")}
    done = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--out", str(report)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    # 0 also means every call of every side succeeded and every large reply was complete
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    for line in ("gateway CPU per CLN_USR_GET ÷ raw lxml floor CPU", "gateway CPU per CLN_USR_GET ÷ Spyne floor CPU",
                 "naive integration p50 ÷ gateway p50",
                 "billing TLS handshakes per gateway call", "worker peak RSS growth", "gateway ÷ lxml floor",
                 "throughput gateway ÷ floor, gthread, c=1", "throughput gateway ÷ floor, sync, c=1",
                 "REST CPU per CLN_USR_GET ÷ SOAP's", "REST p50 latency ÷ direct pooled call",
                 "REST worker peak RSS growth"):
        assert line in done.stdout, line
    text = report.read_text(encoding="utf-8")
    assert "## Machine and run" in text and "load average" in text and "## Targets" in text
    assert "### Large replies" in text and text.count("| yes") >= 3  # complete replies, each size


def test_hostile_bench_runs_its_corpus(tmp_path: Path) -> None:
    report = tmp_path / "RESULTS.md"
    report.write_text("# earlier results\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOAP_GATEWAY_")}
    done = subprocess.run([sys.executable, "-m", "bench.hostile", "--rounds", "1", "--passes", "1", "--out",
                           str(report)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    text = report.read_text(encoding="utf-8")
    assert text.startswith("# earlier results") and "Worst case:" in text
    assert "500 Client.XMLLimitExceeded" in text and "200 ok" in text and "500 Server" not in text


def test_the_batch_benchmark_runs_and_keeps_its_section(tmp_path: Path) -> None:
    report = tmp_path / "RESULTS.md"
    report.write_text("# Results\n\n## Targets\n\nfrom the main benchmark\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOAP_GATEWAY_")}
    done = subprocess.run([sys.executable, "-m", "bench.batch", "--smoke", "--out", str(report)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]  # every line of every batch posted
    for line in ("batch of N ÷ N sequential single calls, wall time", "worker peak RSS growth"):
        assert line in done.stdout, line
    text = report.read_text(encoding="utf-8")
    assert text.startswith("# Results") and "from the main benchmark" in text
    assert text.count("## Accounting: a bank statement in one call") == 1
