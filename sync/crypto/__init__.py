"""Keys, key hierarchy, record envelopes and attachment streams."""
