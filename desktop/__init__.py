"""Minga desktop app: the encrypted local store, the domain model and the Qt interface."""
