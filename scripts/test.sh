#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh Debian 12 machine, then run it.
# System packages: the SOAP consumers of the interop matrix, nginx, PostgreSQL,
# Chromium (scripts/system-packages.txt says what each one is for).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for pkg in $(grep -v '^#' scripts/system-packages.txt); do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  # Debian's nodejs comes without npm; builds that bundle npm conflict with Debian's npm package.
  command -v npm >/dev/null || missing+=(npm)
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
if command -v npm >/dev/null; then
  (cd tests/interop/node && npm ci --no-audit --no-fund --loglevel=error)  # node-soap for the interop matrix
fi
if [ ! -x .venv/bin/python ] && ! python3.11 -m venv .venv; then
  echo "cannot create .venv: Debian ships Python's venv module apart: apt-get install python3.11-venv" >&2
  exit 1
fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[test,lint]'
bash scripts/lint.sh
exec .venv/bin/python -m pytest "$@"
