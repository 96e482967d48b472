"""Reading a material in the app: PDFs page by page (QtPdf over memory), images and plain text.

The decrypted bytes live in this widget's buffer only, and are dropped when it closes.
"""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QPointF, Qt, QUrl, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.translation import _, format_number
from desktop.ui.file_types import kind_of, mislabelled_text
from desktop.ui.forms import paragraph
from desktop.ui.workgroups.files import OpenedFile

_TEXT_TYPES = ("text/", "application/json", "application/xml")


class QuietBrowser(QTextBrowser):
    """Shows rendered text and loads nothing it names: no image or file from this computer or
    the network (a shared material could otherwise show the reader's own files)."""

    def loadResource(self, kind: int, name: QUrl) -> object:
        return None


class MaterialReader(QWidget):
    """One file shown from memory, with page turning for PDFs.

    Signals:
        page_changed(int): the 0-based page now shown (PDFs only).
    """

    page_changed = Signal(int)

    def __init__(self, opened: OpenedFile, page: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("materialReader")
        self.opened_name = opened.filename
        self.document: QPdfDocument | None = None
        self.image: QImage | None = None
        self._buffer: QBuffer | None = None
        self.view: QPdfView | None = None
        self.previous_button = QPushButton(self)
        self.next_button = QPushButton(self)
        self.page_label = QLabel(self)
        self.previous_button.clicked.connect(lambda: self.go_to(self.page - 1))
        self.next_button.clicked.connect(lambda: self.go_to(self.page + 1))
        navigation = QHBoxLayout()
        navigation.addWidget(self.previous_button)
        navigation.addWidget(self.page_label)
        navigation.addWidget(self.next_button)
        navigation.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(navigation)
        self.content: QWidget
        #: Why the file is not shown, when it is not what it says or is damaged.
        self.problem: str | None = None
        kind = kind_of(opened.data, opened.filename)
        if kind.mislabelled:
            self.problem = mislabelled_text(opened.filename, kind)
            self.content = paragraph(self)
        elif kind.media_type == "application/pdf":
            self._buffer = QBuffer(self)
            self._buffer.setData(QByteArray(opened.data))
            self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
            self.document = QPdfDocument(self)
            self.document.load(self._buffer)
            if self.document.status() != QPdfDocument.Status.Ready:
                # Not an empty grey viewer: say what is wrong.
                self.problem = _(
                    "This PDF is damaged: Minga cannot show it. Ask whoever shared it for a new "
                    "copy."
                )
                self.document.close()
                self.document = None
                self.content = paragraph(self)
            else:
                self.view = QPdfView(self)
                self.view.setPageMode(QPdfView.PageMode.SinglePage)
                self.view.setZoomMode(QPdfView.ZoomMode.FitInView)
                self.view.setDocument(self.document)
                self.view.pageNavigator().currentPageChanged.connect(self._page_shown)
                self.content = self.view
        elif kind.media_type == "text/markdown":
            # Rendered, not shown as its source. Read only; links are not followed and no
            # image is fetched (QTextBrowser loads nothing from the network).
            browser = QuietBrowser(self)
            browser.setOpenLinks(False)
            browser.setMarkdown(opened.data.decode("utf-8", errors="replace"))
            self.content = browser
        elif kind.media_type.startswith("image/"):
            self.image = QImage.fromData(opened.data)
            label = QLabel(self)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            if not self.image.isNull():
                label.setPixmap(QPixmap.fromImage(self.image))
            scroll = QScrollArea(self)
            scroll.setWidget(label)
            scroll.setWidgetResizable(True)
            self.content = scroll
        elif kind.media_type.startswith(_TEXT_TYPES):
            text = QPlainTextEdit(self)
            text.setReadOnly(True)
            text.setPlainText(opened.data.decode("utf-8", errors="replace"))
            self.content = text
        else:
            self.content = paragraph(self)
        layout.addWidget(self.content, 1)
        for widget in (self.previous_button, self.next_button, self.page_label):
            widget.setVisible(self.document is not None)
        self.retranslate()
        if self.document is not None:
            self.go_to(page)

    @property
    def page_count(self) -> int:
        return self.document.pageCount() if self.document is not None else 0

    @property
    def page(self) -> int:
        return self.view.pageNavigator().currentPage() if self.view is not None else 0

    def go_to(self, page: int) -> None:
        if self.view is None or self.page_count == 0:
            return
        page = min(max(page, 0), self.page_count - 1)
        self.view.pageNavigator().jump(page, QPointF())
        # A jump may set a fixed zoom; the page must keep fitting the window whole.
        self.view.setZoomMode(QPdfView.ZoomMode.FitInView)
        self._update_navigation()

    def page_text(self) -> str:
        if self.document is None:
            return ""
        return self.document.getAllText(self.page).text()

    def _page_shown(self, page: int) -> None:
        self._update_navigation()
        self.page_changed.emit(page)

    def _update_navigation(self) -> None:
        if self.document is None:
            return
        self.page_label.setText(
            _("Page {page} of {count}").format(
                page=format_number(self.page + 1), count=format_number(self.page_count)
            )
        )
        self.previous_button.setEnabled(self.page > 0)
        self.next_button.setEnabled(self.page < self.page_count - 1)

    def release(self) -> None:
        """Drop the decrypted bytes now rather than whenever Python collects the widget."""
        if self.document is not None:
            self.document.close()
        if self._buffer is not None:
            self._buffer.close()
            self._buffer.setData(QByteArray())
        self.image = None

    def retranslate(self) -> None:
        self.previous_button.setText(_("Previous page"))
        self.next_button.setText(_("Next page"))
        self._update_navigation()
        if isinstance(self.content, QLabel):
            self.content.setText(
                self.problem
                or _("This file cannot be shown here. Export it to open it with another program.")
            )
        elif self.image is not None and self.image.isNull():
            label = self.content.findChild(QLabel)
            if label is not None:
                label.setText(_("This image is damaged or in a format Minga cannot show."))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
