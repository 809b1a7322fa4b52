"""The billing side: TLS, transport, codec, SUID session and the client; no SOAP here."""

from .client import BillingClient, Credentials
from .codec import Row

__all__ = ["BillingClient", "Credentials", "Row"]
