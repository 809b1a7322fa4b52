"""A subscriber by contract number: the catalogue's contract search, then each candidate's own number checked.

The billing's search (CLN_USR_FIND_2 in the built-in catalogue) is by
substring (Firebird CONTAINING), so "001" finds "Д-2024/001" and
"Н-2025/00001" finds ten contracts: a payment must never go to a subscriber
whose contract merely contains the number.  Each candidate is read with the
catalogue's subscriber read and only an exact match (ignoring case and
surrounding spaces) counts; none or several is the line's error.  Both reads
run through the core as the caller, so its roles apply to them as to any call.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from ..backend import Row
from ..catalogue import Catalogue
from ..errors import InvalidArgument
from .published import CONTRACT

# Beyond this many substring matches the number is too vague to check one by one.
MAX_CANDIDATES = 20

Invoke = Callable[[str, dict[str, Any]], list[Row]]


class ContractResolver:
    """Resolves contract numbers for one batch; a number repeated in the batch is looked up once."""

    def __init__(self, invoke: Invoke, catalogue: Catalogue, procedure: str) -> None:
        """``procedure``: whose field a refusal names (the payment's)."""
        self.invoke, self.procedure = invoke, procedure
        self.search, self.read = catalogue.role("contract_search"), catalogue.role("subscriber")
        self._known: dict[str, int | InvalidArgument] = {}
        self._lock = threading.Lock()

    def user_id(self, contract: str) -> int:
        wanted = _normal(contract)
        with self._lock:
            known = self._known.get(wanted)
        if known is None:
            known = self._lookup(contract, wanted)
            with self._lock:
                self._known[wanted] = known
        if isinstance(known, InvalidArgument):
            raise known
        return known

    def _lookup(self, contract: str, wanted: str) -> int | InvalidArgument:
        if not wanted:
            return self._refusal("is empty")
        search, read = self.search, self.read  # the loader checked that every role below is there
        found, number = search.role_column("subscriber"), read.role_column("contract")
        by_contract, by_id = search.argument("contract"), read.argument("subscriber")
        assert found and number and by_contract and by_id
        candidates = [row.get(found.name) for row in self.invoke(search.name, {by_contract.name: contract.strip()})]
        if len(candidates) > MAX_CANDIDATES:
            return self._refusal(f"{contract!r} is part of {len(candidates)} contract numbers; give the USER_ID")
        exact = []
        for user in candidates:
            (row,) = self.invoke(read.name, {by_id.name: user})[:1] or [Row({})]
            if _normal(row.get(number.name)) == wanted:
                exact.append(user)
        if not exact:
            return self._refusal(f"no subscriber has contract number {contract!r}")
        if len(exact) > 1:
            return self._refusal(f"{len(exact)} subscribers have contract number {contract!r} "
                                 f"({', '.join(map(str, exact))}); give the USER_ID")
        return int(exact[0])

    def _refusal(self, why: str) -> InvalidArgument:
        return InvalidArgument(self.procedure, [(CONTRACT, why)])


def _normal(value: Any) -> str:
    return str(value or "").strip().casefold()
