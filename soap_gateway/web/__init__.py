"""The HTTP layer both facades stand on: routing, guards, the call context, the request log.

It knows HTTP and the gateway's errors, never a wire format: the SOAP facade
(``soap_gateway.soap``) and the REST facade (``soap_gateway.rest``) plug in as
``Facade`` objects and render the errors the guards raise in their own way.
Neither facade imports the other, and nothing here imports either
(tests/test_architecture.py).
"""

from .app import Facade, Response, WebApp
from .context import CallContext

__all__ = ["CallContext", "Facade", "Response", "WebApp"]
