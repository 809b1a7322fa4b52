"""The SOAP facade: the only package that imports spyne."""

from .app import SoapFacade, build_wsdl

__all__ = ["SoapFacade", "build_wsdl"]
