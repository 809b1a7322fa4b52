"""The gunicorn entry point: ``gunicorn soap_gateway.wsgi:application``.

Reads the file named by SOAP_GATEWAY_CONFIG (if any) and the SOAP_GATEWAY_*
variables.
"""

import os

from .config import Settings
from .security.settings import require_auth_decision
from .soap import create_app

settings = Settings.load(os.environ.get("SOAP_GATEWAY_CONFIG") or None)
require_auth_decision(settings.auth)
application = create_app(settings)
