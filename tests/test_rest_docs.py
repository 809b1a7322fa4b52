"""The curl commands of docs/rest.md, run as printed against a gateway (only the address differs)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).parent.parent / "docs" / "rest.md"
DEMO = "http://127.0.0.1:8000"
COMMANDS = re.findall(r"```sh\n(curl .*?)\n```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_doc_has_examples() -> None:
    assert len(COMMANDS) >= 4 and all(DEMO in c for c in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=[re.search(r"/api/v1/(\w+)", c)[1] for c in COMMANDS])
def test_each_curl_example_works(gateway_server: Any, tool: Any, command: str) -> None:
    tool("curl")
    done = subprocess.run(["bash", "-c", command.replace(DEMO, gateway_server.url)], capture_output=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    text = done.stdout.decode("utf-8")
    values = [json.loads(line) for line in text.splitlines()] if "x-ndjson" in command else [json.loads(text)]
    assert values and values[0]
