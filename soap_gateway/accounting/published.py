"""The field names the accounting operations publish (docs/accounting.md): ours, not the billing's.

A statement line and a result are named like the payment they become, so
they read like a single call, but these names are the gateway's contract
with 1C and the CSV files: they stay the same whatever a site's catalogue
calls the billing's arguments, which are found by role (catalogue/roles.py).
"""

from __future__ import annotations

KEY = "IDEMPOTENCY_KEY"
USER_ID = "USER_ID"
CONTRACT = "CONTRACT_NUMBER"
OP_DATE = "OP_DATE"
SUMMA = "SUMMA"
DESCR = "DESCR"
NUMBER = "NUMBER"
BILLING_ID = "ID"

# a statement line (GatewayPostPayments, the CSV of post-payments), and a line's result
INPUT_COLUMNS = (KEY, USER_ID, CONTRACT, OP_DATE, SUMMA, DESCR, NUMBER)
RESULT_COLUMNS = ("LINE", KEY, "STATUS", USER_ID, BILLING_ID, "CODE", "MESSAGE", "BATCH_ID")
# GatewayReconcile's payments and days, in order: the SOAP types, the CLI's CSV and JSON share them
PAYMENT_COLUMNS = ("KIND", KEY, "JOURNAL_STATE", USER_ID, OP_DATE, "JOURNAL_SUMMA", "BILLING_SUMMA", "JOURNAL_ID",
                   "BILLING_ID", "BILLING_USER_ID", DESCR, "NOTE")
DAY_COLUMNS = ("DAY", "JOURNAL_COUNT", "JOURNAL_SUMMA", "BILLING_COUNT", "BILLING_SUMMA", "OTHER_SUMMA")
