"""``python -m soap_gateway``: the same as the ``soap-gateway`` command."""

import sys

from .cli import main

sys.exit(main())
