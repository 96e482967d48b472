"""The sync engine: outbox, pull/push, merge, conflicts and transfers (no Qt)."""
