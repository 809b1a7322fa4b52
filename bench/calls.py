"""The ways of making a call that the benchmark compares.

- ``SoapClient``: one keep-alive HTTP/1.1 connection to a SOAP server (the gateway or Spyne's floor),
  or to the gateway's REST facade; the reply is read to its last byte in 64 KiB pieces.
- ``DirectClient``: what an integrator could write instead of the gateway: one pooled mTLS
  ``requests.Session`` to api.php, logged in once, and the XML decoded with lxml.
- ``naive_call``: what public client code does: log in, then call, each ``requests.get`` on a new
  TLS connection (and a new SSLContext).
- ``DirectClient.lxml_floor``: the least any server could do with a large reply: iterparse the
  billing's XML and write the same rows into a SOAP envelope with lxml's incremental writer.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from lxml import etree

from .stack import ADMIN

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "urn:soap-gateway:billing"
CHUNK = 64 * 1024


def envelope(operation: str, **args: Any) -> bytes:
    parts = "".join(f"<b:{name}>{value}</b:{name}>" for name, value in args.items())
    return (f'<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" '
            f'xmlns:b="{TNS}"><soapenv:Body><b:{operation}>{parts}</b:{operation}></soapenv:Body>'
            f"</soapenv:Envelope>").encode()


@dataclass
class Reply:
    status: int
    size: int
    tail: bytes  # the last bytes: a complete envelope ends with its closing tag


class SoapClient:
    """POSTs envelopes on one persistent connection; reconnects when the server closes it (sync workers)."""

    def __init__(self, base_url: str, timeout: float = 600) -> None:
        parts = urlsplit(base_url)
        self.host, self.port, self.timeout = parts.hostname or "127.0.0.1", parts.port or 80, timeout
        self.conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes, path: str = "/soap") -> Reply:
        return self.request("POST", path, body, {"Content-Type": "text/xml; charset=utf-8"})

    def get(self, path: str) -> Reply:
        """A GET, for the REST facade (``/api/v1/CLN_USR_GET?SELECT_ID=101``)."""
        return self.request("GET", path)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            self.conn.request(method, path, body, headers or {})
            response = self.conn.getresponse()
            size, tail = 0, b""
            while chunk := response.read(CHUNK):
                size += len(chunk)
                tail = (tail + chunk)[-64:]
            if response.will_close:
                self.close()
            return Reply(response.status, size, tail)
        except (OSError, http.client.HTTPException):
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def mtls_session(pem: tuple[str, str], ca: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # this machine's REQUESTS_CA_BUNDLE would replace the billing's CA
    session.cert, session.verify = pem, ca
    return session


def _rows(content: bytes) -> list[dict[str, str | None]]:
    root = etree.fromstring(content)
    leaves = [e for e in root.iter() if len(e) and all(len(c) == 0 for c in e)]
    return [{child.tag: child.text for child in row} for row in leaves]


class DirectClient:
    """A pooled mTLS session to api.php with a SUID obtained once."""

    def __init__(self, api_url: str, pem: tuple[str, str], ca: str) -> None:
        self.url, self.session = api_url, mtls_session(pem, ca)
        self.suid = _login(self.session, api_url)

    def usr_get(self, user_id: int) -> dict[str, str | None]:
        reply = self.session.get(self.url, params=_call("CLN_USR_GET", self.suid, user_id), timeout=60)
        reply.raise_for_status()
        (row,) = _rows(reply.content)
        return row

    def raw(self, proc: str, *args: Any) -> bytes:
        reply = self.session.get(self.url, params=_call(proc, self.suid, *args), timeout=600)
        reply.raise_for_status()
        return reply.content

    def drain(self, proc: str, *args: Any) -> int:
        """The billing's reply read and thrown away: the emulator's own share of a large call."""
        with self.session.get(self.url, params=_call(proc, self.suid, *args), stream=True, timeout=600) as reply:
            return sum(len(chunk) for chunk in reply.iter_content(CHUNK))

    def lxml_floor(self, proc: str, *args: Any) -> int:
        """iterparse the reply and stream the same rows out as a SOAP envelope; returns the row count."""
        count = 0
        with self.session.get(self.url, params=_call(proc, self.suid, *args), stream=True, timeout=600) as reply:
            with etree.xmlfile(_Sink(), encoding="utf-8") as out:
                out.write_declaration()
                with out.element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap11env": SOAP_ENV, "tns": TNS}):
                    with out.element(f"{{{SOAP_ENV}}}Body"), out.element(f"{{{TNS}}}{proc}Response"), \
                            out.element(f"{{{TNS}}}{proc}Result"):
                        for _, row in etree.iterparse(reply.raw, tag="row"):
                            item = etree.Element(f"{{{TNS}}}Row")
                            for cell in row:
                                etree.SubElement(item, f"{{{TNS}}}{cell.tag.upper()}").text = cell.text
                            out.write(item)
                            count += 1
                            row.clear()
                            while row.getprevious() is not None:
                                del row.getparent()[0]
                        out.flush()
        return count


def naive_call(api_url: str, pem: tuple[str, str], ca: str, user_id: int) -> dict[str, str | None]:
    """Log in and call, each on a fresh connection: what most public billing client code does."""
    suid = _login(mtls_session(pem, ca), api_url, close=True)
    with mtls_session(pem, ca) as session:
        reply = session.get(api_url, params=_call("CLN_USR_GET", suid, user_id), timeout=60)
    reply.raise_for_status()
    (row,) = _rows(reply.content)
    return row


def _login(session: requests.Session, api_url: str, close: bool = False) -> str:
    params = {"cmd": "execute", "proc": "CLN_AUTH_LOGIN", "arg1": ADMIN[0], "arg2": ADMIN[1], "arg3": "0"}
    reply = session.get(api_url, params=params, timeout=60)
    if close:
        session.close()
    reply.raise_for_status()
    suid = etree.fromstring(reply.content).findtext(".//suid")
    if not suid:
        raise RuntimeError("the billing's login reply holds no SUID")
    return suid


def _call(proc: str, suid: str, *args: Any) -> dict[str, str]:
    params = {"cmd": "execute", "proc": proc, "arg1": suid}
    params.update((f"arg{i}", "null" if value is None else str(value)) for i, value in enumerate(args, start=2))
    return params


class _Sink:
    """A write target that keeps only the byte count, like a socket would."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
