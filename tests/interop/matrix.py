"""The interop matrix: judging what each driver observed against scenario.json, and printing it.

Drivers print one JSON line per step; every consumer is judged here by the same
``expect`` of the scenario, so a cell means the same thing in every column.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

FIXED_POINT = re.compile(r"-?\d+(\.\d+)?")
PROXY_STEP = "proxy"


@dataclass
class Cell:
    ok: bool | None  # None: not applicable
    reason: str = ""


@dataclass
class Row:
    """One consumer's results: a cell per step, and notes worth reading even when all pass."""

    consumer: str
    title: str
    cells: dict[str, Cell] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> dict[str, str]:
        return {step: cell.reason for step, cell in self.cells.items() if cell.ok is False}


def problems(expect: dict[str, Any], observed: dict[str, Any]) -> list[str]:
    """Why ``observed`` does not meet ``expect``; empty when it does."""
    found = []
    for key, want in expect.items():
        if key not in observed:
            found.append(f"{key} missing")
            continue
        got = observed[key]
        if not _matches(want, got):
            found.append(f"{key}: got {got!r}, want {_describe(want)}")
    return found


def _matches(want: Any, got: Any) -> bool:
    if not isinstance(want, dict):
        # bool is an int in Python: a consumer that turns 1 into true must not pass
        return type(want) is type(got) and want == got if want is not None else got is None
    if "decimal" in want:
        return isinstance(got, str) and bool(FIXED_POINT.fullmatch(got)) and Decimal(got) == Decimal(want["decimal"])
    if want.get("is") == "decimal":
        return isinstance(got, str) and bool(FIXED_POINT.fullmatch(got))
    if "min" in want:
        return type(got) is int and got >= want["min"]
    if "includes" in want:
        return isinstance(got, list) and set(want["includes"]) <= set(got)
    if "startswith" in want:
        return isinstance(got, str) and got.startswith(want["startswith"])
    if "endswith" in want:
        return isinstance(got, str) and got.endswith(want["endswith"])
    raise ValueError(f"unknown matcher {want!r}")


def _describe(want: Any) -> str:
    if not isinstance(want, dict):
        return repr(want)
    ((kind, value),) = want.items()
    return {"decimal": f"the decimal {value}", "is": f"a fixed-point {value}", "min": f"an integer >= {value}",
            "includes": f"a list with {value}", "startswith": f"text starting {value!r}",
            "endswith": f"text ending {value!r}"}[kind]


def judge(row: Row, steps: list[dict[str, Any]], stdout: str, stderr: str, returncode: int) -> None:
    """Fill ``row`` with a cell per scenario step from a driver's output."""
    reported: dict[str, dict[str, Any]] = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            reported[record["step"]] = record
    tail = " | ".join(stderr.strip().splitlines()[-3:])
    for step in steps:
        record = reported.get(step["id"])
        if record is None:
            row.cells[step["id"]] = Cell(False, f"not reported (driver exit {returncode}{': ' + tail if tail else ''})")
        elif "error" in record:
            row.cells[step["id"]] = Cell(False, record["error"])
        else:
            observed = record["observed"]
            if "empty_as" in observed:
                row.notes.append(f"{step['id']}: an empty array arrives as {observed['empty_as']}")
            if "note" in observed:
                row.notes.append(f"{step['id']}: {observed['note']}")
            found = problems(step.get("expect", {}), observed)
            row.cells[step["id"]] = Cell(not found, "; ".join(found))


def render(rows: list[Row], steps: list[str]) -> str:
    """The matrix as Markdown: consumer × step, then the reasons of failed cells and the notes."""
    mark = {True: "✓", False: "✗", None: "–"}
    lines = ["| consumer | " + " | ".join(steps) + " |", "|---|" + "---|" * len(steps)]
    for row in rows:
        cells = [mark[row.cells[s].ok] if s in row.cells else "·" for s in steps]
        lines.append(f"| {row.title} | " + " | ".join(cells) + " |")
    failed = [(row.title, step, reason) for row in rows for step, reason in row.failures.items()]
    lines.append("")
    lines.append("✓ pass, ✗ fail, – not applicable, · not run.")
    if failed:
        lines += ["", "Failures:", ""] + [f"- {title} / {step}: {reason}" for title, step, reason in failed]
    notes = [(row.title, note) for row in rows for note in row.notes]
    if notes:
        lines += ["", "Notes:", ""] + [f"- {title}: {note}" for title, note in notes]
    return "\n".join(lines) + "\n"
