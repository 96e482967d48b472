"""Fixtures for the Working groups screen: a group with members, and multi-page PDFs made here.

The PDFs hold their text uncompressed, so a canary in them can be looked for byte by byte.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop.domain.records import Membership, Organization, Person, WorkingGroup
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.spaces import local_spaces
from desktop.ui.workgroups.page import GroupView, WorkingGroupsPage
from tests.helpers.profiles import new_profile


def make_pdf(path: Path, pages: list[str]) -> Path:
    """A PDF with one line of text per page, uncompressed."""
    count = len(pages)
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(count))
        + b"] /Count %d >>" % count,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for index, text in enumerate(pages):
        stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * index)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    path.write_bytes(bytes(out))
    return path


@pytest.fixture
def profile(app: QApplication, tmp_path: Path) -> Iterator[Profile]:
    profile, _key = new_profile(tmp_path / "profile")
    store = RecordStore(profile.engine)
    space = local_spaces(store).network.id
    group = WorkingGroup(space_id=space, name="Tierra y vivienda", description="Land and housing")
    member = Person(space_id=space, name="Amina Diallo")
    organization = Organization(space_id=space, name="Colectivo Tierra Viva")
    store.save_all(
        [
            group,
            member,
            organization,
            Membership(space_id=space, working_group_id=group.id, person_id=member.id),
            Membership(space_id=space, working_group_id=group.id, organization_id=organization.id),
        ]
    )
    yield profile
    profile.close()


@pytest.fixture
def page(profile: Profile, qtbot: QtBot) -> WorkingGroupsPage:
    page = WorkingGroupsPage(profile)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    return page


@pytest.fixture
def group(page: WorkingGroupsPage, qtbot: QtBot) -> GroupView:
    with qtbot.waitSignal(page.group_opened, timeout=5_000) as opened:
        page.view.clicked.emit(page.model.index(0, 0))
    view = opened.args[0]
    assert isinstance(view, GroupView)
    qtbot.waitUntil(lambda: view.bundle is not None)
    return view
