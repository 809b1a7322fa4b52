"""The IDEMPOTENCY_KEY request element of idempotent operations (REST sends the same key as a header).

The key is an optional element at the end of the request, not a SOAP
header: 1C's WSПрокси fills an extra element like any other parameter,
while a custom header needs XDTO plumbing there; .NET, PHP and Java handle
either.  Appended last and optional, it leaves existing callers valid.
"""

from __future__ import annotations

from typing import Any

from spyne import Unicode

from ..catalogue import Procedure
from ..operations import KEY_MAX_LEN

KEY_ELEMENT = "IDEMPOTENCY_KEY"
KEY_DOC = (
    "Ключ идемпотентности: уникальная строка операции (например, УникальныйИдентификатор документа 1С). "
    "Повтор с тем же ключом и теми же данными не проводит операцию второй раз, а возвращает первый ответ; "
    "тот же ключ с другими данными — ошибка Client.IdempotencyConflict.\n"
    "Idempotency key: a unique string per operation (1-64 characters, no spaces; a UUID is best). A retry "
    "with the same key and payload posts nothing and returns the first answer; the same key with another "
    "payload is refused with Client.IdempotencyConflict. See docs/money-safety.md."
)


def key_field() -> Any:
    return Unicode(min_len=1, max_len=KEY_MAX_LEN, pattern=r"\S+", min_occurs=0, nillable=True, doc=KEY_DOC)


def operation_note(proc: Procedure) -> str:
    if not proc.idempotent:
        return ""
    return (f"Idempotent: send {KEY_ELEMENT} and retry with the same key after a timeout or "
            "Server.OutcomeUnknown; the gateway never posts one key twice (docs/money-safety.md).")
