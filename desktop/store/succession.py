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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from desktop.store.schema import (
    SettingRow,
    SyncDeviceRow,
    SyncLostSpaceRow,
    SyncOutboxRow,
    SyncSentBatchRow,
    SyncStatementRow,
    SyncWrapRow,
)
from desktop.store.sync_state import ProfileSyncState
from sync.client.engine import PendingMember, SyncEngine
from sync.client.state import FirstUse, LocalInvite, StoredWrap
from sync.client.transport import Transport
from sync.crypto.keys import DeviceKeys, KeyPins
from sync.crypto.spaces import MembershipStatement
from sync.protocol import Role

#: A settings row outside the declared schema (it is never shown in Settings).
PREDECESSOR_KEY = "restored_predecessor"


@dataclass(frozen=True)
class Predecessor:
    """The device a restored profile was a backup of: public facts only."""

    device_id: str
    fingerprint: str
    server_url: str
    restored_at: str
    #: Spaces the old device administered: it can hand them over itself (``hand_over``).
    administered: tuple[str, ...] = ()


def retire_restored_identity(engine: Engine) -> Predecessor | None:
    """Make the restored profile behind ``engine`` a device that must be enrolled anew."""
    with engine.begin() as connection:
        row = connection.execute(select(SyncDeviceRow)).first()
        if row is None:
            return None
        keys = DeviceKeys.from_bytes(row.device_keys)
        administered = _administered(connection, keys.device_id)
        predecessor = Predecessor(
            device_id=keys.device_id,
            fingerprint=str(keys.public.fingerprint),
            server_url=row.server_url,
            restored_at=datetime.now(UTC).isoformat(timespec="seconds"),
            administered=tuple(administered),
        )
        held: dict[str, Any] = {}
        if administered:
            # Only an admin's keys are kept, and only to hand its spaces over once
            # (``hand_over``); a member's are useless here and are deleted at once.
            wraps = connection.execute(select(SyncWrapRow)).all()
            held = {
                "keys": row.device_keys.hex(),
                "wraps": [[w.space_id, w.epoch, w.issuer, bytes(w.wrap).hex()] for w in wraps],
            }
        connection.execute(delete(SyncDeviceRow))
        connection.execute(delete(SyncOutboxRow))
        connection.execute(delete(SyncSentBatchRow))  # signed by the old device too
        # Spaces the old device was removed from: the new one is judged by its own answers.
        connection.execute(delete(SyncLostSpaceRow))
        connection.execute(delete(SyncWrapRow))
        connection.execute(delete(SettingRow).where(SettingRow.key == PREDECESSOR_KEY))
        connection.execute(
            insert(SettingRow).values(
                key=PREDECESSOR_KEY,
                value=json.dumps({**predecessor.__dict__, **held}),
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
            tuple(str(space) for space in data.get("administered", ())),
        )
    except (ValueError, KeyError, TypeError):
        return None


def forget_predecessor(engine: Engine) -> None:
    """The old device was removed from the network: stop reminding the person of it."""
    with engine.begin() as connection:
        connection.execute(delete(SettingRow).where(SettingRow.key == PREDECESSOR_KEY))


def _administered(connection: Connection, device: str) -> list[str]:
    """Spaces whose newest stored (verified) statement lists ``device`` as an admin."""
    found = []
    spaces = connection.scalars(select(SyncStatementRow.space_id).distinct()).all()
    for space in spaces:
        blob = connection.scalar(
            select(SyncStatementRow.blob)
            .where(SyncStatementRow.space_id == space)
            .order_by(SyncStatementRow.version.desc())
            .limit(1)
        )
        member = MembershipStatement.from_bytes(blob).member(device) if blob else None
        if member is not None and member.role is Role.ADMIN:
            found.append(space)
    return sorted(found)


class _PredecessorState:
    """The sync state seen as the old device, for the hand-over only: its keys and wraps from
    the backup, the statements and pins of the profile. It has no outbox and no records, so
    nothing can ever be sealed or sent under the old device's name."""

    def __init__(self, state: ProfileSyncState, keys: DeviceKeys, wraps: list[StoredWrap]) -> None:
        self._state = state
        self._keys = keys
        self._wraps = wraps

    def server_url(self) -> str | None:
        return self._state.server_url()

    def device_keys(self) -> DeviceKeys | None:
        return self._keys

    def pins(self) -> KeyPins:
        return self._state.pins()

    def save_pins(self, pins: KeyPins) -> None:
        self._state.save_pins(pins)

    def spaces(self) -> list[str]:
        return self._state.spaces()

    def statements(self, space: str) -> list[bytes]:
        return self._state.statements(space)

    def add_statements(self, space: str, blobs: Sequence[bytes]) -> None:
        self._state.add_statements(space, blobs)

    def wraps(self) -> list[StoredWrap]:
        return list(self._wraps)

    def add_wrap(self, wrap: StoredWrap) -> None:
        self._wraps.append(wrap)

    # Invites and their commitments (issue 13): the hand-over admits the new device with the
    # old device's role itself, and the old device joins nothing.
    def add_invite(self, invite: LocalInvite) -> None:
        pass

    def invites(self, space: str) -> list[LocalInvite]:
        return []

    def drop_invite(self, code: str) -> None:
        pass

    def anchors(self) -> dict[bytes, str | None]:
        return {}

    def settle_anchor(self, anchor: bytes, space: str) -> None:
        pass

    def spaces_to_confirm(self) -> list[FirstUse]:
        return self._state.spaces_to_confirm()

    def mark_forked(self, space: str) -> None:
        self._state.mark_forked(space)  # a fork seen through the old device is still a fork

    def forked_spaces(self) -> set[str]:
        return self._state.forked_spaces()

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"the old device's hand-over does not {name}")


