"""The gateway's accounting workflows: a bank statement posted in one call, reconciliation of a period."""
