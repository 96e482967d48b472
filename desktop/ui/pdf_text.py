"""A PDF's text, read by QtPdf from memory, for the encrypted search index.

Used where materials are imported or opened and by the sync link after each sync; reading
from a ``QBuffer`` means no decrypted byte is written to disk. Runs on workers only.
"""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtPdf import QPdfDocument

from desktop.store.materials import MaterialStore
from desktop.store.profile import Profile


def pdf_pages(data: bytes) -> list[str] | None:
    """The text of each page of a PDF held in memory; ``None`` if QtPdf cannot read it."""
    buffer = QBuffer()
    buffer.setData(QByteArray(data))
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    document = QPdfDocument()
    try:
        document.load(buffer)
        if document.status() != QPdfDocument.Status.Ready:
            return None
        return [document.getAllText(page).text() for page in range(document.pageCount())]
    finally:
        document.close()
        buffer.close()
        buffer.setData(QByteArray())


def index_pending_texts(profile: Profile) -> int:
    """Index the text of every PDF here whose text is not indexed yet (after a sync)."""
    store = MaterialStore.of(profile)
    done = 0
    for file in store.files_needing_text():
        pages = pdf_pages(store.open(file.id).data)
        store.index_text(file, pages or [])
        done += 1
    return done
