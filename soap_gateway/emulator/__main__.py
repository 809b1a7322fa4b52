"""``python -m soap_gateway.emulator --cert ... --key ... --client-ca ...`` (same as ``soap-gateway emulator``)."""
from __future__ import annotations

import sys

from .cli import main

sys.exit(main(sys.argv[1:]))
