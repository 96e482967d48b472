"""Record types, validation, vocabularies, settings schema and translation runtime (no Qt)."""
