"""Running the gateway in production: logs, metrics, health and readiness, the help page.

Nothing here imports spyne; the SOAP layer calls in, the billing client only logs and counts.
"""
