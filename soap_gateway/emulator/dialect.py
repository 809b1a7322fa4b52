"""Dialects: ways a real installation of the billing may differ from the emulator's default reading of the page.

Each name switches one difference on; ``--dialect a,b`` combines them, ``all`` is every one.  None of them
is a documented fact about the billing: they are plausible variations (public client code for this api.php
disagrees with the default reading in exactly these places) that the gateway must be configurable for.
"""
from __future__ import annotations

from dataclasses import dataclass

DIALECTS = {
    "select-lists": "list procedures answer only cmd=select, as Firebird's selectable procedures would; "
                    "cmd=execute is refused",
    "find-23": "CLN_USR_FIND_2 takes 23 arguments after the SUID (no NAS_IP)",
    "cp1251-args": "arguments are read as windows-1251 bytes, so UTF-8 text arrives garbled",
    "counters": "replies carry <errors>N</errors> and <rows>N</rows>, every row in its own element",
    "upper-root": "<RESPONSE>, <ITEM> and upper-case column names instead of <result>, <row>, lower case",
    "dirty-values": "the 2nd and 3rd rows of every list hold values their type cannot read "
                    "(year 1, empty text, NaN, out-of-range integers, money with a decimal comma)",
    "nil-unknown-user": "CLN_USR_GET of an unknown id answers a row of nils instead of an error",
}
# The list procedures: those whose reply is a row set.
LIST_PROCEDURES = frozenset({"CLN_HOME_LIST", "CLN_SWITCH_LIST", "CLN_USR_FIND_2", "CLN_FIN_OPER"})


@dataclass(frozen=True)
class Dialect:
    names: frozenset[str] = frozenset()

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def command_allowed(self, cmd: str | None, proc: str) -> bool:
        if cmd == "select":
            return True  # any procedure can be selected from (a row set of one row for the others)
        if cmd != "execute":
            return False
        return not ("select-lists" in self.names and proc in LIST_PROCEDURES)

    def __str__(self) -> str:
        return ",".join(sorted(self.names)) or "default"


DEFAULT = Dialect()


def parse_dialect(text: str | None) -> Dialect:
    """``"find-23,counters"`` (or "all", or "" for the default) -> Dialect; ValueError names what is unknown."""
    names = {part.strip() for part in (text or "").split(",") if part.strip()}
    if "all" in names:
        names = (names - {"all"}) | set(DIALECTS)
    unknown = sorted(names - set(DIALECTS))
    if unknown:
        raise ValueError(f"unknown dialect {unknown[0]!r}; known: {', '.join(DIALECTS)}, all")
    return Dialect(frozenset(names))
