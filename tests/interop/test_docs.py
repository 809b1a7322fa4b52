"""docs/clients.md shows code that ran: every line of its snippets is a line of a driver program."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent
# A snippet follows a rendered link to its driver program (not an HTML comment: readers see the link).
SNIPPET = re.compile(r"\[`(\S+)`\]\(\.\./\1\):\n\n```\w*\n(.*?)```", re.S)
# The shared part each driver program runs with (its steps): lines of a snippet may be there.
SHARED = {
    "tests/interop/zeep/driver.py": "tests/interop/pydriver.py",
    "tests/interop/suds/driver.py": "tests/interop/pydriver.py",
    "tests/interop/mono_asmx/Program.cs": "tests/interop/mono_common/Scenario.cs",
    "tests/interop/mono_wcf/Program.cs": "tests/interop/mono_common/Scenario.cs",
}


def test_client_guide_snippets_are_taken_from_the_drivers() -> None:
    guide = (ROOT / "docs" / "clients.md").read_text(encoding="utf-8")
    assert "<!-- from" not in guide  # a pointer hidden from the rendered page
    snippets = SNIPPET.findall(guide)
    assert len(snippets) == guide.count("](../tests/interop/")
    assert {source for source, _ in snippets} >= {
        f"tests/interop/{d}" for d in ("mono_asmx/Program.cs", "mono_wcf/Program.cs", "java/Driver.java",
                                       "php/driver.php", "node/driver.js", "zeep/driver.py", "suds/driver.py")}
    for source, code in snippets:
        program = [source, SHARED[source]] if source in SHARED else [source]
        lines = {line.strip() for path in program for line in (ROOT / path).read_text(encoding="utf-8").splitlines()}
        missing = [line for line in code.splitlines() if line.strip() and line.strip() not in lines]
        assert not missing, f"docs/clients.md shows lines that {source} no longer has: {missing}"


def test_the_1c_payment_example_is_safe_to_retry() -> None:
    """docs/1c.md posts with every argument, the last the IDEMPOTENCY_KEY, and the document's own date."""
    from lxml import etree

    guide = (ROOT / "docs" / "1c.md").read_text(encoding="utf-8")
    (call,) = re.findall(r"Прокси\.CLN_FIN_OPER_ADD\((.*?)\);", guide, re.S)
    arguments = [a.strip() for a in re.split(r",(?![^(]*\))", call)]
    wsdl = etree.parse(str(ROOT / "wsdl" / "billing.wsdl"))
    parts = wsdl.xpath("//xs:complexType[@name='CLN_FIN_OPER_ADD']//xs:element/@name",
                       namespaces={"xs": "http://www.w3.org/2001/XMLSchema"})
    assert len(arguments) == len(parts) and parts[-1] == "IDEMPOTENCY_KEY", (arguments, parts)
    assert arguments[1] == "Документ.Дата" and arguments[-1] == "Ключ"
    assert "Ключ = Строка(Документ.Ссылка.УникальныйИдентификатор())" in guide
    assert "ТекущаяДатаСеанса" not in guide
