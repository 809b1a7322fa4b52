"""The requests each consumer of the matrix really sends, recorded for tests/test_fast_path.py to replay.

``INTEROP_RECORD=1`` while the matrix runs puts a ``Recorder`` in front of the
gateway: every POST a consumer's driver makes is written, byte for byte, to
tests/interop/recorded/<consumer>/<n>-<operation>.xml, and the headers a SOAP
server reads (Content-Type, SOAPAction) to that directory's requests.json.
Credentials (the Authorization header) are not recorded; a request sent without
them (refused with 401 before SOAP) is not recorded at all.  Regenerate with:

    INTEROP_RECORD=1 .venv/bin/python -m pytest -p no:cacheprovider -q tests/interop/test_consumers.py -k fast
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from lxml import etree

RECORDED = Path(__file__).parent / "recorded"
INDEX = "requests.json"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"


@dataclass(frozen=True)
class Recorded:
    """One request a consumer sent: its body and the headers that matter."""

    consumer: str
    file: Path
    operation: str
    content_type: str
    soap_action: str | None

    @property
    def body(self) -> bytes:
        return self.file.read_bytes()


class Recorder:
    """WSGI middleware writing each POSTed body of the consumer now running (``consumer``) to ``root``."""

    def __init__(self, app: Callable[..., Iterable[bytes]], root: Path = RECORDED) -> None:
        self.app, self.root = app, root
        self.consumer: str | None = None
        self._index: list[dict[str, Any]] = []

    def start(self, consumer: str) -> None:
        shutil.rmtree(self.root / consumer, ignore_errors=True)
        (self.root / consumer).mkdir(parents=True)
        self.consumer, self._index = consumer, []

    def stop(self) -> None:
        if self.consumer is not None:
            text = json.dumps(self._index, indent=1, ensure_ascii=False) + "\n"
            (self.root / self.consumer / INDEX).write_text(text, encoding="utf-8")
        self.consumer = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # A request without credentials is refused with 401 before SOAP (suds and WCF send each call
        # that way first): only what the gateway serves is recorded.
        if self.consumer is not None and environ.get("REQUEST_METHOD") == "POST" and "HTTP_AUTHORIZATION" in environ:
            length = environ.get("CONTENT_LENGTH")
            body = environ["wsgi.input"].read(int(length)) if length else environ["wsgi.input"].read()
            environ["wsgi.input"] = io.BytesIO(body)
            self._write(body, environ)
        return self.app(environ, start_response)

    def _write(self, body: bytes, environ: dict[str, Any]) -> None:
        assert self.consumer is not None
        operation = _operation(body)
        name = f"{len(self._index) + 1:02d}-{operation}.xml"
        (self.root / self.consumer / name).write_bytes(body)
        self._index.append({"file": name, "operation": operation, "content_type": environ.get("CONTENT_TYPE", ""),
                            "soap_action": environ.get("HTTP_SOAPACTION")})


def _operation(body: bytes) -> str:
    body_element = etree.fromstring(body).find(f"{{{ENV}}}Body")
    first = next(iter(body_element), None) if body_element is not None else None
    return etree.QName(first).localname if first is not None else "none"


def recorded() -> list[Recorded]:
    """Every recorded request, consumer by consumer, in the order it was sent."""
    found = []
    for index in sorted(RECORDED.glob(f"*/{INDEX}")):
        for entry in json.loads(index.read_text(encoding="utf-8")):
            found.append(Recorded(index.parent.name, index.parent / entry["file"], entry["operation"],
                                  entry["content_type"], entry["soap_action"]))
    return found
