"""Who may call what: caller authentication settings, password hashes, roles and secret redaction."""
