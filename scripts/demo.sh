#!/usr/bin/env bash
# Install soap-gateway into .venv and run the demo: billing emulator + gateway on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ] && ! python3.11 -m venv .venv; then
  echo "cannot create .venv: Debian ships Python's venv module apart: apt-get install python3.11-venv" >&2
  exit 1
fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[demo]'
exec .venv/bin/soap-gateway demo "$@"
