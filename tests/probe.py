"""What the shared emulator saw since a point in a test (the emulator is shared: deltas only)."""

from __future__ import annotations

from typing import Any

from soap_gateway.emulator import Emulator

# The password of the cashier2 test .pfx (conftest makes it; test modules cannot import conftest
# by name because tests/emulator has a conftest module too).
CASHIER_PFX_PASSWORD = "Kassa2024"


class Probe:
    """Requests and counter changes since the probe was taken."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.start = len(emulator.requests())
        self.before = emulator.stats()

    def requests(self, proc: str | None = None) -> list[Any]:
        return [r for r in self.emulator.requests()[self.start:] if proc is None or r.proc == proc]

    def delta(self, counter: str) -> int:
        return int(self.emulator.stats()[counter] - self.before[counter])
