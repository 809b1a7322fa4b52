"""The billing side: TLS, transport, codec, SUID session and the client; no SOAP here."""

from .client import BillingClient, Credentials
from .codec import Row
from .prepared import PreparedCall
from .stream import RowStream

__all__ = ["BillingClient", "Credentials", "PreparedCall", "Row", "RowStream"]
