"""Bulk seeding for benchmarks, a file database, the command line, and the package's own import rule."""
from __future__ import annotations

import ast
import os
import re
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from soap_gateway.emulator import cli

PACKAGE = Path(__file__).resolve().parents[2] / "soap_gateway" / "emulator"
REPO = PACKAGE.parents[1]


def test_bulk_seed_feeds_large_fin_oper_replies(make_emu: Any, emu_client: Any) -> None:
    emulator = make_emu(seed_users=2000)  # x 10 operations each (seed_ops default)
    client = emu_client(emulator)
    response = client.raw(f"cmd=execute&proc=CLN_FIN_OPER&arg1={client.suid}&arg2=5", timeout=60)
    assert response.content.count(b"<row>") == 20_000
    assert response.headers["Content-Length"] == str(len(response.content))
    rows = ElementTree.fromstring(response.content).findall("row")
    assert {row.findtext("parent_id") for row in rows} == {"5"}
    assert len(client.call("CLN_FIN_OPER", 1)) == 20_013  # the whole tree: bulk + the 13 seeded operations
    for user_id in (1001, 1500, 3000):
        assert emulator.balance(user_id) == sum((op["SUMMA"] for op in emulator.fin_opers(user_id)),
                                                Decimal("0.00"))
    [found] = client.call("CLN_USR_FIND_2", *[None] * 16, "Н-2025/002000")
    assert (found["id"], found["login"], found["parent_identify"]) == ("3000", "load002000",
                                                                       "Нагрузочное тестирование")
    assert client.call("CLN_USR_GET", 5)[0]["users_count"] == "2000"


def test_seed_ops_and_file_database_survive_a_restart(make_emu: Any, emu_client: Any, tmp_path: Path) -> None:
    path = str(tmp_path / "billing.sqlite")
    first = make_emu(db=path, seed_users=3, seed_ops=4)
    emu_client(first).call("CLN_FIN_OPER_ADD", 1002, None, "12.34", "Оплата", "1", 2)
    assert len(first.fin_opers(1002)) == 5
    first.stop()
    second = make_emu(db=path, seed_users=3, seed_ops=4)  # existing state: not seeded again
    assert len(second.fin_opers(1002)) == 5 and len(second.query("SELECT * FROM users")) == 11 + 3
    assert second.balance(1002) == first.balance(1002)


def test_cli_serves_until_sigterm(emu_pki: Any, emu_client: Any) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen(
        [sys.executable, "-m", "soap_gateway.emulator", "--port", "0", "--cert", emu_pki.server_cert,
         "--key", emu_pki.server_key, "--client-ca", emu_pki.ca, "--account", "kassa:Pa55:word",
         "--legacy-find", "--encoding", "utf-8", "--access-log"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"https://127\.0\.0\.1:(\d+)/api\.php", line)
        assert match, line
        http = emu_client(None, login=False).http
        response = http.get(match.group(0), params=[("cmd", "execute"), ("proc", "CLN_AUTH_LOGIN"),
                                                    ("arg1", "kassa"), ("arg2", "Pa55:word"), ("arg3", "0")],
                            timeout=10)
        assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
        assert ElementTree.fromstring(response.content).findtext("suid")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0 and "stopped" in out
    assert "proc=CLN_AUTH_LOGIN" in err and "Pa55" not in err  # access log on stderr, password redacted


def test_cli_reports_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "missing.pem")
    assert cli.main(["--port", "0", "--cert", missing, "--key", missing, "--client-ca", missing]) == 2
    assert "emulator:" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--cert", missing, "--key", missing, "--client-ca", missing, "--account", "nocolon"])


def _modules() -> list[Path]:
    return sorted(PACKAGE.glob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_module_imports_only_the_stdlib_and_its_own_package(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), "every module opens with a docstring"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            assert node.level == 1, f"{path.name}: relative import leaves the emulator package"
            continue
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        for name in names:
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names, f"{path.name} imports {name}"
    assert len(path.read_text(encoding="utf-8").splitlines()) < 300
