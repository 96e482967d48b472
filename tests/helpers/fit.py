"""Whether every text a window shows fits where it is shown, measured from font metrics.

Walks the visible widgets of a window and reports each label, button, check box, group title,
tab, header, combo box, placeholder and visible list or table cell whose text needs more room
than it has. No pixels are compared: the widths come from ``QFontMetrics`` and the style's own
margins, so the check means the same in every language and at every font size.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from PySide6 import QtGui
from PySide6.QtCore import QModelIndex, QPoint, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QFontMetrics, QTextDocument, QTextLayout, QTextOption
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QRadioButton,
    QStyle,
    QStyleOptionComboBox,
    QStyleOptionViewItem,
    QTabBar,
    QTableView,
    QToolButton,
    QTreeView,
    QWidget,
)

#: Rounding in layouts and hinting: a pixel or two short is not clipped text.
SLACK = 2


@dataclass(frozen=True)
class Clipped:
    """One text that does not fit: what it is, where, how much room it needs and has."""

    kind: str
    path: str
    text: str
    needed: int
    available: int

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.path}: {self.text!r} needs {self.needed} px, has {self.available}"
        )


def _path(widget: QWidget) -> str:
    names = []
    current: QWidget | None = widget
    while current is not None and len(names) < 4:
        names.append(current.objectName() or type(current).__name__)
        current = current.parentWidget()
    return "/".join(reversed(names))


def _shown(widget: QWidget) -> bool:
    if not widget.isVisible() or widget.width() <= 0 or widget.height() <= 0:
        return False
    # Scrolled out of sight (in a scroll area) is not clipped: the person scrolls to it. What
    # the ancestors' rectangles leave of it, not ``visibleRegion()``: that is empty for some
    # drawn widgets (an empty table's header), which then went unmeasured.
    return not _seen_rect(widget).isEmpty()


def _seen_rect(widget: QWidget) -> QRect:
    """``widget``'s rectangle, in its own coordinates, cut by each ancestor's."""
    seen = widget.rect()
    ancestor = widget.parentWidget() if not widget.isWindow() else None
    while ancestor is not None and not seen.isEmpty():
        seen = seen.intersected(ancestor.rect().translated(-widget.mapTo(ancestor, QPoint(0, 0))))
        ancestor = ancestor.parentWidget() if not ancestor.isWindow() else None
    return seen


def _plain(text: str) -> str:
    # Mnemonic ampersands and bidi marks take no room.
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def _label(label: QLabel) -> Clipped | None:
    text = label.text()
    if not text or (label.pixmap() is not None and not label.pixmap().isNull()):
        return None
    rect = label.contentsRect()
    margin = label.margin() * 2 + max(label.indent(), 0)
    width = rect.width() - margin
    rich = label.textFormat() == Qt.TextFormat.RichText or (
        label.textFormat() == Qt.TextFormat.AutoText and QtGui.Qt.mightBeRichText(text)
    )
    if rich:
        document = QTextDocument()
        document.setDefaultFont(label.font())
        document.setHtml(text)
        document.setDocumentMargin(0)
        if label.wordWrap():
            document.setTextWidth(width)
            needed = int(document.size().height())
            if needed > rect.height() + SLACK:
                return Clipped("label", _path(label), document.toPlainText(), needed, rect.height())
            return None
        needed = int(document.idealWidth())
        if needed > width + SLACK:
            return Clipped("label", _path(label), document.toPlainText(), needed, width)
        return None
    metrics = QFontMetrics(label.font())
    if label.wordWrap():
        needed = label.heightForWidth(rect.width() + margin)
        bounds = metrics.boundingRect(
            QRect(0, 0, max(width, 1), 100_000), int(Qt.TextFlag.TextWordWrap), text
        )
        needed = max(needed, bounds.height()) if needed > 0 else bounds.height()
        # A single word longer than the width cannot wrap: that is clipped too.
        widest = max((metrics.horizontalAdvance(word) for word in text.split()), default=0)
        if widest > width + SLACK:
            return Clipped("label", _path(label), text, widest, width)
        if needed > rect.height() + SLACK:
            return Clipped("label (height)", _path(label), text, needed, rect.height())
        return None
    needed = max(metrics.horizontalAdvance(line) for line in _plain(text).split("\n"))
    if needed > width + SLACK:
        return Clipped("label", _path(label), text, needed, width)
    return None


def _glyph_lines(label: QLabel) -> list[list[QRectF]]:
    """The ink of each glyph of a plain label, line by line, laid out as the label lays out its
    text: each paragraph wrapped at the label's width, its lines one line height apart in the
    font that draws them (for Arabic, a fallback font with lines of its own height)."""
    width = label.contentsRect().width() - label.margin() * 2 - max(label.indent(), 0)
    wrap = QTextOption.WrapMode.WordWrap if label.wordWrap() else QTextOption.WrapMode.NoWrap
    top = 0.0
    lines: list[list[QRectF]] = []
    for paragraph in _plain(label.text()).split("\n"):
        layout = QTextLayout(paragraph, label.font())
        option = QTextOption()
        option.setWrapMode(wrap)
        option.setTextDirection(label.layoutDirection())
        layout.setTextOption(option)
        layout.beginLayout()
        while (line := layout.createLine()).isValid():
            line.setLineWidth(max(width, 1))
            line.setPosition(QPointF(0, top))
            top += line.height()
        layout.endLayout()
        for index in range(layout.lineCount()):
            ink = []
            for run in layout.lineAt(index).glyphRuns():
                font = run.rawFont()
                for glyph, position in zip(run.glyphIndexes(), run.positions(), strict=True):
                    bounds = font.boundingRect(glyph)
                    if not bounds.isEmpty():
                        ink.append(bounds.translated(position))
            lines.append(ink)
    return lines


def _touching_lines(label: QLabel) -> Clipped | None:
    """A label of several lines (its own line breaks) whose lines' ink meets: a mark above one
    line within ``SLACK`` of a letter of the line before, one over the other. Latin lines in the
    UI font keep 4 px or more between them; Arabic drawn in a fallback font with shorter lines
    (14 px, not 17) had its marks touch the line above in the Sync box."""
    if "\n" not in label.text() or label.textFormat() == Qt.TextFormat.RichText:
        return None
    lines = _glyph_lines(label)
    closest: float | None = None
    for upper, lower in pairwise(lines):
        for above in upper:
            for below in lower:
                if above.right() > below.left() and below.right() > above.left():
                    gap = below.top() - above.bottom()
                    closest = gap if closest is None else min(closest, gap)
    if closest is not None and closest < SLACK:
        return Clipped("lines touch", _path(label), label.text(), SLACK, int(closest))
    return None


def _button(button: QAbstractButton) -> Clipped | None:
    text = button.text()
    if not text:
        return None
    if isinstance(button, QToolButton) and (
        button.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly
    ):
        return None
    needed = button.sizeHint().width()
    kinds = (QCheckBox, QRadioButton, QPushButton, QToolButton)
    if isinstance(button, kinds) and needed > button.width() + SLACK:
        return Clipped(type(button).__name__, _path(button), text, needed, button.width())
    return None


def _combo(combo: QComboBox) -> Clipped | None:
    text = combo.currentText() or combo.placeholderText()
    if not text or combo.isEditable():
        return None
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    field = combo.style().subControlRect(
        QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, combo
    )
    metrics = QFontMetrics(combo.font())
    if combo.hasHeightForWidth():
        # A combo box whose text wraps (WrappingComboBox): each word fits the text field, and
        # the box is as tall as the lines it wraps into.
        widest = max((metrics.horizontalAdvance(word) for word in text.split()), default=0)
        if widest > field.width() + SLACK:
            return Clipped("combo box", _path(combo), text, widest, field.width())
        needed = combo.heightForWidth(combo.width())
        if needed > combo.height() + SLACK:
            return Clipped("combo box (height)", _path(combo), text, needed, combo.height())
        return None
    needed = metrics.horizontalAdvance(text)
    if needed > field.width() + SLACK:
        return Clipped("combo box", _path(combo), text, needed, field.width())
    return None


def _line_edit(edit: QLineEdit) -> Clipped | None:
    text = edit.placeholderText() if not edit.text() else ""
    if not text:
        return None
    margins = edit.textMargins()
    # The frame and the text's side margins (QLineEdit keeps 2 px each side), and the clear
    # button's room when it has one.
    room = edit.contentsRect().width() - margins.left() - margins.right() - 4
    if edit.isClearButtonEnabled():
        room -= edit.height() - 4
    needed = QFontMetrics(edit.font()).horizontalAdvance(text)
    if needed > room + SLACK:
        return Clipped("placeholder", _path(edit), text, needed, room)
    return None


def _group(box: QGroupBox) -> Clipped | None:
    text = box.title()
    if not text:
        return None
    needed = QFontMetrics(box.font()).horizontalAdvance(_plain(text)) + 16
    if box.isCheckable():
        needed += 20
    if needed > box.width() + SLACK:
        return Clipped("group title", _path(box), text, needed, box.width())
    return None


def _tabs(bar: QTabBar) -> list[Clipped]:
    found = []
    for index in range(bar.count()):
        if not bar.isTabVisible(index):
            continue
        needed, has = bar.tabSizeHint(index).width(), bar.tabRect(index).width()
        if needed > has + SLACK and not bar.tabRect(index).isEmpty():
            found.append(Clipped("tab", _path(bar), bar.tabText(index), needed, has))
    return found


def _header(header: QHeaderView) -> list[Clipped]:
    model = header.model()
    if model is None or header.orientation() != Qt.Orientation.Horizontal:
        return []
    found = []
    metrics = QFontMetrics(header.font())
    margin = header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header)
    for section in range(header.count()):
        if header.isSectionHidden(section):
            continue
        position = header.sectionViewportPosition(section)
        if position + header.sectionSize(section) <= 0 or position >= header.viewport().width():
            continue  # scrolled out of sight
        text = str(model.headerData(section, Qt.Orientation.Horizontal) or "")
        if not text:
            continue
        needed = metrics.horizontalAdvance(text) + 2 * margin
        has = header.sectionSize(section)
        if needed > has + SLACK:
            found.append(Clipped("header", _path(header), text, needed, has))
    return found


def _cells(view: QAbstractItemView) -> list[Clipped]:
    model = view.model()
    if model is None or (isinstance(view, QTreeView) and not isinstance(view, QTableView)):
        pass
    if model is None:
        return []
    found = []
    viewport = view.viewport().rect()
    rows = model.rowCount()
    columns = model.columnCount() if isinstance(view, QTableView) else 1
    option = QStyleOptionViewItem()
    option.initFrom(view)
    option.font = view.font()
    wraps = isinstance(view, QListView) and view.wordWrap()
    # A table whose rows are made tall for their wrapped text (a CSV report's reasons): a text
    # fits when its lines, wrapped at the cell's width, fit the row's height. Measured by laying
    # the text out, not by counting the view font's line spacing: Arabic drawn in a fallback
    # font (DejaVu Sans beside a Noto Sans UI font) has lines 14 px tall where the UI font's
    # spacing says 17, and a two-line row of 29 px shows both lines whole.
    table_wraps = isinstance(view, QTableView) and view.wordWrap()
    metrics = QFontMetrics(view.font())
    for row in range(min(rows, 200)):
        for column in range(columns):
            index = model.index(row, column, QModelIndex())
            rect = view.visualRect(index)
            if rect.isEmpty() or not rect.intersects(viewport):
                continue
            text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
            if not text:
                continue
            option.rect = rect
            hint = view.itemDelegateForIndex(index).sizeHint(option, index)
            # What the viewport shows of the cell, sideways: a list wider than its view is cut.
            # (Up and down it scrolls: a row half below the edge is not clipped.)
            if not isinstance(view, QTableView):
                shown = rect.intersected(viewport)
                rect = QRect(shown.left(), rect.top(), shown.width(), rect.height())
            if table_wraps:
                # The style's text margin each side, as QCommonStyle lays out a cell's text.
                room = rect.width() - 2 * (
                    view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view)
                    + 1
                )
                lines = metrics.boundingRect(
                    QRect(0, 0, max(room, 1), 100_000), int(Qt.TextFlag.TextWordWrap), text
                )
                widest = max((metrics.horizontalAdvance(word) for word in text.split()), default=0)
                if widest > room + SLACK:
                    found.append(Clipped("cell", _path(view), text, widest, room))
                elif lines.height() > rect.height() + SLACK:
                    found.append(
                        Clipped("cell (height)", _path(view), text, lines.height(), rect.height())
                    )
            elif wraps:
                if hint.height() > rect.height() + SLACK:
                    found.append(
                        Clipped("cell (height)", _path(view), text, hint.height(), rect.height())
                    )
            elif hint.width() > rect.width() + SLACK:
                # A cell elided with its whole text in the tooltip is a choice, not a fault:
                # only the list's main column may do that (first column of a list's table).
                tooltip = index.data(Qt.ItemDataRole.ToolTipRole)
                if isinstance(view, QTableView) and column == 0 and tooltip == text:
                    continue
                found.append(Clipped("cell", _path(view), text, hint.width(), rect.width()))
    return found


def _text_of(widget: QWidget) -> str:
    for getter in ("text", "title", "currentText", "placeholderText"):
        method = getattr(widget, getter, None)
        if callable(method):
            value = method()
            if isinstance(value, str) and value:
                return value
    return ""


def _cut_sideways(widget: QWidget) -> Clipped | None:
    """A text widget partly outside what its parents show sideways (a page wider than its
    window, a widget under another one): its text is cut even if it fits the widget."""
    if not isinstance(widget, (QLabel, QAbstractButton, QComboBox, QLineEdit, QGroupBox)):
        return None
    text = _text_of(widget)
    if not text:
        return None
    visible = widget.visibleRegion().boundingRect().width()
    if visible < widget.width() - SLACK:
        return Clipped("cut sideways", _path(widget), text, widget.width(), visible)
    return None


_TEXT_WIDGETS = (QLabel, QAbstractButton, QComboBox, QLineEdit, QAbstractItemView)


def _overlaps(widget: QWidget) -> list[Clipped]:
    """Text widgets of one parent drawn over one another (a row that wrapped into the next)."""
    children = [
        child
        for child in widget.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
        if isinstance(child, _TEXT_WIDGETS) and child.isVisible() and not child.isWindow()
    ]
    found = []
    for index, first in enumerate(children):
        for second in children[index + 1 :]:
            shared = first.geometry().intersected(second.geometry())
            if shared.width() > SLACK and shared.height() > SLACK:
                text = f"{_text_of(first)!r} over {_text_of(second)!r}"
                found.append(Clipped("overlap", _path(first), text, shared.height(), 0))
    return found


def clipped_texts(window: QWidget) -> list[Clipped]:
    """Every text shown in ``window`` (and its open child windows) that does not fit."""
    found: list[Clipped] = []
    widgets = [window, *window.findChildren(QWidget)]
    for widget in widgets:
        if not _shown(widget):
            continue
        found += _overlaps(widget)
        item: Clipped | None = _cut_sideways(widget)
        if item is not None:
            found.append(item)
            continue
        if isinstance(widget, QLabel):
            item = _label(widget) or _touching_lines(widget)
        elif isinstance(widget, QAbstractButton):
            if widget.parentWidget() is not None and isinstance(widget.parentWidget(), QTabBar):
                continue  # a tab's close or scroll button
            item = _button(widget)
        elif isinstance(widget, QComboBox):
            item = _combo(widget)
        elif isinstance(widget, QLineEdit):
            item = _line_edit(widget)
        elif isinstance(widget, QGroupBox):
            item = _group(widget)
        elif isinstance(widget, QTabBar):
            found += _tabs(widget)
        elif isinstance(widget, QHeaderView):
            found += _header(widget)
        elif isinstance(widget, QAbstractItemView):
            found += _cells(widget)
        if item is not None:
            found.append(item)
    return found
