"""The raw lxml floor: parse the request envelope with lxml, answer the gateway's own reply, prebuilt.

What a SOAP server in Python cannot go below for CLN_USR_GET: the body is read and parsed (no
validation, no billing call), and the bytes the gateway itself answered for the same request
(``BENCH_LXML_REPLY`` names them, recorded at the start of the run) are sent back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable

from lxml import etree

REPLY = Path(os.environ["BENCH_LXML_REPLY"]).read_bytes() if os.environ.get("BENCH_LXML_REPLY") else b""
HEADERS = [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(REPLY)))]


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("REQUEST_METHOD") == "POST":
        etree.fromstring(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
    start_response("200 OK", HEADERS)
    return [REPLY]
