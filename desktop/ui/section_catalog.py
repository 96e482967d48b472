"""The five sections of the workspace: their keys, names and what each says while empty.

Below every page: a page reads its own words here, and the workspace its navigation, so no page
imports the workspace that shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from desktop.domain.translation import N_


@dataclass(frozen=True)
class Section:
    key: str
    label: str  # marked with N_, translated when shown
    empty_title: str
    empty_text: str


SECTIONS: tuple[Section, ...] = (
    Section(
        "directory",
        N_("Directory"),
        N_("The network's directory"),
        N_(
            "Member organizations and defenders of the network will be listed here, with the "
            "safest ways to reach them. Nothing has arrived on this computer yet: the "
            "directory fills in at your first sync."
        ),
    ),
    Section(
        "incidents",
        N_("Incidents"),
        N_("Incidents you document"),
        N_(
            "The incidents you and your organization record will appear here: what happened, "
            "where, when and to whom. You can record them without a connection; they stay "
            "encrypted on this computer until you choose to share them."
        ),
    ),
    Section(
        "working_groups",
        N_("Working groups"),
        N_("Your working groups"),
        N_(
            "The materials of the working groups you belong to will appear here. Those you "
            "pin stay readable offline, wherever you travel."
        ),
    ),
    Section(
        "alerts",
        N_("Alerts"),
        N_("Solidarity alerts"),
        N_(
            "Alerts the network answers together will appear here: the case, the collective "
            "letter and who has signed it."
        ),
    ),
    Section(
        "sync",
        N_("Sync"),
        N_("Sync with the network"),
        N_(
            "Here you will see when this computer last exchanged encrypted changes with the "
            "network's server, and what is waiting to be sent. Minga works fully offline; "
            "it syncs whenever a connection appears."
        ),
    ),
)


def section(key: str) -> Section:
    """The section called ``key``."""
    return next(s for s in SECTIONS if s.key == key)
