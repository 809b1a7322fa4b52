"""Settings: the dataclasses (``settings``), reading the file and the environment (``loading``), and
the checks (``checks``); what callers import is here."""

from .checks import check_runtime
from .loading import ENVIRONMENT, REMOVED
from .settings import (DEFAULT_ERROR_PATTERNS, DEFAULT_SESSION_EXPIRED_PATTERNS, AccountingSettings, BillingSettings,
                       JournalSettings, ServerSettings, Settings, default_journal_path, write_budget)

__all__ = ["ENVIRONMENT", "REMOVED", "DEFAULT_ERROR_PATTERNS", "DEFAULT_SESSION_EXPIRED_PATTERNS", "AccountingSettings",
           "BillingSettings", "JournalSettings", "ServerSettings", "Settings", "check_runtime", "default_journal_path",
           "write_budget"]
