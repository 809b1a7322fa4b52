"""The SOAP face: the only package that imports spyne."""

from .app import build_wsdl, create_app

__all__ = ["build_wsdl", "create_app"]
