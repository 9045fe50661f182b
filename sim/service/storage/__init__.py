"""The service's storage: the store protocol, SQLite and PostgreSQL, group commit,
the record cache and migrations."""
