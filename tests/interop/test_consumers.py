"""Every SOAP consumer our users run goes through the same scenario against the running gateway.

One test per consumer: build (generate and compile the proxy, once), check the
generated proxy, run the driver, judge every step by scenario.json. The matrix
of all of them is printed at the end of the run (see conftest.py).
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from .consumers import CONSUMERS, TIMEOUT, Consumer, Target
from .matrix import PROXY_STEP, Cell, Row, judge

pytestmark = pytest.mark.interop
SPYNE_PATH_CONSUMERS = ("zeep", "php")


@pytest.mark.parametrize("consumer", CONSUMERS, ids=[c.name for c in CONSUMERS])
def test_consumer_runs_the_scenario(consumer: Consumer, interop_target: Target, driver_env: dict[str, str],
                                    scenario: dict[str, Any], matrix_rows: list[Row], tool: Any,
                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in consumer.tools:
        tool(name)  # on CI a missing tool fails the test instead of skipping it
    row = Row(consumer.name, consumer.version())
    matrix_rows.append(row)
    try:
        built = consumer.build(interop_target, tmp_path_factory.mktemp(consumer.name))
    except RuntimeError as exc:
        row.cells[PROXY_STEP] = Cell(False, " ".join(str(exc).split())[:500])
        raise
    problems = built.proxy_problems
    row.cells[PROXY_STEP] = Cell(None) if problems is None else Cell(not problems, "; ".join(problems))

    done = subprocess.run(built.command, env=driver_env, capture_output=True, text=True, timeout=TIMEOUT)
    judge(row, scenario["steps"], done.stdout, done.stderr, done.returncode)

    assert not row.failures, "\n".join(f"{step}: {reason}" for step, reason in row.failures.items())


@pytest.mark.parametrize("consumer", [c for c in CONSUMERS if c.name in SPYNE_PATH_CONSUMERS],
                         ids=lambda c: c.name)
def test_consumer_runs_the_scenario_on_spyne_path(consumer: Consumer, spyne_interop_target: Target,
                                                  driver_env: dict[str, str], scenario: dict[str, Any], tool: Any,
                                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    """server.soap_path = "spyne" passes the scenario too: a Python and a PHP consumer here (the whole
    matrix on that path: INTEROP_SOAP_PATH=spyne)."""
    for name in consumer.tools:
        tool(name)
    row = Row(consumer.name, consumer.version())
    built = consumer.build(spyne_interop_target, tmp_path_factory.mktemp(f"{consumer.name}-spyne"))
    done = subprocess.run(built.command, env=driver_env, capture_output=True, text=True, timeout=TIMEOUT)
    judge(row, scenario["steps"], done.stdout, done.stderr, done.returncode)
    assert not row.failures, "\n".join(f"{step}: {reason}" for step, reason in row.failures.items())
