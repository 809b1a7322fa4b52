"""The README's first steps, run exactly as printed: the certificates and the emulator, the demo kept in
./demo, the user's own check and serve with the configuration it wrote, and the Python examples.

They name fixed ports (8000, 8001, 1443), as a reader's machine would have them free; a machine-wide lock
keeps two test runs on one machine from meeting there.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from decimal import Decimal
from typing import Iterator

import pytest

from serving import stop, wait_until_up

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
FIXED_PORTS = (8000, 8001, 1443)


def blocks(text: str) -> list[str]:
    """Code as a reader copies it: indented blocks and fenced ones."""
    found = [m.group(1) for m in re.finditer(r"```\w*\n(.*?)```", text, re.S)]
    for m in re.finditer(r"(?:^|\n\n)((?:    [^\n]*\n)+)", text):
        found.append("".join(line[4:] + "\n" for line in m.group(1).rstrip("\n").split("\n")))
    return found


def block(containing: str) -> str:
    (found,) = [b for b in blocks(README) if containing in b]
    return found


@pytest.fixture(scope="module")
def fixed_ports() -> Iterator[None]:
    """Held while the README's fixed ports are in use (an abstract socket: nothing left on disk)."""
    lock = socket.socket(socket.AF_UNIX)
    deadline = time.monotonic() + 900
    while True:
        try:
            lock.bind("\0soap-gateway-readme-ports")
            break
        except OSError:
            assert time.monotonic() < deadline, "another test run held the README's ports for 15 minutes"
            time.sleep(1)
    for port in FIXED_PORTS:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port}, which the README names, is taken"
    try:
        yield
    finally:
        lock.close()


@pytest.fixture
def home(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A reader's directory: .venv as scripts/demo.sh makes it, soap-gateway on PATH, its own TMPDIR."""
    (tmp_path / ".venv").symlink_to(sys.prefix)
    assert (tmp_path / ".venv" / "bin" / "soap-gateway").exists(), "the suite runs from a venv (scripts/test.sh)"
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "TMPDIR": str(tmp_path / "tmp"), "HOME": "/nonexistent"}
    return tmp_path, env


def bash(command: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120, cwd=cwd, env=env)
    assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout


def python(code: str, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def background(command: str, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(["bash", "-c", command], stdout=sink, stderr=subprocess.STDOUT, cwd=cwd, env=env)


def test_certificates_and_emulator_as_printed(fixed_ports: None, home: tuple[Path, dict[str, str]]) -> None:
    cwd, env = home
    bash(block("soap-gateway certs ca --out pki"), cwd, env)
    assert {"ca.pem", "billing.local.pem", "cashier1.pfx"} <= {p.name for p in (cwd / "pki").iterdir()}
    emulator = background(block("soap-gateway emulator --port 1443"), cwd, env, cwd / "emulator.log")
    try:
        wait_until_up(1443, emulator, cwd / "emulator.log")
    finally:
        stop(emulator)
    assert emulator.returncode == 0, (cwd / "emulator.log").read_text()


def test_from_the_demo_to_your_own_gateway(fixed_ports: None, home: tuple[Path, dict[str, str]]) -> None:
    cwd, env = home
    (kept,) = [line for line in block("scripts/demo.sh --dir demo").splitlines() if "--dir demo" in line]
    # scripts/demo.sh installs into .venv, then runs this with what it was given
    demo_command = kept.split("#")[0].replace("scripts/demo.sh", ".venv/bin/soap-gateway demo")
    demo = background(demo_command, cwd, env, cwd / "demo.log")
    serving = None
    try:
        wait_until_up(8000, demo, cwd / "demo.log", "/healthz")
        assert (cwd / "demo" / "gateway.toml").read_text() == (ROOT / "deploy" / "demo.toml").read_text()
        check, serve = block("soap-gateway serve --config demo/gateway.toml").strip().splitlines()
        assert "everything works" in bash(check, cwd, env)
        serving = background(serve, cwd, env, cwd / "serve.log")
        wait_until_up(8001, serving, cwd / "serve.log", "/healthz")
        # the README's Python examples: the billing client with the demo's configuration, zeep against the demo
        name, before = python(block("BillingClient.from_settings"), cwd, env).strip().rsplit(" ", 1)
        assert name == "Иванов Иван Иванович"
        session = block("client.service.CLN_FIN_OPER_ADD(")
        after = python(session, cwd, env).strip()
        assert Decimal(after) == Decimal(before) + 1500
        assert python(session, cwd, env).strip() == after  # the same IDEMPOTENCY_KEY: not posted twice
    finally:
        if serving is not None:
            stop(serving)
        demo.terminate()
        demo.wait(timeout=60)
    assert serving.returncode == 0 and "[ERROR]" not in (cwd / "serve.log").read_text()
    assert list((cwd / "tmp").iterdir()) == []
