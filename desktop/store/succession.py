"""A profile restored from a backup continues as a new device, never as a copy of the old one.

The old device's private keys are in the backup. Were the restored profile to sync with them,
two computers (the old one may be stolen, seized, or simply still running) would sign as one
device and reuse its mutation ids, and whoever holds the old laptop would keep reading the
network. So a restore, before the profile is renamed into place:

- takes the device identity out (``sync_device``: the private keys are deleted, only the old
  device's id, fingerprint and server address are kept, as public facts to show the person);
- drops the sealed outbox: those entries are signed by the old device. Their records are still
  marked dirty (a record stays dirty until the server accepted it), so nothing is lost: the new
  device seals them again under its own key and sends them once. If the old device had sent an
  edit after the backup was taken, the new device's copy arrives as a conflict whose "current"
  is the same content: the merge settles it clean, with no duplicate and no second version;
- drops the key wraps (sealed to the old device's key; the new device cannot open them) and
  keeps statements, pins, cursors, bases and conflicts, so sync resumes where the backup left it.

The person then enrolls this computer with a new invitation (it is a new device, with a new
fingerprint), an admin admits it and removes the old device. Admitting before removing keeps
the epoch the backup's records were sealed at readable by the new device; the removal starts
a new epoch the old device cannot read. See sync/ENGINE.md "Restored from a backup".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, select

from desktop.store.schema import SettingRow, SyncDeviceRow, SyncOutboxRow, SyncWrapRow
from sync.crypto.keys import DeviceKeys

#: A settings row outside the declared schema (it is never shown in Settings).
PREDECESSOR_KEY = "restored_predecessor"


@dataclass(frozen=True)
class Predecessor:
    """The device a restored profile was a backup of: public facts only."""

    device_id: str
    fingerprint: str
    server_url: str
    restored_at: str


def retire_restored_identity(engine: Engine) -> Predecessor | None:
    """Make the restored profile behind ``engine`` a device that must be enrolled anew."""
    with engine.begin() as connection:
        row = connection.execute(select(SyncDeviceRow)).first()
        if row is None:
            return None
        keys = DeviceKeys.from_bytes(row.device_keys)
        predecessor = Predecessor(
            device_id=keys.device_id,
            fingerprint=str(keys.public.fingerprint),
            server_url=row.server_url,
            restored_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        connection.execute(delete(SyncDeviceRow))
        connection.execute(delete(SyncOutboxRow))
        connection.execute(delete(SyncWrapRow))
        connection.execute(delete(SettingRow).where(SettingRow.key == PREDECESSOR_KEY))
        connection.execute(
            insert(SettingRow).values(
                key=PREDECESSOR_KEY,
                value=json.dumps(predecessor.__dict__),
                updated_at=datetime.now(UTC).replace(tzinfo=None),
            )
        )
    # SQLite's secure_delete (on for every profile connection) overwrites the freed pages.
    return predecessor


def predecessor(engine: Engine) -> Predecessor | None:
    """The old device this profile was restored from, until the person dismissed it."""
    with engine.connect() as connection:
        raw = connection.scalar(select(SettingRow.value).where(SettingRow.key == PREDECESSOR_KEY))
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return Predecessor(
            str(data["device_id"]),
            str(data["fingerprint"]),
            str(data["server_url"]),
            str(data["restored_at"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def forget_predecessor(engine: Engine) -> None:
    """The old device was removed from the network: stop reminding the person of it."""
    with engine.begin() as connection:
        connection.execute(delete(SettingRow).where(SettingRow.key == PREDECESSOR_KEY))
