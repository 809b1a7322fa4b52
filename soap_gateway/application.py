"""The gateway's WSGI application: the shared web layer with its facades and the operator's endpoints.

The one module that knows every facade; each facade knows only the web layer
and the gateway core (tests/test_architecture.py).
"""

from __future__ import annotations

from .config import Settings
from .core import Gateway
from .operations import offered
from .ops.helppage import HelpPage
from .rest import RestFacade
from .soap import SoapFacade
from .web import WebApp, endpoints


def create_app(settings: Settings, gateway: Gateway | None = None) -> WebApp:
    """The gateway's WSGI app; tests pass a Gateway whose client points at the emulator."""
    gateway = gateway or Gateway.from_settings(settings)
    soap = SoapFacade(settings, gateway)
    catalogue = offered(gateway.catalogue)  # with the gateway's own operations
    app = WebApp(settings, gateway, [soap, RestFacade(settings, gateway)], catalogue)
    endpoints.install(app, HelpPage(catalogue, soap.wsdl, settings.server.wsdl_address))
    return app
