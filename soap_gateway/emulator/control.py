"""The out-of-process control endpoint on the same mTLS port; JSON in and out, mirroring the ``Emulator`` API.

GET stats | faults | requests; POST faults (a fault object or a list) | reset-stats | accounts.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import Emulator

JSON = "application/json; charset=utf-8"


def _json(status: int, payload: Any) -> tuple[int, str, bytes]:
    return status, JSON, json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")


def _body(body: bytes) -> Any:
    return json.loads(body.decode("utf-8") or "null")  # JSONDecodeError is a ValueError: a 400


def _stats(emulator: Emulator, body: bytes) -> Any:
    return emulator.stats()


def _faults(emulator: Emulator, body: bytes) -> Any:
    return {"faults": emulator.faults()}


def _requests(emulator: Emulator, body: bytes) -> Any:
    return {"requests": [record.to_dict() for record in emulator.requests()]}


def _set_faults(emulator: Emulator, body: bytes) -> Any:
    return {"ok": True, "faults": emulator.apply_faults(_body(body))}


def _reset_stats(emulator: Emulator, body: bytes) -> Any:
    emulator.reset_stats()
    return {"ok": True}


def _add_account(emulator: Emulator, body: bytes) -> Any:
    spec = _body(body)
    if not isinstance(spec, dict) or not all(isinstance(spec.get(k), str) for k in ("login", "password")):
        raise ValueError('expected {"login": "...", "password": "..."}')
    emulator.add_account(spec["login"], spec["password"])
    return {"ok": True}


ROUTES: dict[tuple[str, str], Callable[[Emulator, bytes], Any]] = {
    ("GET", "stats"): _stats,
    ("GET", "faults"): _faults,
    ("GET", "requests"): _requests,
    ("POST", "faults"): _set_faults,
    ("POST", "reset-stats"): _reset_stats,
    ("POST", "accounts"): _add_account,
}


def handle(emulator: Emulator, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
    name = path.removeprefix("/_emulator/").strip("/")
    route = ROUTES.get((method, name))
    if route is None:
        status = 405 if any(name == known for _, known in ROUTES) else 404
        return _json(status, {"ok": False, "error": f"no {method} /_emulator/{name}"})
    try:
        return _json(200, route(emulator, body))
    except (ValueError, TypeError) as error:
        return _json(400, {"ok": False, "error": str(error)})
