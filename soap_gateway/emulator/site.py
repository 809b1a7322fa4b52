"""Test-only hook: teach one running emulator a site procedure that the vendor page does not list.

Real installations add stored procedures of their own, and the gateway's extra
catalogue files exist for them.  The emulator's built-in list stays the vendor
page's; a test adds a procedure to one ``Emulator`` instance, never to the
module-level registry, so other tests never see it.
"""
from __future__ import annotations

from .emulator import Emulator
from .procedures import Handler, Procedure
from .signatures import fields


def add_site_procedure(emulator: Emulator, name: str, params: str, handler: Handler, *,
                       writes: bool = False) -> None:
    """Register ``name`` with parameters in the page's notation (``"USER_ID integer; ..."``) and a handler."""
    if name in emulator.api.procedures:
        raise ValueError(f"{name} is already a procedure of this emulator")
    emulator.api.procedures[name] = Procedure(name.upper(), fields(params), handler, writes)


def remove_site_procedure(emulator: Emulator, name: str) -> None:
    emulator.api.procedures.pop(name, None)
