"""docs/clients.md shows code that ran: every line of its snippets is a line of a driver program."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent
SNIPPET = re.compile(r"<!-- from (\S+) -->\n```\w*\n(.*?)```", re.S)
# The shared part each driver program runs with (its steps): lines of a snippet may be there.
SHARED = {
    "tests/interop/zeep/driver.py": "tests/interop/pydriver.py",
    "tests/interop/suds/driver.py": "tests/interop/pydriver.py",
    "tests/interop/mono_asmx/Program.cs": "tests/interop/mono_common/Scenario.cs",
    "tests/interop/mono_wcf/Program.cs": "tests/interop/mono_common/Scenario.cs",
}


def test_client_guide_snippets_are_taken_from_the_drivers() -> None:
    guide = (ROOT / "docs" / "clients.md").read_text(encoding="utf-8")
    snippets = SNIPPET.findall(guide)
    assert {source for source, _ in snippets} >= {
        f"tests/interop/{d}" for d in ("mono_asmx/Program.cs", "mono_wcf/Program.cs", "java/Driver.java",
                                       "php/driver.php", "node/driver.js", "zeep/driver.py", "suds/driver.py")}
    for source, code in snippets:
        program = [source, SHARED[source]] if source in SHARED else [source]
        lines = {line.strip() for path in program for line in (ROOT / path).read_text(encoding="utf-8").splitlines()}
        missing = [line for line in code.splitlines() if line.strip() and line.strip() not in lines]
        assert not missing, f"docs/clients.md shows lines that {source} no longer has: {missing}"
