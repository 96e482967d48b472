"""Travel mode: leave spaces behind before a border, and come back to them with a return key.

Leaving: refused while anything of those spaces has not reached the server. Otherwise the
device's means to read them again (their membership statements, key wraps, first-use trust,
material pins and names) are sealed under a fresh **return key**, shown once and carried apart
from the laptop, into ``travel.sealed``; the server is asked to answer this device as an
outsider in those spaces until it presents a token only the return key derives; then every
record, draft, search entry, sealed file, file key, pin and sync row of theirs is deleted here
(``secure_delete`` zeroes freed pages, the FTS5 index forgets words for good, and the WAL is
checkpointed and truncated at once). With the passphrase, and the recovery key too, a searcher
finds none of them and cannot ask the server for them: their statements and wraps are gone, and
the server lists and serves them to this device no more.

Returning: the return key opens ``travel.sealed`` (a wrong one changes nothing), the server
lifts its marks, the statements, wraps, trust and pins are put back, and the next sync pulls
every record from the start and fetches every file, pinned materials included, resumably.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, delete, select, text

from desktop.domain.translation import N_, _
from desktop.store import keys
from desktop.store.errors import MistypedRecoveryKey, ProfileError
from desktop.store.files import fsync_folder, write_atomically
from desktop.store.profile import Profile
from desktop.store.quick_delete import overwrite_and_remove
from desktop.store.schema import (
    AttachmentKeyRow,
    EditorDraftRow,
    MaterialPinRow,
    MaterialTextRow,
    RecordRow,
    StoreBase,
    SyncCourierGrantRow,
    SyncOutboxRow,
    SyncSpaceTrustRow,
    SyncStatementRow,
    SyncWrapRow,
)
from desktop.store.search import remove_record

RETURN_FILE = "travel.sealed"
_FORMAT = "minga-travel"
_VERSION = 1
_SEAL_INFO = b"minga/v1/travel-seal"
_TOKEN_INFO = b"minga/v1/travel-server-token"
#: The sealed file is padded to a multiple of this, so its size hardly tells how much was left.
_PAD = 16 * 1024
#: Suffix of a material file's extracted text in the search index (desktop.store.materials).
_TEXT_SUFFIX = ":text"


class TravelError(ProfileError):
    """Travel mode refused; ``code`` says why and nothing was changed."""

    code = "travel_error"
    message = N_("Travel mode could not be changed. Nothing was changed.")


class WrongReturnKey(TravelError):
    code = "wrong_return_key"
    message = N_(
        "That return key does not open what this computer left behind. Check each group "
        "against your copy. Nothing was changed."
    )


class AlreadyTravelling(TravelError):
    code = "already_travelling"
    message = N_(
        "Spaces are already left behind on this computer. Return from travel first, then "
        "leave again."
    )


class NotTravelling(TravelError):
    code = "not_travelling"
    message = N_("Nothing was left behind on this computer: there is nothing to return to.")


@dataclass(frozen=True)
class Unsent:
    """Something of a space to leave that has not reached the server (a reason to refuse)."""

    space_id: str
    kind: str  # record | draft | carried
    record_type: str
    label: str


class UnsentChanges(TravelError):
    code = "unsent_changes"
    message = N_(
        "Some changes in these spaces have not reached the server yet. Send them first "
        "(sync), or they would be lost."
    )

    def __init__(self, unsent: list[Unsent]) -> None:
        super().__init__(f"{len(unsent)} unsent")
        self.unsent = unsent


class TravelServer(Protocol):
    """What travel mode asks of the sync engine (``sync.client.engine.SyncEngine``)."""

    def leave_spaces(self, spaces: list[str], verifier: bytes) -> None: ...

    def return_to_spaces(self, return_token: bytes) -> list[str]: ...


def travelling(folder: Path) -> bool:
    """Whether spaces are left behind on the profile in ``folder``."""
    return (folder / RETURN_FILE).is_file()


def _derive(secret: bytes, profile_id: str, info: bytes) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=profile_id.encode("ascii"), info=info
    ).derive(secret)


def _server_token(secret: bytes, profile_id: str) -> bytes:
    return _derive(secret, profile_id, _TOKEN_INFO)


# --- what is unsent ----------------------------------------------------------------------------


def unsent_in(profile: Profile, spaces: list[str]) -> list[Unsent]:
    """Saved changes, editors' drafts and carried mutations of ``spaces`` not on the server."""
    if not spaces:
        return []
    found: list[Unsent] = []
    with profile.engine.connect() as connection:
        rows = connection.execute(
            select(RecordRow.space_id, RecordRow.record_type, RecordRow.label).where(
                RecordRow.space_id.in_(spaces), RecordRow.dirty.is_(True)
            )
        ).all()
        found += [Unsent(r.space_id, "record", r.record_type, r.label) for r in rows]
        outbox = connection.execute(
            select(SyncOutboxRow.space_id, SyncOutboxRow.record_id).where(
                SyncOutboxRow.space_id.in_(spaces)
            )
        ).all()
        dirty_ids = set(
            connection.scalars(
                select(RecordRow.id).where(RecordRow.space_id.in_(spaces), RecordRow.dirty)
            )
        )
        found += [
            Unsent(r.space_id, "record", "", "") for r in outbox if r.record_id not in dirty_ids
        ]
        drafts = connection.execute(
            select(EditorDraftRow.space_id, EditorDraftRow.editor, EditorDraftRow.label).where(
                EditorDraftRow.space_id.in_(spaces)
            )
        ).all()
        found += [Unsent(r.space_id, "draft", r.editor, r.label) for r in drafts]
        carried = connection.execute(
            text(
                "SELECT space_id FROM sync_carried WHERE relayed = 0 AND space_id IN "
                f"({', '.join(f':s{n}' for n in range(len(spaces)))})"
            ),
            {f"s{n}": space for n, space in enumerate(spaces)},
        ).all()
        found += [Unsent(r.space_id, "carried", "", "") for r in carried]
    return found


