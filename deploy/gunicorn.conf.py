"""gunicorn settings for soap-gateway.

    gunicorn -c deploy/gunicorn.conf.py soap_gateway.wsgi:application

Sizes come from the gateway's own configuration (SOAP_GATEWAY_CONFIG and the
SOAP_GATEWAY_* variables), so the TOML file stays the one place to tune them;
options given on gunicorn's command line still win over this file.  Every
option, and why it has its value, is in soap_gateway/bootstrap.py, which
``soap-gateway serve`` uses too.
"""

import os
import sys

from soap_gateway.bootstrap import gunicorn_options, load_settings
from soap_gateway.errors import ConfigurationError
from soap_gateway.ops import multiproc

# Metrics: PROMETHEUS_MULTIPROC_DIR is set before anything imports prometheus_client
# (which picks its multiprocess mode on first import); the workers forked from this
# master inherit the variable and each write their samples there.
multiproc.ensure_dir()

try:
    # refuse to start in plain words, not with a traceback per worker
    globals().update(gunicorn_options(load_settings(os.environ.get("SOAP_GATEWAY_CONFIG"))))
except ConfigurationError as exc:
    sys.exit(f"soap-gateway: configuration error: {exc}")
