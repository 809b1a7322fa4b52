"""The gunicorn entry point: ``gunicorn soap_gateway.wsgi:application``.

Reads the file named by SOAP_GATEWAY_CONFIG (if any) and the SOAP_GATEWAY_*
variables, refuses to start on settings it cannot serve with, and logs in the
configured format (``bootstrap``, as ``soap-gateway serve`` does).
"""

import os

from .bootstrap import create_worker_app, load_settings

application = create_worker_app(load_settings(os.environ.get("SOAP_GATEWAY_CONFIG")))
