"""Looking at an evidence file without it ever touching the disk decrypted.

Images through ``QImage.fromData``; PDFs through QtPdf reading a ``QBuffer`` over the bytes.
"""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.records import Evidence
from desktop.domain.translation import _
from desktop.ui.file_types import kind_of, mislabelled_text
from desktop.ui.forms import hold_window_size_hints, paragraph


def is_image(evidence: Evidence) -> bool:
    return evidence.media_type.startswith("image/")


def is_pdf(evidence: Evidence) -> bool:
    return evidence.media_type == "application/pdf"


def damaged_pdf_text() -> str:
    return _(
        "This PDF is damaged: Minga cannot show it. Export it to try another program, or ask "
        "whoever gave it to you for a new copy."
    )


class EvidenceViewer(QDialog):
    """One evidence file shown from memory: an image, a PDF, or a note that it cannot be shown.

    The decrypted bytes live only in this dialog's buffer and are dropped when it closes.
    """

    def __init__(self, evidence: Evidence, data: bytes, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setObjectName("evidenceViewer")
        self.evidence = evidence
        self.image: QImage | None = None
        self.document: QPdfDocument | None = None
        self._buffer: QBuffer | None = None
        layout = QVBoxLayout(self)
        self.content: QWidget
        #: Why the file is not shown, when it is not what it says or is damaged.
        self.problem: str | None = None
        # What the bytes are, not what the name (or an older record) says.
        kind = kind_of(data, evidence.filename)
        if kind.mislabelled:
            self.problem = mislabelled_text(evidence.filename, kind)
            self.content = paragraph(self)
        elif kind.media_type.startswith("image/"):
            self.image = QImage.fromData(data)
            if self.image.isNull():
                self.content = paragraph(self)
            else:
                label = QLabel(self)
                label.setAlignment(Qt.AlignmentFlag.AlignCenter)
                label.setPixmap(QPixmap.fromImage(self.image))
                scroll = QScrollArea(self)
                scroll.setWidget(label)
                scroll.setWidgetResizable(True)
                self.content = scroll
        elif kind.media_type == "application/pdf":
            self._buffer = QBuffer(self)
            self._buffer.setData(QByteArray(data))
            self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
            self.document = QPdfDocument(self)
            self.document.load(self._buffer)
            if self.document.status() != QPdfDocument.Status.Ready:
                self.problem = damaged_pdf_text()  # not an empty grey viewer
                self.content = paragraph(self)
            else:
                view = QPdfView(self)
                view.setPageMode(QPdfView.PageMode.MultiPage)
                view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
                view.setDocument(self.document)
                self.content = view
        else:
            self.content = paragraph(self)
        layout.addWidget(self.content, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.retranslate()
        hold_window_size_hints(self)
        self.resize(800, 640)

    def page_text(self, page: int = 0) -> str:
        """The text of a PDF page, as QtPdf reads it (for the person's search and for tests)."""
        if self.document is None:
            return ""
        return self.document.getAllText(page).text()

    def retranslate(self) -> None:
        self.setWindowTitle(_("Evidence: {filename}").format(filename=self.evidence.filename))
        if isinstance(self.content, QLabel):
            if self.problem is not None:
                self.content.setText(self.problem)
            else:
                self.content.setText(
                    _("This file cannot be shown here. Export it to open it with another program.")
                    if self.image is None
                    else _("This image is damaged or in a format Minga cannot show.")
                )

    def done(self, result: int) -> None:
        # Drop the decrypted bytes now rather than whenever Python collects the dialog.
        if self.document is not None:
            self.document.close()
        if self._buffer is not None:
            self._buffer.close()
            self._buffer.setData(QByteArray())
        self.image = None
        super().done(result)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
