"""Working-group materials between two members through a real server.

A member keeps one group offline while online, then the server goes away: every material of that
group opens from the vault, a material of another group says it needs a connection, a word
inside a PDF is found by search, and the PDF's text never sits decrypted in any file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from desktop.domain.network_records import Material
from desktop.domain.records import WorkingGroup
from desktop.store.materials import MaterialFileMissing, MaterialStore
from desktop.ui.sync.link import SyncLink
from desktop.ui.workgroups.files import import_material_file, open_material
from sync.client.transport import Offline
from tests.helpers.pdf import make_pdf
from tests.helpers.profiles import files_containing
from tests.integration.conftest import Device, Server, network_of
from tests.integration.devices import make_with_files

CANARY = "CANARYxPDFxTEXTx5521"


def _material(device: Device, space: str, group: WorkingGroup, title: str) -> Material:
    material = Material(
        space_id=space, working_group_id=group.id, title=title, material_type="toolkit"
    )
    return device.records.save(material)


def test_a_pinned_group_reads_offline_and_an_unpinned_material_needs_a_connection(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    land = admin.records.save(WorkingGroup(space_id=space, name="Tierra y vivienda"))
    water = admin.records.save(WorkingGroup(space_id=space, name="Agua"))
    assert isinstance(land, WorkingGroup) and isinstance(water, WorkingGroup)
    originals = tmp_path / "originals"
    originals.mkdir()
    guide = make_pdf(
        originals / "guia.pdf",
        ["Guia de proteccion colectiva", f"Registro de desalojos forzosos {CANARY}"],
    )
    notes = originals / "acta.txt"
    notes.write_text("Acuerdos de la asamblea", encoding="utf-8")
    big = originals / "mapa.bin"
    big.write_bytes(bytes(range(256)) * 600)  # three chunks
    report = originals / "informe.txt"
    report.write_text("Informe del rio", encoding="utf-8")

    pdf_material = _material(admin, space, land, "Guía")
    import_material_file(admin.profile, pdf_material, guide)
    two_files = _material(admin, space, land, "Acta y mapa")
    import_material_file(admin.profile, two_files, notes)
    import_material_file(admin.profile, two_files, big)
    elsewhere = _material(admin, space, water, "Informe")
    import_material_file(admin.profile, elsewhere, report)
    pushed = admin.sync()
    assert pushed.chunks_up == 1 + 1 + 3 + 1

    # The member keeps the land group offline, while online, through the app's sync link.
    link = SyncLink(member.profile, {})
    materials = MaterialStore.of(member.profile)
    try:
        link.sync()  # the records arrive; no file is kept offline yet
        assert materials.wanted() == []
        assert {
            f.held
            for m in (pdf_material, two_files, elsewhere)
            for f in materials.file_states(m.id)
        } == {False}
        materials.pin_group(land.id)
        fetched = link.sync()
        assert fetched.files_received == 3
        assert materials.wanted() == []
        assert not any(f.held for f in materials.file_states(elsewhere.id))
        # The PDF that arrived had its text indexed after the sync, from memory.
        assert materials.files_needing_text() == []

        server.process.stop()  # offline from here on

        opened = open_material(member.profile, pdf_material.id)
        assert opened.opened is not None and opened.opened.data == guide.read_bytes()
        both = open_material(member.profile, two_files.id)
        assert [f.file.filename for f in both.files] == ["acta.txt", "mapa.bin"]
        for state in both.files:
            data = open_material(member.profile, two_files.id, state.file.id).opened
            assert data is not None
            assert data.data == (originals / state.file.filename).read_bytes()

        with pytest.raises(MaterialFileMissing):
            open_material(member.profile, elsewhere.id)
        [unpinned] = materials.files(elsewhere.id)
        with pytest.raises(Offline):
            link.download(unpinned)

        # Search reaches a word inside the PDF, offline, from the encrypted index.
        assert materials.search("desalojos") == [pdf_material.id]
        assert materials.search("desalojos", water.id) == []
    finally:
        link.close()

    # The PDF's text (the canary) is in no file anywhere but the sealed ones, where it is
    # encrypted: not in either profile (database, WAL, vault) nor on the server.
    guide.unlink()
    assert (
        files_containing([admin.profile.folder, member.profile.folder, server.data_dir], CANARY)
        == []
    )


def test_a_file_downloaded_on_demand_opens_and_unpinning_frees_it(
    server: Server, make_device: Any, tmp_path: Path
) -> None:
    space, (admin, member) = network_of(server, make_with_files(make_device), 2)
    group = admin.records.save(WorkingGroup(space_id=space, name="Tierra"))
    assert isinstance(group, WorkingGroup)
    material = _material(admin, space, group, "Guía")
    pdf = make_pdf(tmp_path / "guia.pdf", ["uno", "asamblea comunitaria"])
    import_material_file(admin.profile, material, pdf)
    admin.sync()

    link = SyncLink(member.profile, {})
    materials = MaterialStore.of(member.profile)
    try:
        link.sync()
        [file] = materials.files(material.id)
        assert not materials.held(file)
        assert link.download(file)  # on demand, not kept offline
        assert open_material(member.profile, material.id).opened.data == pdf.read_bytes()  # type: ignore[union-attr]
        assert materials.search("asamblea") == [material.id]
        # Keeping it offline, then not: the file goes (the server holds its chunks).
        materials.pin_material(material.id)
        assert materials.unpin_material(material.id) == 1
        assert not materials.held(file)
        assert materials.search("asamblea") == [material.id]  # its text stays searchable
    finally:
        link.close()
