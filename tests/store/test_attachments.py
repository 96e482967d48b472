"""Evidence files at rest: bit-exact round trips, SHA-256 at import, tampering refused."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from desktop.domain.translation import set_language
from desktop.store.attachments import StoredAttachment
from desktop.store.errors import AttachmentDamaged
from desktop.store.profile import Profile
from tests.helpers.profiles import files_containing, new_profile

CHUNK = 64 * 1024


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    set_language("en")
    profile, _ = new_profile(tmp_path / "p")
    yield profile
    profile.close()


def _import(profile: Profile, tmp_path: Path, data: bytes) -> StoredAttachment:
    original = tmp_path / "original.bin"
    original.write_bytes(data)
    return profile.attachments.import_file(original)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 123])
def test_round_trip_is_bit_exact_and_hashed_at_import(
    profile: Profile, tmp_path: Path, size: int
) -> None:
    data = os.urandom(size)
    stored = _import(profile, tmp_path, data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.size == size
    assert profile.attachments.path_of(stored.attachment_id).stat().st_size == stored.sealed_size
    assert profile.attachments.read_bytes(stored) == data
    exported = tmp_path / "exported.bin"
    profile.attachments.export(stored, exported)
    assert exported.read_bytes() == data


def test_no_plaintext_in_the_profile(profile: Profile, tmp_path: Path) -> None:
    canary = "CANARY-evidence-فيديو-del-desalojo"
    data = ("witness statement " + canary + "\n").encode("utf-8") * 5000
    stored = _import(profile, tmp_path, data)
    assert files_containing([profile.folder], canary) == []
    assert canary.encode() in profile.attachments.read_bytes(stored)
    assert list(profile.attachments.folder.iterdir()) == [
        profile.attachments.path_of(stored.attachment_id)
    ]


def _damage(profile: Profile, stored: StoredAttachment, change: object) -> AttachmentDamaged:
    path = profile.attachments.path_of(stored.attachment_id)
    sealed = bytearray(path.read_bytes())
    path.write_bytes(change(sealed))  # type: ignore[operator]
    with pytest.raises(AttachmentDamaged) as caught:
        profile.attachments.read_bytes(stored)
    return caught.value


def test_truncated_file_is_refused_with_its_own_message(profile: Profile, tmp_path: Path) -> None:
    stored = _import(profile, tmp_path, os.urandom(3 * CHUNK + 50))
    error = _damage(profile, stored, lambda b: bytes(b[: 17 + 2 * (CHUNK + 16)]))
    assert error.reason == "truncated"
    assert "cut short" in error.user_message()
    set_language("fr")
    assert "cut short" not in error.user_message()


def test_bit_flip_and_reordered_chunks_are_refused(profile: Profile, tmp_path: Path) -> None:
    stored = _import(profile, tmp_path, os.urandom(3 * CHUNK))

    def flip(b: bytearray) -> bytes:
        b[100_000] ^= 0x01
        return bytes(b)

    def reorder(b: bytearray) -> bytes:
        header, size = bytes(b[:17]), CHUNK + 16
        chunks = [bytes(b[17 + i * size : 17 + (i + 1) * size]) for i in range(3)]
        return header + chunks[1] + chunks[0] + chunks[2]

    assert _damage(profile, stored, flip).reason == "altered"
    stored = _import(profile, tmp_path, os.urandom(3 * CHUNK))
    assert _damage(profile, stored, reorder).reason == "altered"


def test_swapped_files_are_refused(profile: Profile, tmp_path: Path) -> None:
    first = _import(profile, tmp_path, b"first file " * 1000)
    second = _import(profile, tmp_path, b"second file" * 1000)
    path_a = profile.attachments.path_of(first.attachment_id)
    path_b = profile.attachments.path_of(second.attachment_id)
    a, b = path_a.read_bytes(), path_b.read_bytes()
    path_a.write_bytes(b)
    path_b.write_bytes(a)
    for stored in (first, second):
        with pytest.raises(AttachmentDamaged):
            profile.attachments.read_bytes(stored)


def test_damaged_export_leaves_nothing_behind(profile: Profile, tmp_path: Path) -> None:
    stored = _import(profile, tmp_path, os.urandom(2 * CHUNK + 9))
    path = profile.attachments.path_of(stored.attachment_id)
    path.write_bytes(path.read_bytes()[:-1])
    destination = tmp_path / "out" / "report.bin"
    destination.parent.mkdir()
    with pytest.raises(AttachmentDamaged):
        profile.attachments.export(stored, destination)
    assert list(destination.parent.iterdir()) == []


def test_missing_file_has_a_clear_error(profile: Profile, tmp_path: Path) -> None:
    stored = _import(profile, tmp_path, b"gone")
    profile.attachments.delete(stored)
    with pytest.raises(AttachmentDamaged) as caught:
        profile.attachments.read_bytes(stored)
    assert caught.value.reason == "missing"


def test_wrong_row_for_an_authentic_file_is_refused(profile: Profile, tmp_path: Path) -> None:
    stored = _import(profile, tmp_path, b"the real thing")
    lying = StoredAttachment(
        stored.attachment_id, stored.file_key, "0" * 64, stored.size, stored.sealed_size
    )
    with pytest.raises(AttachmentDamaged):
        profile.attachments.read_bytes(lying)
