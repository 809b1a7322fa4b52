"""A streamed reply as the server iterates it: what a facade returns for a long list.

Its first chunk was produced before the facade returned (an error until then is still an
error reply); the rest passes through.  An error after the first byte cannot become an
error reply any more: it propagates, and the server cuts the connection without ending the
chunked body, so no client takes the truncated reply for an answer.  ``close`` (which
servers call however the iteration ended) releases the billing response and finishes the
request's observation.
"""

from __future__ import annotations

from typing import Callable, Iterator

from .context import CallContext


class StreamedBody:
    """The WSGI body of a streamed reply."""

    def __init__(self, first: bytes, rest: Iterator[bytes], call: CallContext) -> None:
        self._first, self._rest, self._call = first, rest, call
        self._when_done: list[Callable[[], None]] = []

    def when_done(self, action: Callable[[], None]) -> None:
        self._when_done.append(action)

    def __iter__(self) -> Iterator[bytes]:
        try:
            if self._first:
                yield self._first
            yield from self._rest
        except Exception:
            self._call.outcome = "Server"  # cut mid-reply: counted as our failure
            raise

    def close(self) -> None:
        self._call.release()
        actions, self._when_done = self._when_done, []
        for action in actions:
            action()
