"""The pages of the unlocked workspace: one factory per section key, given the open profile.

A section with no factory here keeps its empty state. Each factory returns a new page widget.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QWidget

from desktop.store.profile import Profile
from desktop.ui.directory import DirectoryPage

#: ``(profile, parent) -> page``. At lock the workspace calls the page's ``tear_down()`` if it
#: has one (stop jobs, drop rows), then deletes it: a page must keep nothing anywhere else.
PageFactory = Callable[[Profile, QWidget], QWidget]


def _incidents(profile: Profile, parent: QWidget) -> QWidget:
    from desktop.ui.incidents.page import IncidentsPage  # loaded at unlock, not at start

    return IncidentsPage(profile, parent)


def _sync(profile: Profile, parent: QWidget) -> QWidget:
    from desktop.ui.sync.page import SyncPage

    return SyncPage(profile, parent)


def _alerts(profile: Profile, parent: QWidget) -> QWidget:
    from desktop.ui.alerts.page import AlertsPage

    return AlertsPage(profile, parent)


def _working_groups(profile: Profile, parent: QWidget) -> QWidget:
    from desktop.ui.workgroups.page import WorkingGroupsPage

    return WorkingGroupsPage(profile, parent)


SECTION_PAGES: dict[str, PageFactory] = {
    "incidents": _incidents,
}
SECTION_PAGES["directory"] = DirectoryPage
SECTION_PAGES["sync"] = _sync
SECTION_PAGES["alerts"] = _alerts
SECTION_PAGES["working_groups"] = _working_groups
