"""What the HTTP side knows about one call, typed, handed to the facade that answers it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..backend import Credentials
from ..security.roles import Principal

ENVIRON_KEY = "soap_gateway.call"


@dataclass
class CallContext:
    """One request: who called, through which facade, what it ran and how it ended."""

    correlation_id: str
    facade: str
    principal: Principal | None = None  # what the caller's roles allow; None before the guard ran
    credentials: Credentials | None = None  # pass-through mode: the cashier's own billing login
    operation: str = "-"  # a catalogue name once the facade knows it; never what the caller sent
    outcome: str = "ok"  # or the facade's name for the error it answered
    status: str = ""  # the HTTP status line sent
    # Run when the server is done with the reply, also when it gave up mid-stream.
    on_close: list[Callable[[], None]] = field(default_factory=list)

    @property
    def caller(self) -> str:
        return self.principal.name if self.principal is not None else "anonymous"

    def release(self) -> None:
        """Run what the call registered to run when its reply is over (a billing response's close)."""
        while self.on_close:
            self.on_close.pop()()


def call_of(environ: dict[str, Any]) -> CallContext:
    """The call context the web layer put into a request's environ."""
    call = environ[ENVIRON_KEY]
    assert isinstance(call, CallContext)
    return call