@dataclass(frozen=True)
class HandOver:
    """What ``hand_over`` did: spaces now administered by this device, and the old device
    removed from them."""

    spaces: tuple[str, ...]
    new_device: str


def hand_over(engine: Engine, transport: Transport, new: SyncEngine) -> HandOver:
    """The restored profile of an admin takes its spaces over from the old device, itself.

    With the old device's keys (from the backup, kept for this only): invite this computer's
    new device into one administered space, enroll it (``new`` gets its keys), add it on the
    server to the others, admit it in each with the old device's role (a statement signed by
    the old device, the current key wrapped to the new one); then, as the new device, remove
    the old one from each (a new epoch it cannot read). The old keys are deleted at the end.
    Every step is one the admin screens take; a failure halfway can be retried.
    """
    with engine.connect() as connection:
        raw = connection.scalar(select(SettingRow.value).where(SettingRow.key == PREDECESSOR_KEY))
    data = json.loads(raw) if raw else {}
    if "keys" not in data:
        return HandOver((), "")
    old_keys = DeviceKeys.from_bytes(bytes.fromhex(data["keys"]))
    wraps = [StoredWrap(s, int(e), i, bytes.fromhex(w)) for s, e, i, w in data["wraps"]]
    state = ProfileSyncState(engine)
    old = SyncEngine(_PredecessorState(state, old_keys, wraps), transport)
    spaces = [str(space) for space in data.get("administered", ())]
    if state.device_keys() is None:
        new.enroll(old.invite(spaces[0], Role.ADMIN))
    new_keys = state.device_keys()
    assert new_keys is not None
    for space in spaces:
        old._admin_view(space)  # this space's newest statements and the old device's wraps
        keyring, _pins = old._keyring()
        if keyring.logs[space].latest.member(new_keys.device_id) is None:
            old._authorized(partial(transport.put_member, space, new_keys.device_id, Role.ADMIN))
            old.admit(
                space,
                [PendingMember(space, new_keys.device_id, Role.ADMIN, new_keys.public)],
            )
    new.sync_once(discover=True)
    for space in spaces:
        new.remove_member(space, old_keys.device_id)
    with engine.begin() as connection:
        kept = {k: v for k, v in data.items() if k not in ("keys", "wraps")}
        kept["administered"] = []
        connection.execute(
            SettingRow.__table__.update()  # type: ignore[attr-defined]
            .where(SettingRow.key == PREDECESSOR_KEY)
            .values(value=json.dumps(kept))
        )
    return HandOver(tuple(spaces), new_keys.device_id)
