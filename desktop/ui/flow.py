"""A layout that wraps: its widgets in reading order, on as many lines as the width needs.

Filter bars use it so that at 1024×680, or in a longer language, a combo box moves to the next
line instead of being squeezed until its text is cut. Right to left, lines start on the right.
Widgets take their size hint (never below their minimum); one ``stretch_last`` widget per line
may take the rest of the line's width.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QStyle, QWidget, QWidgetItem


class FlowLayout(QLayout):
    """Items left to right (right to left in Arabic), wrapping onto new lines."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self._stretching: set[int] = set()
        self._width = 0  # the width last laid out at
        self.setContentsMargins(0, 0, 0, 0)

    # --- QLayout's interface --------------------------------------------------------------------

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def add_widget(self, widget: QWidget, *, stretch: bool = False) -> None:
        """Add ``widget``; with ``stretch`` it takes whatever width its line leaves."""
        self.addChildWidget(widget)
        if stretch:
            self._stretching.add(len(self._items))
        self._items.append(QWidgetItem(widget))
        self.invalidate()

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        if not 0 <= index < len(self._items):
            return None
        self._stretching = {i - (i > index) for i in self._stretching if i != index}
        return self._items.pop(index)

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation.Horizontal

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect: QRect) -> None:
        before = self.heightForWidth(self._width) if self._width > 0 else -1
        super().setGeometry(rect)
        self._arrange(rect, apply=True)
        if rect.width() != self._width:
            self._width = rect.width()
            if self.heightForWidth(rect.width()) != before:
                self.invalidate()  # the lines changed: the layouts above ask again

    def sizeHint(self) -> QSize:
        width = sum(self._hint(item).width() for item in self._shown()) + self._spacing * max(
            len(self._shown()) - 1, 0
        )
        height = max((self._hint(item).height() for item in self._shown()), default=0)
        return QSize(width, height)

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self._shown():
            size = size.expandedTo(self._hint(item))
        margins = self.contentsMargins()
        size += QSize(margins.left() + margins.right(), margins.top() + margins.bottom())
        # As tall as the lines need at the width last given: a layout above that does not ask
        # for height-for-width (a group box in a page) must not squeeze the wrapped lines into
        # one, where they would overlap what follows.
        if self._width > 0:
            size.setHeight(max(size.height(), self.heightForWidth(self._width)))
        return size

    # --- arranging ------------------------------------------------------------------------------

    def _shown(self) -> list[QLayoutItem]:
        return [item for item in self._items if not item.isEmpty()]

    @staticmethod
    def _hint(item: QLayoutItem) -> QSize:
        return item.sizeHint().expandedTo(item.minimumSize())

    def _arrange(self, rect: QRect, *, apply: bool) -> int:
        margins = self.contentsMargins()
        area = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        lines: list[list[int]] = [[]]
        used = 0
        for index, item in enumerate(self._items):
            if item.isEmpty():
                continue
            width = self._hint(item).width()
            needed = width if not lines[-1] else used + self._spacing + width
            if lines[-1] and needed > area.width():
                lines.append([index])
                used = width
            else:
                lines[-1].append(index)
                used = needed
        y = area.y()
        right_to_left = self.parentWidget() is not None and (
            self.parentWidget().layoutDirection() == Qt.LayoutDirection.RightToLeft
        )
        for line in lines:
            if not line:
                continue
            hints = [self._hint(self._items[i]) for i in line]
            height = max(hint.height() for hint in hints)
            free = area.width() - sum(h.width() for h in hints) - self._spacing * (len(line) - 1)
            x = area.x()
            for index, hint in zip(line, hints, strict=True):
                width = hint.width()
                if index in self._stretching and free > 0:
                    width += free
                    free = 0
                width = min(width, area.width())
                if apply:
                    box = QRect(
                        QPoint(x, y + (height - hint.height()) // 2), QSize(width, hint.height())
                    )
                    if right_to_left:
                        box = QStyle.visualRect(Qt.LayoutDirection.RightToLeft, area, box)
                    self._items[index].setGeometry(box)
                x += width + self._spacing
            y += height + self._spacing
        # No line at all (every item hidden) takes no spacing either: -6 px here took 6 px off
        # the label above it in a box layout (a detail's "None yet.", cut in half at 720x520).
        lines_height = max(0, y - self._spacing - area.y())
        return lines_height + margins.top() + margins.bottom()