# --- leaving -----------------------------------------------------------------------------------


def _space_names(connection: Connection, spaces: list[str]) -> dict[str, str]:
    rows = connection.execute(
        select(RecordRow.id, RecordRow.label).where(
            RecordRow.record_type == "space", RecordRow.id.in_(spaces)
        )
    ).all()
    return {r.id: r.label for r in rows}


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _collect(connection: Connection, spaces: list[str]) -> dict[str, Any]:
    """Everything needed to read ``spaces`` again, as JSON (no record content: sync brings it)."""
    record_ids = list(
        connection.scalars(select(RecordRow.id).where(RecordRow.space_id.in_(spaces)))
    )
    return {
        "format": _FORMAT,
        "version": _VERSION,
        "spaces": sorted(spaces),
        "names": _space_names(connection, spaces),
        "statements": [
            [r.space_id, r.version, _b64(r.blob)]
            for r in connection.execute(
                select(SyncStatementRow).where(SyncStatementRow.space_id.in_(spaces))
            )
        ],
        "wraps": [
            [r.space_id, r.epoch, r.issuer, _b64(r.wrap)]
            for r in connection.execute(select(SyncWrapRow).where(SyncWrapRow.space_id.in_(spaces)))
        ],
        "trust": [
            [r.space_id, r.admin_device, r.fingerprint, r.state]
            for r in connection.execute(
                select(SyncSpaceTrustRow).where(SyncSpaceTrustRow.space_id.in_(spaces))
            )
        ],
        "pins": [
            [r.target_id, r.target_type]
            for r in connection.execute(
                select(MaterialPinRow).where(MaterialPinRow.target_id.in_(record_ids))
            )
        ],
    }


def _seal(secret: bytes, profile_id: str, payload: dict[str, Any]) -> bytes:
    plain = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    plain += b" " * (-len(plain) % _PAD)
    nonce = os.urandom(12)
    key = _derive(secret, profile_id, _SEAL_INFO)
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, plain, profile_id.encode("ascii"))


def _open(sealed: bytes, secret: bytes, profile_id: str) -> dict[str, Any]:
    key = _derive(secret, profile_id, _SEAL_INFO)
    try:
        plain = ChaCha20Poly1305(key).decrypt(sealed[:12], sealed[12:], profile_id.encode("ascii"))
    except (InvalidTag, ValueError):
        raise WrongReturnKey() from None
    payload = json.loads(plain.decode("utf-8"))
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise WrongReturnKey("not a travel file")
    return payload


def _forget(connection: Connection, spaces: list[str]) -> list[str]:
    """Delete every row of ``spaces`` in the caller's transaction; returns their attachments."""
    record_ids = list(
        connection.scalars(select(RecordRow.id).where(RecordRow.space_id.in_(spaces)))
    )
    attachments: list[str] = []
    for start in range(0, len(record_ids), 500):
        batch = record_ids[start : start + 500]
        marks = ", ".join(f":r{n}" for n in range(len(batch)))
        attachments += [
            ref
            for ref in connection.scalars(
                text(
                    "SELECT json_extract(content, '$.attachment_ref') FROM record_contents "
                    f"WHERE id IN ({marks})"
                ),
                {f"r{n}": record for n, record in enumerate(batch)},
            )
            if isinstance(ref, str) and ref
        ]
    for record in record_ids:
        remove_record(connection, record)
        remove_record(connection, record + _TEXT_SUFFIX)
    for start in range(0, len(record_ids), 500):
        batch = record_ids[start : start + 500]
        connection.execute(delete(MaterialTextRow).where(MaterialTextRow.file_id.in_(batch)))
        connection.execute(delete(MaterialPinRow).where(MaterialPinRow.target_id.in_(batch)))
    for start in range(0, len(attachments), 500):
        connection.execute(
            delete(AttachmentKeyRow).where(
                AttachmentKeyRow.attachment_id.in_(attachments[start : start + 500])
            )
        )
    # Every table that names a space: records (their contents, codes and bases follow by
    # cascade), drafts, statements, wraps, cursors, outbox, conflicts, chunks, blobs, trust...
    for table in StoreBase.metadata.sorted_tables:
        if "space_id" in table.c and table.name != "records":
            connection.execute(delete(table).where(table.c.space_id.in_(spaces)))
    connection.execute(delete(RecordRow).where(RecordRow.space_id.in_(spaces)))
    # Which records the kept batches named: the batches of these spaces went above, and their
    # rows (record ids, no space column) must not outlive them.
    connection.execute(
        text(
            "DELETE FROM sync_batch_entries WHERE digest NOT IN "
            "(SELECT digest FROM sync_batch_blobs)"
        )
    )
    # Grants offline devices handed this one (to fetch for them) list the spaces they cover
    # inside a signed blob, so no space_id column finds them: all go. Each offline device's
    # next bundle hands its grant again; until then this device cannot fetch for it.
    connection.execute(delete(SyncCourierGrantRow))
    return attachments


