"""Courier bundles between real profiles enrolled with a real server: what one exports the
other verifies and merges; damaged, replayed and foreign bundles are refused by name."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from desktop.domain.records import edit
from sync.client import bundle_format
from sync.client.bundle_format import BundleProblem
from sync.client.bundles import export_bundle, import_bundle
from tests.helpers.profiles import files_containing
from tests.integration.conftest import Device, Server, network_of, organization

#: One server for all the tests here (``server`` in conftest.py): each makes its own space,
#: devices and invites on it, and none stops it, changes its settings or reads its files.
SHARED_SERVER = True


def _export(device: Device, path: Path, **kwargs: Any) -> Path:
    export_bundle(device.engine, path, **kwargs)
    return path


def test_a_bundle_carries_records_and_edits_both_ways(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    admin.sync()
    member.sync()
    # From here on the member is offline: only bundles reach it.
    orgs = [organization(space, f"Organization {i}", country="ke") for i in range(5)]
    admin.records.save_all(orgs)
    admin.sync()
    report = import_bundle(member.engine, _export(admin, tmp_path / "a1.mbundle"))
    assert report.problem is None and report.refused == []
    assert report.records == 5
    assert {o.id for o in orgs} <= set(member.snapshot())
    # The member edits offline; the admin imports its bundle and sees the edit at once.
    member.records.save(edit(member.records.require(orgs[0].id), acronym="OFFLINE"))
    back = import_bundle(admin.engine, _export(member, tmp_path / "m1.mbundle"))
    assert back.problem is None and back.refused == [], back
    assert back.merged == 1 and back.carried == 1
    assert admin.records.require(orgs[0].id).acronym == "OFFLINE"
    # Importing it again is refused as a replay and changes nothing.
    before = admin.snapshot()
    again = import_bundle(admin.engine, tmp_path / "m1.mbundle")
    assert again.problem is BundleProblem.REPLAYED
    assert admin.snapshot() == before


@pytest.mark.parametrize("damage", ["truncated", "bit_flip", "reordered", "spliced"])
def test_a_damaged_bundle_is_refused_by_name_and_nothing_damaged_is_applied(
    server: Server,
    make_device: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    damage: str,
) -> None:
    monkeypatch.setattr(bundle_format, "SEGMENT_ITEMS", 4)
    space, (admin, member) = network_of(server, make_device, 2)
    admin.sync()
    member.sync()
    orgs = [organization(space, f"Organization {i:02}") for i in range(20)]
    admin.records.save_all(orgs)
    admin.sync()
    good = _export(admin, tmp_path / "good.mbundle").read_bytes()
    other = _export(admin, tmp_path / "other.mbundle").read_bytes()
    frames = _frames(good)
    if damage == "truncated":
        cut = frames[len(frames) // 2][0] + 3
        data, expected = good[:cut], BundleProblem.TRUNCATED
    elif damage == "bit_flip":
        start, end = frames[len(frames) // 2]
        position = random.Random(7).randrange(start + 8, end)
        data = good[:position] + bytes([good[position] ^ 0x10]) + good[position + 1 :]
        expected = BundleProblem.DAMAGED
    elif damage == "reordered":
        (a_start, a_end), (b_start, b_end) = frames[8], frames[9]
        data = good[:a_start] + good[b_start:b_end] + good[a_start:a_end] + good[b_end:]
        expected = BundleProblem.REORDERED
    else:
        # The same positions taken from another bundle of the same records.
        other_frames = _frames(other)
        s_start, s_end = other_frames[8][0], other_frames[13][1]
        start, end = frames[8][0], frames[13][1]
        data = good[:start] + other[s_start:s_end] + good[end:]
        expected = BundleProblem.SPLICED
    damaged = tmp_path / "damaged.mbundle"
    damaged.write_bytes(data)
    report = import_bundle(member.engine, damaged)
    assert report.problem is expected, report
    held = {o.id for o in orgs} & set(member.snapshot())
    # Whole verified segments before the damage may be kept; nothing from the damaged one.
    assert len(held) <= report.problem_item
    assert not member.state.bundle_seen(report.bundle_id)
    # The intact bundle still imports whole afterwards.
    whole = import_bundle(member.engine, tmp_path / "good.mbundle")
    assert whole.problem is None
    assert {o.id for o in orgs} <= set(member.snapshot())


def test_no_byte_of_a_bundle_holds_a_canary(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    admin.sync()
    member.sync()
    canary = "CANARY-bundle-7f3a9c"
    admin.records.save(organization(space, canary, description=f"{canary} in the text"))
    member.records.save(organization(space, "Other", description=canary))
    admin.sync()
    folder = tmp_path / "stick"
    folder.mkdir()
    _export(admin, folder / "a.mbundle")
    _export(member, folder / "m.mbundle")
    assert files_containing([folder], canary) == []
    assert import_bundle(member.engine, folder / "a.mbundle").records >= 1


def _frames(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every frame after the preamble."""
    position = len(bundle_format.MAGIC) + 1
    length = int.from_bytes(data[position : position + 4], "big")
    position += 4 + length
    found = []
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        found.append((position, position + 4 + length))
        position += 4 + length
    return found


def test_a_bundle_without_checkpoints_is_refused_before_it_fills_memory(
    server: Server, make_device: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    space, (admin, member) = network_of(server, make_device, 2)
    admin.sync()
    member.sync()
    admin.records.save_all([organization(space, f"Organization {i}") for i in range(12)])
    admin.sync()
    # Written with long segments, read with a small bound: as a hostile file without checkpoints.
    _export(admin, tmp_path / "long.mbundle")
    monkeypatch.setattr(bundle_format, "SEGMENT_ITEMS", 4)
    report = import_bundle(member.engine, tmp_path / "long.mbundle")
    assert report.problem is BundleProblem.DAMAGED and report.problem_item == 4
    assert report.records == 0


def test_a_bundle_file_is_readable_by_its_owner_only(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    # A bundle names devices, spaces and who is a member of them: on a shared computer or a
    # stick another account mounts, no one else may read it (as backups, 0600 whatever umask).
    space, (admin,) = network_of(server, make_device, 1)
    admin.records.save(organization(space, "Someone"))
    stale = tmp_path / "a.mbundle.partial"
    stale.write_bytes(b"left by a crashed export")
    stale.chmod(0o644)
    path = _export(admin, tmp_path / "a.mbundle")
    assert path.stat().st_mode & 0o777 == 0o600


def test_importing_many_records_looks_up_their_kept_versions_once_per_segment(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    from sqlalchemy import event

    space, (admin, member) = network_of(server, make_device, 2)
    admin.sync()
    member.sync()
    orgs = [organization(space, f"Organization {i}") for i in range(40)]
    admin.records.save_all(orgs)
    admin.sync()
    path = _export(admin, tmp_path / "many.mbundle")
    lookups: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "sync_record_blobs.revision" in statement and statement.lstrip().startswith("SELECT"):
            lookups.append(statement)

    event.listen(member.profile.engine, "before_cursor_execute", count)
    try:
        report = import_bundle(member.engine, path)
    finally:
        event.remove(member.profile.engine, "before_cursor_execute", count)
    assert report.problem is None and report.refused == [] and report.records == 40
    assert {o.id for o in orgs} <= set(member.snapshot())
    # One lookup for the segment's 40 records (one a record before), each id list one
    # JSON parameter.
    assert len(lookups) <= 2, len(lookups)
    assert all("json_each" in statement for statement in lookups)
