"""soap-gateway: a typed SOAP 1.1 service in front of a Carbon-Billing style HTTPS API."""

__version__ = "0.1.0"
