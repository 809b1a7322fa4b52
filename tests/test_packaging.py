"""The package builds as pip builds it on a fresh machine, without a warning, and carries its data files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent
# as the suite was started, before conftest points REQUESTS_CA_BUNDLE (which pip honours) elsewhere
STARTING_ENVIRONMENT = dict(os.environ)


def test_the_wheel_builds_without_warnings_and_carries_its_data(tmp_path: Path) -> None:
    source = tmp_path / "src"  # a clean copy: no build/ or egg-info of an earlier build hides anything
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", ".git", "node_modules", "build",
                                                                 "*.egg-info", "__pycache__", ".pytest_cache"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path / "dist"),
                           str(source)], capture_output=True, text=True, timeout=600,
                          env=STARTING_ENVIRONMENT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # pip's own notes about its index and byte-compiling are not the package's
    ours = [line for line in (done.stdout + done.stderr).splitlines()
            if re.search(r"warn", line, re.I) and not re.search(r"Location '|byte-compiling is disabled", line)]
    assert ours == [], "\n".join(ours)
    (wheel,) = (tmp_path / "dist").glob("soap_gateway-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"soap_gateway/ops/templates/help.html", "soap_gateway/catalogue/procedures.toml"} <= names
    assert not [name for name in names if name.startswith(("tests/", "bench/"))]
