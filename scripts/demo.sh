#!/usr/bin/env bash
# Install soap-gateway into .venv and run the demo: billing emulator + gateway on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e '.[demo]'
exec .venv/bin/soap-gateway demo "$@"
