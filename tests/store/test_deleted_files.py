"""What a received deletion erases of its file, and when it waits (``deleted_files``), on a real
profile through the sync state's own entry points (``apply_page``, ``keep_together``); the
paths through the real server are in tests/integration/test_deleted_files_erased.py."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from desktop.domain.records import Evidence, Incident, new_id, to_dict
from desktop.store.evidence import EvidenceStore
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState, sealed_content
from sync.client.state import RemoteRecord, Settlement
from tests.helpers.profiles import new_profile


def _arrives(
    state: ProfileSyncState,
    space: str,
    content: dict[str, Any] | None,
    record: str,
    revision: int,
    cursor: int,
) -> None:
    """A version (``None``: a deletion) arriving in a page, taken as it came."""
    remote = RemoteRecord(space, record, revision, "a-peer", content)
    state.apply_page(space, cursor, [Settlement(remote, content, False)])
    state.keep_together()


def _content(record: Incident | Evidence, **changes: Any) -> dict[str, Any]:
    return {**sealed_content(json.dumps(to_dict(record))), **changes}


def _received(
    profile: Any, state: ProfileSyncState, space: str, name: str
) -> tuple[Incident, Evidence]:
    """An incident with an evidence file, both arrived from the server (clean, with bases)."""
    incident = Incident(space_id=space, title="Desalojo en Barrio Sur")
    path = profile.folder.parent / name
    path.write_bytes(b"\xff\xd8 testigo " * 5000)
    evidence = EvidenceStore.of(profile).import_file(incident, path, actor="tester")
    _arrives(state, space, _content(incident), incident.id, 1, 1)
    _arrives(state, space, _content(evidence), evidence.id, 1, 2)
    assert profile.attachments.path_of(evidence.attachment_ref).exists()
    return incident, evidence


def test_a_received_deletion_erases_the_chunks_of_a_download_left_half_done(
    tmp_path: Path,
) -> None:
    profile, _ = new_profile(tmp_path / "p")
    try:
        state = ProfileSyncState(profile.engine, profile.attachments)
        space = new_id()
        _incident, evidence = _received(profile, state, space, "foto.jpg")
        # Part of a download of its chunks is here (as a cut leaves it).
        state.save_received(space, evidence.attachment_chunks[0], b"partial", False)
        _arrives(state, space, None, evidence.id, 2, 3)
        assert EvidenceStore.of(profile).stored(evidence.attachment_ref) is None
        assert not profile.attachments.path_of(evidence.attachment_ref).exists()
        assert state.received(space, evidence.attachment_chunks[0]) is None
        with profile.engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM attachment_keys")) == 0
    finally:
        profile.close()


def test_a_deletion_held_for_a_newer_minga_keeps_its_files(tmp_path: Path) -> None:
    """The incident's newest version is a newer Minga's, kept sealed here; deleted here since,
    the deletion and what it took wait on this device (``pending_changes``), and the newer
    version may yet bring everything back: its evidence's file is not erased meanwhile."""
    profile, _ = new_profile(tmp_path / "p")
    try:
        state = ProfileSyncState(profile.engine, profile.attachments)
        space = new_id()
        incident, evidence = _received(profile, state, space, "foto.jpg")
        newer = _content(incident, schema=99, country=["hn", "gt"])
        _arrives(state, space, newer, incident.id, 2, 3)
        assert state.sealed_title(incident.id) == "Desalojo en Barrio Sur"
        RecordStore(profile.engine).delete(incident.id)  # its evidence goes with it
        assert RecordStore(profile.engine).get(evidence.id) is None
        # The next session looks at every deletion (an own one is not captured as received).
        ProfileSyncState(profile.engine, profile.attachments).keep_together()
        assert EvidenceStore.of(profile).stored(evidence.attachment_ref) is not None
        assert profile.attachments.path_of(evidence.attachment_ref).exists()
    finally:
        profile.close()


def test_a_file_whose_erasure_a_backup_deferred_is_erased_after_a_crash(tmp_path: Path) -> None:
    """A received deletion erases the key row at once and the sealed file when the backup
    copying the vault ends (``deletions_held``). The process killed during that backup: the
    deferral was in memory only, and the sealed file stayed with no key row, named by nothing
    and swept by nothing (``sweep_orphans`` runs nowhere) for the profile's life. Now the next
    unlock erases a sealed file no key row names once it is an hour old; a younger one (an
    import or download of another process between its bytes and its key row) is kept."""
    from desktop.store import attachments
    from desktop.store.profile import unlock
    from tests.helpers.profiles import PASSPHRASE

    folder = tmp_path / "p"
    profile, _ = new_profile(folder)
    state = ProfileSyncState(profile.engine, profile.attachments)
    space = new_id()
    _incident, evidence = _received(profile, state, space, "foto.jpg")
    sealed = profile.attachments.path_of(evidence.attachment_ref)
    # A backup copying the vault (what ``deletions_held`` notes on entry), never ended: the
    # process dies during it.
    attachments._held[profile.attachments.folder.absolute()] = 1
    _arrives(state, space, None, evidence.id, 2, 3)
    assert EvidenceStore.of(profile).stored(evidence.attachment_ref) is None
    assert sealed.exists()  # deferred
    profile.close()
    attachments._held.clear()  # what a new process starts with
    attachments._deferred.clear()
    young = sealed.with_name("0123456789abcdef.sealed")
    young.write_bytes(b"an import of another process, its key row not yet committed")
    hour_ago = time.time() - 2 * 3600
    os.utime(sealed, (hour_ago, hour_ago))
    again = unlock(folder, PASSPHRASE)
    try:
        assert not sealed.exists()
        assert young.exists()
    finally:
        again.close()
