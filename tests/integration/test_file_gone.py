"""Issue 14, a file brought back over its deletion after the server's chunk collection ran
(ENGINE.md "A file whose bytes are gone"). Through a real server whose `minga-server collect`
runs with short graces: a deleted record's chunks outlive the orphan grace, so the file opens
again; past the longer grace, bytes a device still holds go up again; held by nobody, the file
comes back marked unavailable, said so where it is opened, and the sync settles."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from desktop.domain.network_records import Material
from desktop.domain.records import edit
from desktop.store.materials import MaterialStore
from tests.helpers.server_process import run_cli
from tests.integration.conftest import Device, Server, network_of
from tests.integration.devices import make_with_files
from tests.integration.test_meaning import _converge
from tests.integration.test_meaning_cascades import _material_with_file, _opens


def _collect(server: Server, grace: int, released: int | None = None) -> str:
    """What an operator's `minga-server collect` does, with the graces given (seconds)."""
    env = {"MINGA_SERVER_CHUNK_GRACE_SECONDS": str(grace)}
    if released is not None:
        env["MINGA_SERVER_RELEASED_CHUNK_GRACE_SECONDS"] = str(released)
    time.sleep(1.1)  # ages are whole seconds: everything is older than "now - 0"
    result = run_cli(server.data_dir, "collect", extra_env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _dirty(device: Device) -> list[str]:
    """Records waiting to be sent: none once every sync settled."""
    with device.profile.engine.connect() as connection:
        return list(connection.execute(text("SELECT id FROM records WHERE dirty")).scalars())


def _edit_material(device: Device, material: Material) -> None:
    held = device.records.require(material.id)
    device.records.save(edit(held, description="Para las brigadas y los acompañantes."))


def test_a_deleted_file_s_chunks_outlive_the_orphan_grace_and_it_opens_again(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """Before: a deleted record's chunks were collected with the one-day grace of chunks no
    record named (counted from their upload, so at the first collection after the deletion),
    and the file an edit brought back could not be fetched by anyone."""
    space, devices = network_of(server, make_with_files(make_device), 3)
    _admin, alba, badu = devices
    material, file, data = _material_with_file(space, devices, tmp_path / "in")
    MaterialStore.of(alba.profile).delete_material(material.id)  # its key and bytes erased
    alba.sync()
    # Past the orphan grace (0 s), within the released one (the default, 30 days).
    assert "removed 0 unreferenced chunks" in _collect(server, grace=0)
    _edit_material(badu, material)  # badu never downloaded the file: only the server has it
    badu.sync()
    _converge(devices, rounds=3)
    for device in devices:
        _opens(device, file.id, data)
        assert _dirty(device) == [], device.name
    # Past the released grace too, with the record live again: its chunks stay.
    assert "removed 0 unreferenced chunks" in _collect(server, grace=0, released=0)


def test_bytes_the_editor_still_holds_go_up_again_after_collection(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    """The chunks were collected (both graces past); badu, whose edit beats the deletion, has
    the file: the push naming them is refused `chunk_missing`, the next sync sends them, and
    the deleter opens the file again."""
    space, devices = network_of(server, make_with_files(make_device), 3)
    _admin, alba, badu = devices
    material, file, data = _material_with_file(space, devices, tmp_path / "in")
    _opens(badu, file.id, data)  # badu keeps the bytes
    MaterialStore.of(alba.profile).delete_material(material.id)
    alba.sync()
    assert "removed 3 unreferenced chunks" in _collect(server, grace=0, released=0)
    _edit_material(badu, material)
    refused = badu.engine.sync_once()
    assert [r.code for r in refused.rejected] == ["chunk_missing"]  # the file, collected
    again = badu.engine.sync_once()  # asks what is missing and sends it from its vault
    assert again.rejected == [] and again.chunks_up == 3, again
    _converge(devices, rounds=2)
    for device in devices:
        _opens(device, file.id, data)
        assert _dirty(device) == [], device.name
