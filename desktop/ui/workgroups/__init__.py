"""The Working groups section: members, materials read from memory, and notes."""
