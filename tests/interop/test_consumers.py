"""Every SOAP consumer our users run goes through the same scenario against the running gateway.

One test per consumer and request path (server.soap_path = "fast" and "spyne"):
build (generate and compile the proxy), check the generated proxy, run the
driver, judge every step by scenario.json. The matrix of all of them is
printed at the end of the run (see conftest.py).  With INTEROP_RECORD=1 the
requests each consumer sends on the fast path are recorded (recording.py).
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from .consumers import CONSUMERS, TIMEOUT, Consumer, Target
from .matrix import PROXY_STEP, Cell, Row, judge
from .recording import Recorder

pytestmark = pytest.mark.interop
# server.soap_path: every consumer runs the scenario against a gateway on each request path
TARGETS = {"fast": "interop_target", "spyne": "spyne_interop_target"}
TITLES = {"fast": "", "spyne": " — Spyne's path"}


@pytest.mark.parametrize("soap_path", list(TARGETS))
@pytest.mark.parametrize("consumer", CONSUMERS, ids=[c.name for c in CONSUMERS])
def test_consumer_runs_the_scenario(consumer: Consumer, soap_path: str, driver_env: dict[str, str],
                                    scenario: dict[str, Any], matrix_rows: list[Row], tool: Any,
                                    recorder: Recorder | None, request: pytest.FixtureRequest,
                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    for name in consumer.tools:
        tool(name)  # on CI a missing tool fails the test instead of skipping it
    target: Target = request.getfixturevalue(TARGETS[soap_path])
    row = Row(consumer.name, consumer.version() + TITLES[soap_path])
    matrix_rows.append(row)
    try:
        built = consumer.build(target, tmp_path_factory.mktemp(f"{consumer.name}-{soap_path}"))
    except RuntimeError as exc:
        row.cells[PROXY_STEP] = Cell(False, " ".join(str(exc).split())[:500])
        raise
    problems = built.proxy_problems
    row.cells[PROXY_STEP] = Cell(None) if problems is None else Cell(not problems, "; ".join(problems))

    recording = recorder is not None and soap_path == "fast"
    if recording:
        recorder.start(consumer.name)  # type: ignore[union-attr]
    try:
        done = subprocess.run(built.command, env=driver_env, capture_output=True, text=True, timeout=TIMEOUT)
    finally:
        if recording:
            recorder.stop()  # type: ignore[union-attr]
    judge(row, scenario["steps"], done.stdout, done.stderr, done.returncode)

    assert not row.failures, "\n".join(f"{step}: {reason}" for step, reason in row.failures.items())
