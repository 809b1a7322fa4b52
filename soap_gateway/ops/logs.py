"""Log output: plain text by default, JSON with ``server.log_format = "json"``; the correlation id.

The WSGI layer puts the request's correlation id into a context variable; the
formatters read it, so the billing client's lines carry it without the client
knowing anything about SOAP.  Every line is one event; fields passed with
``extra=`` become JSON keys (the text form already says them in the message).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from contextvars import ContextVar
from typing import IO, Iterator

from pythonjsonlogger.json import JsonFormatter

correlation_id: ContextVar[str] = ContextVar("soap_gateway_correlation_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(correlation_id)s %(message)s"
_RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}
_HANDLER_MARK = "soap_gateway_handler"


class CorrelationFilter(logging.Filter):
    """Stamps the current request's correlation id on every record the handler sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        return True


def make_formatter(log_format: str) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(JSON_FIELDS, rename_fields=_RENAMED, json_ensure_ascii=False)
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(log_format: str = "text", level: int = logging.INFO,
                      stream: IO[str] | None = None) -> logging.Handler:
    """Install (or replace) the gateway's handler on the root logger; returns it."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(CorrelationFilter())
    handler.setFormatter(make_formatter(log_format))
    root.addHandler(handler)
    root.setLevel(level)
    return handler


@contextlib.contextmanager
def correlation(value: str) -> Iterator[None]:
    """Run a block with ``value`` as the correlation id of every line it logs."""
    token = correlation_id.set(value)
    try:
        yield
    finally:
        correlation_id.reset(token)
