"""The network's directory: organizations, people and working groups, and how they are linked.

``DirectoryPage`` is the section's page; lists are lazy models, all store work runs on workers.
"""

from __future__ import annotations

from desktop.ui.directory.page import DirectoryPage

__all__ = ["DirectoryPage"]
