"""Billing emulator: a test double of the ISP billing's HTTPS cashier API (api.php) for tests, demo, benchmarks.

Imports nothing from ``soap_gateway`` outside this package; its idea of the procedures is its own.
"""
from __future__ import annotations

from .emulator import Emulator
from .faults import ACTIONS, KINDS as FAULTS
from .sessions import BAD_LOGIN, SESSION_EXPIRED
from .stats import RequestRecord

__all__ = ["ACTIONS", "BAD_LOGIN", "FAULTS", "SESSION_EXPIRED", "Emulator", "RequestRecord"]
