"""The fast SOAP request path held to Spyne's: the same billing call, the same reply bytes or fault."""

from __future__ import annotations

import dataclasses
import io
from typing import Any, Iterator

import pytest

from soap_gateway.application import create_app
from soap_gateway.core import Gateway

TNS = "urn:soap-gateway:billing"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"


@pytest.fixture(scope="module")
def paths(gateway_settings: Any) -> Iterator[dict[str, Any]]:
    apps = {}
    gateways = []
    for mode in ("fast", "spyne"):
        settings = dataclasses.replace(gateway_settings,
                                       server=dataclasses.replace(gateway_settings.server, soap_path=mode))
        gateway = Gateway.from_settings(settings)
        gateways.append(gateway)
        apps[mode] = create_app(settings, gateway)
    yield apps
    for gateway in gateways:
        gateway.close()


def post(app: Any, body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = status, headers

    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/soap", "CONTENT_TYPE": "text/xml; charset=utf-8",
               "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "REMOTE_ADDR": "127.0.0.1",
               "HTTP_X_CORRELATION_ID": "differential-1", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
               "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1"}
    result = app(environ, start_response)
    try:
        data = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return seen["status"], seen["headers"], data


def envelope(operation: str, inner: str, header: str = "") -> bytes:
    return (f'<e:Envelope xmlns:e="{ENV}" xmlns:g="{TNS}">{header}<e:Body><g:{operation}>{inner}'
            f'</g:{operation}></e:Body></e:Envelope>').encode()


@pytest.mark.parametrize("body", [
    envelope("CLN_USR_GET", "<g:USER_ID>101</g:USER_ID>"),
    envelope("CLN_USR_GET", "<g:USER_ID>x</g:USER_ID>"),
    envelope("CLN_USR_GET", ""),
    envelope("CLN_FIN_OPER", "<g:USER_ID>101</g:USER_ID>"),
    envelope("NOPE", ""),
])
def test_smoke(paths: dict[str, Any], body: bytes) -> None:
    fast, spyne = post(paths["fast"], body), post(paths["spyne"], body)
    print(fast[0], fast[1], fast[2][:600])
    print(spyne[0], spyne[1], spyne[2][:600])
    assert fast == spyne