def _checkpoint(profile: Profile) -> None:
    with profile.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def leave_behind(profile: Profile, server: TravelServer, spaces: list[str]) -> str:
    """Leave ``spaces`` behind; returns the return key to show once.

    Raises:
        UnsentChanges: something of them has not reached the server (nothing changed).
        AlreadyTravelling: spaces are left behind already (return first).
        Offline, ServerRefused...: the server could not be told (nothing changed here).
    """
    spaces = sorted(set(spaces))
    if not spaces:
        raise TravelError("no spaces chosen")
    folder = profile.folder
    if travelling(folder):
        raise AlreadyTravelling()
    unsent = unsent_in(profile, spaces)
    if unsent:
        raise UnsentChanges(unsent)
    secret = keys.new_recovery_secret()
    with profile.engine.connect() as connection:
        payload = _collect(connection, spaces)
    write_atomically(folder / RETURN_FILE, _seal(secret, profile.profile_id, payload))
    try:
        verifier = hashlib.sha256(_server_token(secret, profile.profile_id)).digest()
        server.leave_spaces(spaces, verifier)
    except BaseException:
        overwrite_and_remove(folder / RETURN_FILE)
        raise
    with profile.engine.begin() as connection:
        attachments = _forget(connection, spaces)
    vault = folder / "attachments"
    for attachment in attachments:
        if attachment.isalnum():
            (vault / f"{attachment}.sealed").unlink(missing_ok=True)
            (vault / f"{attachment}.partial").unlink(missing_ok=True)
    fsync_folder(vault)
    _checkpoint(profile)
    return keys.format_recovery_key(secret)


# --- returning ---------------------------------------------------------------------------------


def _parse_return_key(text_typed: str) -> bytes:
    try:
        return keys.parse_recovery_key(text_typed)
    except MistypedRecoveryKey:
        raise WrongReturnKey("mistyped") from None


def open_return(profile: Profile, return_key: str) -> dict[str, Any]:
    """What was left behind (names included), opened with the return key; changes nothing."""
    path = profile.folder / RETURN_FILE
    if not path.is_file():
        raise NotTravelling()
    return _open(path.read_bytes(), _parse_return_key(return_key), profile.profile_id)


def return_from_travel(profile: Profile, server: TravelServer, return_key: str) -> list[str]:
    """Restore access to what was left behind; returns the spaces' names. The next sync (with
    discovery) brings their records and files back.

    Raises:
        NotTravelling, WrongReturnKey: nothing changed.
        Offline, ServerRefused...: the server could not be told (nothing changed here; try again).
    """
    payload = open_return(profile, return_key)
    secret = _parse_return_key(return_key)
    server.return_to_spaces(_server_token(secret, profile.profile_id))
    with profile.engine.begin() as connection:
        for space, version, blob in payload["statements"]:
            connection.execute(
                text(
                    "INSERT INTO sync_statements (space_id, version, blob) VALUES (:s, :v, :b) "
                    "ON CONFLICT DO NOTHING"
                ),
                {"s": space, "v": version, "b": base64.b64decode(blob)},
            )
        for space, epoch, issuer, wrap in payload["wraps"]:
            connection.execute(
                text(
                    "INSERT INTO sync_wraps (space_id, epoch, issuer, wrap) "
                    "VALUES (:s, :e, :i, :w) ON CONFLICT DO NOTHING"
                ),
                {"s": space, "e": epoch, "i": issuer, "w": base64.b64decode(wrap)},
            )
        for space, admin, fingerprint, state in payload["trust"]:
            connection.execute(
                text(
                    "INSERT INTO sync_space_trust (space_id, admin_device, fingerprint, state) "
                    "VALUES (:s, :a, :f, :t) ON CONFLICT DO NOTHING"
                ),
                {"s": space, "a": admin, "f": fingerprint, "t": state},
            )
        for target, kind in payload["pins"]:
            connection.execute(
                text(
                    "INSERT INTO material_pins (target_id, target_type) VALUES (:i, :k) "
                    "ON CONFLICT DO NOTHING"
                ),
                {"i": target, "k": kind},
            )
    overwrite_and_remove(profile.folder / RETURN_FILE)
    fsync_folder(profile.folder)
    names: dict[str, str] = payload.get("names", {})
    return [names.get(space) or _("a space") for space in payload["spaces"]]
