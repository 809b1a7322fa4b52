#!/usr/bin/env bash
# Static checks, run by scripts/test.sh (and so by .ci/run) before the tests:
# ruff over the code, tests, benchmark and deploy files; mypy --strict over the package
# (its settings and the reason for every exception are in setup.cfg [mypy]).
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
[ -x "$python" ] || python=python3
# A worktree set up before the checks existed gets their pinned versions (setup.cfg [lint]).
"$python" -m mypy --version >/dev/null 2>&1 && "$python" -m ruff --version >/dev/null 2>&1 \
  || "$python" -m pip install -q -e '.[lint]'
"$python" -m ruff check --no-cache soap_gateway tests bench deploy scripts
"$python" -m mypy --no-incremental --cache-dir=/dev/null
