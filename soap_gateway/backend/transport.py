"""HTTPS to the billing: the only module that imports requests.

One pooled keep-alive ``requests.Session`` is shared by all threads of a
process.  The billing's trust lives in the SSLContext built by ``tls``; the
adapter ignores ``verify`` entirely, so neither REQUESTS_CA_BUNDLE nor the
certifi bundle can widen it.  Every requests/urllib3 exception is translated
into the gateway's hierarchy here, with ``sent`` telling whether the request
may have reached the billing.
"""

from __future__ import annotations

import http.cookiejar
import logging
import re
import ssl
from dataclasses import dataclass
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from ..config import BillingSettings
from ..errors import BillingTimeout, BillingUnavailable, MalformedReply, TLSFailure
from .codec import Readable

log = logging.getLogger("soap_gateway.billing")
_URL_IN_MESSAGE = re.compile(r"url: \S+")
_QUERY = re.compile(r"\?\S*")  # a URL quoted some other way still loses its query string


class _NoQueryStrings(logging.Filter):
    """urllib3 logs request URLs (at DEBUG); ours carry the SUID, a one-step password or switch passwords.

    A filter rather than a log level: it holds even when someone turns
    every logger up to DEBUG to chase a problem.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_cut(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _cut(v) for k, v in record.args.items()}
        record.msg = _cut(record.msg)
        return True


def _cut(value: Any) -> Any:
    if isinstance(value, (int, float)) or value is None:
        return value
    text = str(value)  # an exception's text may quote the URL too
    return text.partition("?")[0] + "?<redacted>" if "?" in text else value


for _name in ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.connection", "urllib3.response",
              "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(_NoQueryStrings())


class BillingAdapter(HTTPAdapter):
    """Mounts our SSLContext, the expected server name (SNI + check) and an optional pin."""

    def __init__(self, ssl_context: ssl.SSLContext, server_name: str, pin: str = "", pool_size: int = 10) -> None:
        self._tls = {"ssl_context": ssl_context, "server_hostname": server_name, "cert_reqs": "CERT_REQUIRED"}
        if pin:
            # urllib3 then checks the pin instead of the name; the chain is still verified.
            self._tls["assert_fingerprint"] = pin
        super().__init__(pool_connections=1, pool_maxsize=pool_size, pool_block=True, max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._tls["ssl_context"]
        super().init_poolmanager(*args, **kwargs)

    def build_connection_pool_key_attributes(self, request: Any, verify: Any, cert: Any = None) -> Any:
        host_params, _ = super().build_connection_pool_key_attributes(request, True, None)
        return host_params, dict(self._tls)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # requests would load certifi (or REQUESTS_CA_BUNDLE) into our context here.
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


@dataclass
class BillingResponse:
    """A billing answer whose body is read as a stream (see codec.decode_rows)."""

    status: int
    charset: str | None
    body: Readable
    _response: requests.Response

    def close(self) -> None:
        self._response.close()


class Transport:
    """GETs ``api.php?<query>`` with timeouts on one pooled session."""

    def __init__(self, settings: BillingSettings, ssl_context: ssl.SSLContext | None) -> None:
        self.url = settings.url
        self.timeout = (settings.connect_timeout, settings.read_timeout)
        self.max_reply_bytes = settings.max_reply_bytes
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies, netrc or CA bundles from the environment
        self.session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self.session.headers["User-Agent"] = "soap-gateway"
        if ssl_context is not None:
            adapter = BillingAdapter(ssl_context, settings.expected_name, settings.pin_sha256, settings.pool_size)
            self.session.mount("https://", adapter)
        self.session.mount("http://", HTTPAdapter(pool_maxsize=settings.pool_size, pool_block=True))
        # Every call is the same GET to the same URL: prepare it once and hand copies straight to the
        # adapter.  Session.request would merge settings, cookies and hooks we never use (≈35% of a
        # call's client CPU); the query is percent-encoded by codec.build_query already.
        self._adapter = self.session.get_adapter(self.url)
        self._template = self.session.prepare_request(requests.Request("GET", self.url))

    def get(self, query: str, *, timeout: tuple[float, float] | None = None) -> BillingResponse:
        """Send one call; the URL (which holds the SUID or password) is never logged."""
        request = self._template.copy()
        request.url = f"{self._template.url}?{query}"
        try:
            response = self._adapter.send(request, stream=True, timeout=timeout or self.timeout, verify=True,
                                          cert=None, proxies={})
        except requests.exceptions.RequestException as exc:
            raise translate(exc) from None
        if response.status_code >= 400:
            response.close()
            raise _status_error(response.status_code)
        return BillingResponse(response.status_code, _charset(response),
                               _Guarded(response.raw, self.max_reply_bytes), response)

    def close(self) -> None:
        self.session.close()


def translate(exc: BaseException) -> BillingUnavailable:
    """Map a requests/urllib3 exception to ours; the cause is kept on it (``cause``) and logged, not shown.

    The cause is kept as text with URLs and query strings cut, not chained: a
    traceback of the requests exception would quote the URL with the SUID or
    a one-step password.
    """
    text = _reason(exc)
    error = _classify(exc, text)
    error.cause = text
    log.warning("billing call failed (%s): %s", type(error).__name__, text)
    return error


def _classify(exc: BaseException, text: str) -> BillingUnavailable:
    if isinstance(exc, requests.exceptions.SSLError) or "CERTIFICATE_VERIFY_FAILED" in text or (
            "Fingerprints did not match" in text):
        return TLSFailure(detail=_tls_hint(text), sent=False)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return BillingTimeout(detail="connect timeout: is the billing's host and port reachable from here?",
                              sent=False)
    if isinstance(exc, (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError)):
        return BillingTimeout(detail="no answer within the read timeout", sent=True)
    if "NewConnectionError" in text or "NameResolutionError" in text or "Connection refused" in text:
        return BillingUnavailable(detail="cannot connect: is the billing's host and port reachable from here?",
                                  sent=False)
    return BillingUnavailable(detail="the connection was lost before the answer arrived", sent=True)


def _tls_hint(text: str) -> str:
    if "Fingerprints did not match" in text:
        return "the billing's certificate does not match the pinned SHA-256 fingerprint"
    if "hostname" in text.lower() or "doesn't match" in text:
        return "the billing's certificate does not name the expected server (set billing.server_name)"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "the billing's certificate is not signed by the configured CA (billing.ca)"
    if "certificate" in text.lower() or "alert" in text.lower():
        return "the billing refused our client certificate (is it one the billing issued?)"
    if "EOF occurred" in text or "UNEXPECTED_EOF" in text:
        # TLS 1.3: a server that refuses our certificate may hang up before its alert is read
        return ("the billing closed the connection during the handshake: did it refuse our client certificate "
                "(is it one the billing issued?) or this address?")
    return "handshake failed"


def _reason(exc: BaseException) -> str:
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        # requests quotes the URL: caller arguments (and the SUID or password) must not steer the matching
        text = _URL_IN_MESSAGE.sub("url: <redacted>", f"{type(exc).__name__}: {exc}")
        parts.append(_QUERY.sub("?<redacted>", text))
        # urllib3's .reason is an exception; ssl.SSLError's is a str such as 'CERTIFICATE_VERIFY_FAILED'
        reason = getattr(exc, "reason", None)
        if not isinstance(reason, BaseException):
            reason = None
        exc = reason or exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return " | ".join(parts)


def _status_error(status: int) -> BillingUnavailable:
    if status == 403:
        return BillingUnavailable(
            detail="HTTP 403: is this gateway's address in the billing's allow-list?", sent=False, status=status)
    return BillingUnavailable(detail=f"HTTP {status} from the billing", sent=status >= 500, status=status)


def _charset(response: requests.Response) -> str | None:
    content_type = response.headers.get("Content-Type", "")
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"'")
    return None


class _Guarded:
    """The response body stream, with urllib3 errors translated mid-read and its size bounded."""

    def __init__(self, raw: Any, limit: int) -> None:
        self._raw = raw
        self._left = limit

    def read(self, size: int = -1) -> bytes:
        try:
            chunk: bytes = self._raw.read(None if size < 0 else size, decode_content=True)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise translate(exc) from None
        self._left -= len(chunk)
        if self._left < 0:
            raise MalformedReply(detail="the reply is larger than billing.max_reply_bytes", sent=True)
        return chunk
