"""The gunicorn entry point: ``gunicorn soap_gateway.wsgi:application``.

Reads the file named by SOAP_GATEWAY_CONFIG (if any) and the SOAP_GATEWAY_*
variables.
"""

import os

from .config import Settings
from .soap import create_app

application = create_app(Settings.load(os.environ.get("SOAP_GATEWAY_CONFIG") or None))
