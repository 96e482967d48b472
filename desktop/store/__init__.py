"""The encrypted profile: keys, SQLCipher engine, schema, migrations and repositories (no Qt)."""
