"""The gunicorn entry point: ``gunicorn soap_gateway.wsgi:application``.

Reads the file named by SOAP_GATEWAY_CONFIG (if any) and the SOAP_GATEWAY_*
variables, refuses to start on settings it cannot serve with, and logs in the
configured format.
"""

import logging
import os

from .config import Settings, check_runtime
from .ops.logs import configure_logging
from .security.settings import require_auth_decision
from .application import create_app

settings = Settings.load(os.environ.get("SOAP_GATEWAY_CONFIG") or None)
require_auth_decision(settings.auth)
check_runtime(settings)
configure_logging(settings.server.log_format)
application = create_app(settings)
logging.getLogger("soap_gateway").info("worker %d ready, WSDL at %s?wsdl", os.getpid(), settings.server.wsdl_address)
