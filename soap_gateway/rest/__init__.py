"""The REST facade: JSON over HTTP under /api/v1/, described by OpenAPI 3.1 at /api/openapi.json."""

from .facade import RestFacade
from .openapi import openapi_document

__all__ = ["RestFacade", "openapi_document"]
