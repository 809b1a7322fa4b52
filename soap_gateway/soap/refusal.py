"""A request refused before Spyne sees it: the fault to answer, with its stable code."""

from __future__ import annotations


class Refused(Exception):
    """Raised by the request guards; ``app`` answers it as a Client (or SOAP-defined) fault."""

    def __init__(self, faultcode: str, code: str, message: str) -> None:
        super().__init__(message)
        self.faultcode, self.code, self.message = faultcode, code, message

