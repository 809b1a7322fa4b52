"""Client certificates through a real nginx: it verifies the certificate and passes its subject on.

The nginx configuration is the one SECURITY.md documents.  The gateway
believes the subject header only because nginx's address is a trusted proxy,
and nginx replaces whatever header the client sent itself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from envelopes import operation
from securing import auth_from_toml, faultcode, secured_gateway
from soap_gateway.certs import create_client_pfx

ENVELOPE = operation("CLN_USR_GET", SELECT_ID=101)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pem_identity(pki: Any, cn: str, directory: Path) -> tuple[str, str]:
    """A client certificate from the billing's CA tool, as the PEM pair requests wants."""
    pfx = create_client_pfx(pki.ca_cert, pki.ca_key, cn, directory)
    key, cert, _ = pkcs12.load_key_and_certificates(pfx.read_bytes(), None)
    cert_path, key_path = directory / f"{cn}.crt", directory / f"{cn}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture(scope="module")
def proxied(pki: Any, gateway_settings: Any, tmp_path_factory: pytest.TempPathFactory,
            tool: Any) -> Iterator[dict[str, Any]]:
    nginx = tool("nginx")
    work = tmp_path_factory.mktemp("nginx")
    auth = auth_from_toml(work, """
[auth]
mode = "basic"
trusted_proxies = ["127.0.0.1"]
client_cert_header = "X-Client-Cert-DN"
[auth.clients.erp01]
roles = ["reader"]
""")
    with secured_gateway(gateway_settings, auth) as gateway:
        port = _free_port()
        user = "user root;" if os.geteuid() == 0 else ""
        (work / "nginx.conf").write_text(f"""
{user}
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {pki.server_cert};
        ssl_certificate_key {pki.server_key};
        ssl_client_certificate {pki.client_ca};
        ssl_verify_client on;
        location /soap {{
            proxy_pass {gateway.url};
            proxy_set_header X-Client-Cert-DN $ssl_client_s_dn;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_intercept_errors off;
        }}
    }}
}}
""", encoding="utf-8")
        process = subprocess.Popen([nginx, "-p", str(work), "-c", str(work / "nginx.conf"), "-g", "daemon off;"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"nginx did not start: {process.stderr.read().decode()[-1500:]}")
                    time.sleep(0.1)
            yield {"url": f"https://127.0.0.1:{port}/soap", "ca": str(pki.ca_cert),
                   "erp01": _pem_identity(pki, "erp01", work), "intruder": _pem_identity(pki, "intruder", work)}
        finally:
            process.terminate()
            process.wait(timeout=30)
            process.stderr.close()


def _post(proxied: dict[str, Any], cert: tuple[str, str] | None, headers: dict[str, str] | None = None,
          auth: tuple[str, str] | None = None) -> requests.Response:
    return requests.post(proxied["url"], data=ENVELOPE.encode(), cert=cert, verify=proxied["ca"], auth=auth,
                         headers={"Content-Type": "text/xml; charset=utf-8", **(headers or {})}, timeout=30)


def test_a_known_certificate_is_a_caller_without_a_password(proxied: dict[str, Any]) -> None:
    response = _post(proxied, proxied["erp01"])
    assert response.status_code == 200 and "Иванов Иван Иванович" in response.content.decode("utf-8")


def test_an_unknown_certificate_cannot_claim_another_subject(proxied: dict[str, Any]) -> None:
    response = _post(proxied, proxied["intruder"], headers={"X-Client-Cert-DN": "CN=erp01"})
    assert response.status_code == 401 and faultcode(response).endswith("Client.AuthenticationRequired")


def test_no_certificate_never_reaches_the_gateway(proxied: dict[str, Any]) -> None:
    response = _post(proxied, None, headers={"X-Client-Cert-DN": "CN=erp01"})
    assert response.status_code == 400  # nginx: "No required SSL certificate was sent"
