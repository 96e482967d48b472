"""Travel mode through the real server (issue 16).

A member of three spaces leaves two behind. Then, holding the passphrase alone, no canary,
record, file or name of theirs is in any file of the profile (database pages decrypted, WAL,
attachments, device.json, everything in the folder), the server answers the device as an
outsider there, and a sync brings nothing back. Unsent changes and a wrong return key are
refused, changing nothing. Returning with the key over the 2G link restores every record and
pinned file, resumably; the remaining space works as usual throughout.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from desktop.domain.network_records import Material
from desktop.domain.records import Incident, Space, SpaceKind, WorkingGroup, new_id
from desktop.store import keys
from desktop.store.materials import MaterialStore
from desktop.store.profile import DATABASE_FILE
from desktop.store.travel import (
    RETURN_FILE,
    UnsentChanges,
    WrongReturnKey,
    leave_behind,
    return_from_travel,
    travelling,
    unsent_in,
)
from desktop.ui.workgroups.files import import_material_file
from sync.client.transport import ServerRefused
from sync.protocol import Role
from tests.helpers.link import Link
from tests.helpers.profiles import files_containing, raw_key
from tests.helpers.sqlcipher_pages import pages_holding
from tests.integration.conftest import Device, Server, network_of
from tests.integration.devices import import_evidence, make_with_files, opened, with_files

LOG_NAME = "Bitacora Quetzaltravel"
GROUP_NAME = "Grupo Zapotravel"
CANARIES = ["Quetzaltravel", "Zapotravel", "Mixtravelcanary", "Olmecanaryfile"]
KEPT = "Keptnetworkword"


def _device_id(device: Device) -> str:
    keys_ = device.state.device_keys()
    assert keys_ is not None
    return keys_.device_id


def _add_space(admin: Device, member: Device, name: str, kind: SpaceKind) -> str:
    space = admin.engine.create_space()
    owner = (
        {"organization_id": new_id()}
        if kind is SpaceKind.ORGANIZATION
        else {"working_group_id": new_id()}
    )
    admin.records.save(Space(id=space, space_id=space, name=name, kind=kind, **owner))
    admin.engine._authorized(
        lambda token: admin.engine.transport.put_member(
            space, _device_id(member), Role.EDITOR, token
        )
    )
    # No invite was made for this space (the member is added on the server directly): the
    # admin chooses the role itself; the server's listing never decides it (issue 13).
    pending = admin.engine.pending_members(space)
    admin.engine.admit(space, [dataclasses.replace(p, role=Role.EDITOR) for p in pending])
    return space


def _readable_anywhere(device: Device, word: str) -> list[str]:
    """Where ``word`` is readable to someone holding the passphrase: any file of the profile
    as it lies, and every decrypted page and WAL frame of the database."""
    folder = device.profile.folder
    found = files_containing([folder], word)
    key = raw_key(folder)
    found += pages_holding(folder / DATABASE_FILE, key, word.encode())
    found += pages_holding(folder / DATABASE_FILE, key, word.lower().encode())
    return found


def test_leave_two_spaces_and_come_back(server: Server, make_device: Any, tmp_path: Path) -> None:
    network, (admin, traveller) = network_of(server, make_with_files(make_device), 2)
    log = _add_space(admin, traveller, LOG_NAME, SpaceKind.ORGANIZATION)
    group_space = _add_space(admin, traveller, GROUP_NAME, SpaceKind.WORKING_GROUP)
    # What each left space holds: incidents, an evidence file, a pinned material file.
    incidents = [
        admin.records.save(
            Incident(space_id=log, title=f"Raid {CANARIES[0]} {n}", narrative=CANARIES[2])
        )
        for n in range(5)
    ]
    evidence = import_evidence(admin, log, tmp_path / "files", 200_000, f"{CANARIES[3]}.bin")
    group = admin.records.save(WorkingGroup(space_id=group_space, name=f"{CANARIES[1]} land"))
    assert isinstance(group, WorkingGroup)
    material = admin.records.save(
        Material(
            space_id=group_space,
            working_group_id=group.id,
            title=f"Toolkit {CANARIES[1]}",
            material_type="toolkit",
        )
    )
    assert isinstance(material, Material)
    toolkit = tmp_path / "toolkit.txt"
    toolkit.write_bytes(b"Mixtravelcanary toolkit " * 4000)
    import_material_file(admin.profile, material, toolkit)
    kept = admin.records.save(Incident(space_id=network, title=f"Network {KEPT}"))
    admin.sync()
    traveller.sync()
    # Its person compares the admin's fingerprint for each new space: until then what it
    # writes there (the evidence's custody log too) stays on this computer.
    for first in traveller.state.spaces_to_confirm():
        traveller.engine.confirm_space(first.space)
    MaterialStore.of(traveller.profile).pin_group(group.id)
    traveller.sync()
    assert opened(traveller, evidence.id)
    traveller.sync()  # opening evidence adds to its custody log: sent with this sync
    before = traveller.snapshot()
    assert all(i.id in before for i in incidents)

    # Unsent changes in a space to leave: refused, showing what, nothing changed.
    unsent = traveller.records.save(Incident(space_id=log, title="Not yet sent"))
    with pytest.raises(UnsentChanges) as refused:
        leave_behind(traveller.profile, traveller.engine, [log, group_space])
    assert [u.label for u in refused.value.unsent] == ["Not yet sent"]
    assert not travelling(traveller.profile.folder)
    traveller.sync()  # "send them first"
    assert unsent_in(traveller.profile, [log, group_space]) == []
    assert traveller.records.get(unsent.id) is not None

    # The check can fail: before leaving, the words are readable in the decrypted pages.
    assert _readable_anywhere(traveller, CANARIES[0])
    assert _readable_anywhere(traveller, LOG_NAME)
    return_key = leave_behind(traveller.profile, traveller.engine, [log, group_space])
    assert len(return_key.split("-")) == 11  # grouped like the recovery key
    assert travelling(traveller.profile.folder)

    # The passphrase alone: nothing of theirs anywhere in the folder, decrypted pages included.
    for word in [*CANARIES, LOG_NAME, GROUP_NAME, log, group_space]:
        assert _readable_anywhere(traveller, word) == [], word
    vault = traveller.profile.folder / "attachments"
    assert list(vault.glob("*.sealed")) == []
    # The remaining space works as usual; a sync (with discovery) brings nothing back.
    assert traveller.records.get(kept.id) is not None
    traveller.records.save(Incident(space_id=network, title="Written while travelling"))
    while_away = admin.records.save(Incident(space_id=log, title=f"New while away {CANARIES[0]}"))
    admin.sync()
    report = traveller.sync()
    assert report.pushed == 1
    assert traveller.state.spaces() == [network]
    for word in [*CANARIES, LOG_NAME, GROUP_NAME, log, group_space]:
        assert _readable_anywhere(traveller, word) == [], word
    # Its device keys cannot fetch them from the server either: an outsider there.
    for space in (log, group_space):
        with pytest.raises(ServerRefused) as outsider:
            traveller.engine._authorized(
                lambda token, s=space: traveller.engine.transport.wraps(s, 0, token)
            )
        assert outsider.value.status == 404
    listed = traveller.engine._authorized(traveller.engine.transport.spaces)
    assert [entry["space"] for entry in listed] == [network]

    # A wrong return key is a clear error that changes nothing.
    wrong = keys.format_recovery_key(keys.new_recovery_secret())
    sealed = (traveller.profile.folder / RETURN_FILE).read_bytes()
    with pytest.raises(WrongReturnKey):
        return_from_travel(traveller.profile, traveller.engine, wrong)
    with pytest.raises(WrongReturnKey):
        return_from_travel(traveller.profile, traveller.engine, "not a key at all")
    assert (traveller.profile.folder / RETURN_FILE).read_bytes() == sealed
    assert traveller.engine._authorized(traveller.engine.transport.spaces)[0]["space"] == network

    # Return with the key over a 2G link, cut mid-way: the next sync resumes.
    host, port = server.url.removeprefix("http://").split(":")
    with Link((host, int(port)), profile="2g") as link:
        with_files(traveller, link.url)
        names = return_from_travel(traveller.profile, traveller.engine, return_key)
        assert sorted(names) == sorted([LOG_NAME, GROUP_NAME])
        link.cut_after("down", 150_000)
        for _attempt in range(20):
            try:
                traveller.engine.sync_once(discover=True)
            except Exception:  # the cut: Offline, then the next attempt resumes
                continue
            restored = traveller.state.spaces() == sorted([network, log, group_space])
            if restored and not MaterialStore.of(traveller.profile).wanted():
                break
        traveller.sync()
    assert not travelling(traveller.profile.folder)
    after = traveller.snapshot()
    for record_id, value in before.items():
        assert after.get(record_id) == value, record_id
    assert traveller.records.get(while_away.id) is not None
    assert opened(traveller, evidence.id)  # the evidence file came back and opens
    files = MaterialStore.of(traveller.profile).files(material.id)
    assert files and all(MaterialStore.of(traveller.profile).held(f) for f in files)
    assert link.counts.connections > 1  # the cut happened and the sync went on after it
