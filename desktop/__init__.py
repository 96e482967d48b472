"""Minga desktop app: the encrypted local store, the domain model and the Qt interface."""

#: The release, shown in About and in reports; a test keeps it equal to pyproject.toml's.
__version__ = "0.1.0"
