"""Evidence is kept as it is, but recorded as what its content is: a random file named ``.pdf``
is stored with the type its bytes show, the editor says it is not what its name says, and the
type column does not trust the extension."""

from __future__ import annotations

import random
from pathlib import Path

from pytestqt.qtbot import QtBot

from desktop.ui.incidents.page import IncidentsPage

from .conftest import make_pdf, open_new_editor

WAIT = 5_000


def test_a_mislabelled_file_is_kept_as_what_it_is_and_the_person_told(
    page: IncidentsPage, qtbot: QtBot, tmp_path: Path
) -> None:
    editor = open_new_editor(page, qtbot)
    editor.tabs.setCurrentWidget(editor.evidence)
    fake = tmp_path / "acta.pdf"
    # Bytes fixed, not os.urandom: random bytes now and then begin like some text format
    # (a run here sniffed "text/x-matlab"), and the test is about a file that is nothing.
    fake.write_bytes(b"\x00\xff" + random.Random(19).randbytes(3998))
    real = make_pdf(tmp_path / "informe.pdf", "Informe")
    editor.evidence.import_files([fake, real])
    qtbot.waitUntil(lambda: len(editor.bundle.evidence) == 2, timeout=WAIT)
    types = {e.filename: e.media_type for e in editor.bundle.evidence}
    assert types == {"acta.pdf": "application/octet-stream", "informe.pdf": "application/pdf"}
    assert editor.evidence.message.isVisible()
    assert "“acta.pdf” is named as PDF document" in editor.evidence.message.text()
    assert "informe.pdf" not in editor.evidence.message.text()
