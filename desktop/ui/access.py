"""Why a record cannot be changed on this computer: the person's role in its space.

Editors (incidents, directory) ask ``space_access`` on a worker and show this instead of letting a
reader save edits the server would refuse (``role_forbidden``), which would stay unsent forever.
"""

from __future__ import annotations

from desktop.domain.translation import _
from desktop.store.sync_state import SpaceAccess


def read_only_reason(access: SpaceAccess) -> str | None:
    """The sentence an editor shows when saving is off, or None when this device may write."""
    if access is SpaceAccess.READ:
        return _(
            "You are a reader in this space: you can read this record but not change it. "
            "An administrator of the space can make you an editor."
        )
    if access is SpaceAccess.REMOVED:
        return _(
            "You are no longer a member of this space: changes to this record would never "
            "reach anyone, so it cannot be changed here."
        )
    return None


def held_note(access: SpaceAccess) -> str | None:
    """The sentence an editor shows where saving works but nothing is sent yet, or None."""
    if access is SpaceAccess.HELD:
        return _(
            "Kept on this computer until you confirm the network: compare the administrator's "
            "fingerprint on the Sync page. Nothing you write here is sent before that."
        )
    return None
