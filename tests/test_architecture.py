"""Import rules that keep the layers honest (DESIGN.md §4)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "soap_gateway"


def imports_of(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = parts[: len(parts) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


SOURCES = sorted(PACKAGE.rglob("*.py"))


def _where(rule: str) -> list[str]:
    return [str(p.relative_to(PACKAGE)) for p in SOURCES if any(
        name == rule or name.startswith(rule + ".") for name in imports_of(p))]


def test_rules_see_the_package() -> None:
    assert len(SOURCES) > 20 and _where("spyne")


def test_only_the_soap_package_imports_spyne() -> None:
    assert all(p.startswith("soap/") for p in _where("spyne")), _where("spyne")


@pytest.mark.parametrize("library", ["requests", "urllib3"])
def test_only_the_transport_imports_requests(library: str) -> None:
    assert set(_where(library)) <= {"backend/transport.py"}, _where(library)


def test_the_emulator_imports_nothing_else_of_ours() -> None:
    for path in (PACKAGE / "emulator").rglob("*.py"):
        ours = {n for n in imports_of(path) if n.startswith("soap_gateway")}
        assert all(n.startswith("soap_gateway.emulator") for n in ours), (path, ours)


def test_only_the_command_line_starts_the_emulator() -> None:
    users = {p for p in _where("soap_gateway.emulator") if not p.startswith("emulator/")}
    assert users == {"cli.py", "demo.py"}  # the command line and its demo


def test_the_billing_side_knows_nothing_of_soap() -> None:
    offenders = [p for p in _where("soap_gateway.soap") if p.startswith(("backend/", "catalogue/"))]
    assert offenders == []


def test_journal_databases_stay_in_their_stores() -> None:
    for library in ("psycopg", "psycopg_pool"):
        assert set(_where(library)) <= {"journal/postgres.py"}, _where(library)
    assert {p for p in _where("sqlite3") if not p.startswith("emulator/")} == {"journal/sqlite.py"}


FACADES = ("soap_gateway.soap", "soap_gateway.rest")


def _imports_any(path: Path, modules: tuple[str, ...]) -> bool:
    return any(n == m or n.startswith(m + ".") for n in imports_of(path) for m in modules)


def test_the_web_layer_knows_no_facade() -> None:
    web = sorted((PACKAGE / "web").glob("*.py"))
    assert web and not [p.name for p in web if _imports_any(p, (*FACADES, "spyne"))]


def test_the_facades_do_not_know_each_other() -> None:
    for own, other in (FACADES, FACADES[::-1]):
        folder = PACKAGE / own.rpartition(".")[2]
        assert not [p.name for p in folder.glob("*.py") if _imports_any(p, (other,))], own


def test_only_the_application_assembles_the_facades() -> None:
    users = {str(p.relative_to(PACKAGE)) for p in SOURCES if _imports_any(p, FACADES)}
    users = {u for u in users if not u.startswith(("soap/", "rest/"))}
    assert users <= {"application.py", "cli.py"}, users  # cli.py: `soap-gateway wsdl` writes the WSDL


def test_the_core_and_below_know_nothing_of_http() -> None:
    lower = ("backend/", "catalogue/", "journal/", "security/", "ops/", "core.py", "errors.py", "execute.py")
    offenders = [str(p.relative_to(PACKAGE)) for p in SOURCES if str(p.relative_to(PACKAGE)).startswith(lower)
                 and _imports_any(p, (*FACADES, "soap_gateway.web"))]
    assert offenders == []


def test_the_call_context_is_read_typed() -> None:
    """ctx.udc is a web.CallContext: nobody guesses at it with getattr."""
    offenders = [str(p.relative_to(PACKAGE)) for p in SOURCES if "getattr(ctx.udc" in p.read_text(encoding="utf-8")]
    assert offenders == []


# The layer order of docs/architecture.md, lowest first: a package (or top-level module) imports only
# from layers below its own, so no two packages import each other.  A new package takes its place here.
LAYERS: list[set[str]] = [
    {"errors", "emulator"},
    {"catalogue"},
    {"ops"},
    {"security"},
    {"config"},
    {"backend"},
    {"journal"},
    {"core", "execute", "dialect"},
    {"accounting"},
    {"web"},
    {"operations"},
    {"soap", "rest"},
    {"application"},
    {"bootstrap", "check", "certs", "devserver"},
    {"server", "wsgi", "demo"},
    {"cli"},
    {"__main__"},
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def unit_of(module: str) -> str | None:
    """The package or top-level module of ours a module name falls in (None: not ours, or the package root)."""
    parts = module.split(".")
    if parts[0] != "soap_gateway" or len(parts) < 2 or parts[1] == "__init__":
        return None
    name = parts[1]
    return name if (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file() else None


UNITS = sorted({unit_of(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)) or "" for p in SOURCES} - {""})


def test_every_package_has_a_layer() -> None:
    assert sorted(set(UNITS) - set(RANK)) == []


@pytest.mark.parametrize("unit", UNITS)
def test_a_package_imports_only_from_layers_below(unit: str) -> None:
    files = [p for p in SOURCES if unit_of(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)) == unit]
    upward = sorted({f"{p.relative_to(PACKAGE)} imports {name}" for p in files for name in imports_of(p)
                     if (other := unit_of(name)) not in (None, unit) and RANK[other] >= RANK[unit]})
    assert upward == []


def test_starting_up_imports_no_metrics_library_before_the_master_sets_its_directory() -> None:
    # deploy/gunicorn.conf.py imports the bootstrap, then sets PROMETHEUS_MULTIPROC_DIR: prometheus_client
    # picks its multiprocess mode when first imported, so the bootstrap must not import it (nor spyne).
    code = ("import sys, soap_gateway.bootstrap; "
            "print(sorted(m for m in sys.modules if m.startswith(('prometheus', 'spyne'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
