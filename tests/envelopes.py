"""SOAP 1.1 requests written by hand, for tests that send what a SOAP library would not (or must not depend on one).

The operation's elements take the ``b:`` prefix (the gateway's namespace), the envelope's the ``s:`` prefix.
"""

from __future__ import annotations

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "urn:soap-gateway:billing"
HEADERS = {"Content-Type": "text/xml; charset=utf-8"}


def envelope(body: str, header: str = "", namespace: str = ENV) -> str:
    """``body`` (and an optional ``<s:Header>``) inside an Envelope that declares both prefixes
    (``namespace``: another SOAP version's, to see it refused)."""
    return f'<s:Envelope xmlns:s="{namespace}" xmlns:b="{TNS}">{header}<s:Body>{body}</s:Body></s:Envelope>'


def operation(name: str, **args: object) -> str:
    """One operation's request with its arguments as elements, in the order given."""
    inner = "".join(f"<b:{arg}>{value}</b:{arg}>" for arg, value in args.items())
    return envelope(f"<b:{name}>{inner}</b:{name}>")
