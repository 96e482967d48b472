"""Each text in its own direction: isolating a text inside another, and the direction a
language is typed in.

Arabic in a Spanish sentence (or the reverse) otherwise takes the sentence's direction.
"""

from __future__ import annotations

import unicodedata

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTextEdit,
)

from desktop.domain.translation import is_right_to_left


def isolated(text: str) -> str:
    """``text`` inside Unicode first-strong isolates (U+2068…2069).

    A Spanish name or a date placed into an Arabic sentence (or the reverse) otherwise takes
    the sentence's direction: its final period or its date parts jump to the wrong end.
    """
    return f"\u2068{text}\u2069" if text else text


def left_to_right(text: str) -> str:
    """``text`` inside left-to-right isolates (U+2066…2069): for paths, addresses and codes.

    A path placed into an Arabic sentence otherwise has its leading "/" and its separators
    moved to the wrong end ("tmp/backup.mingabackup /"), and a folder with an Arabic name
    would turn the whole path around.
    """
    return f"\u2066{text}\u2069" if text else text


def on_leading_side(text: str) -> str:
    """``text`` isolated, after a mark of the interface's direction (RLM or LRM).

    A label takes its paragraph direction from its first letter, so a Spanish title on an
    Arabic screen would sit on the left; the mark makes it start where the screen reads from.
    """
    mark = "\u200f" if is_right_to_left() else "\u200e"
    return mark + isolated(text) if text else text


def text_direction_for(language: str) -> Qt.LayoutDirection:
    """Arabic is typed right to left whatever the interface's language."""
    if is_right_to_left(language):
        return Qt.LayoutDirection.RightToLeft
    return Qt.LayoutDirection.LeftToRight


def direction_of(text: str) -> Qt.LayoutDirection | None:
    """The direction ``text`` reads in, from its first strongly directional letter (the Unicode
    bidi rule P2); None for text without one (numbers, punctuation, empty).

    As P2 says, letters inside isolates do not count: "{language} · {kind}: {title}" in Arabic
    with a Spanish language name first is an Arabic sentence, not a Spanish one.
    """
    depth = 0
    for ch in text:
        if ch in "\u2066\u2067\u2068":  # LRI, RLI, FSI
            depth += 1
            continue
        if ch == "\u2069":  # PDI
            depth = max(0, depth - 1)
            continue
        if depth:
            continue
        kind = unicodedata.bidirectional(ch)
        if kind == "L":
            return Qt.LayoutDirection.LeftToRight
        if kind in ("R", "AL"):
            return Qt.LayoutDirection.RightToLeft
    return None


def interface_direction() -> Qt.LayoutDirection:
    return Qt.LayoutDirection.RightToLeft if is_right_to_left() else Qt.LayoutDirection.LeftToRight


def show_in_own_direction(label: QLabel, text: str) -> None:
    """``text`` in ``label`` laid out and aligned in its own direction: an Arabic title reads
    right to left from the right in an English screen, a Spanish one left to right in Arabic."""
    label.setText(text)
    label.setLayoutDirection(direction_of(text) or interface_direction())


def follow_own_direction(edit: QLineEdit | QPlainTextEdit | QTextEdit) -> None:
    """Typing Arabic in a field of a Spanish screen (or the reverse) runs and aligns the way the
    text reads: a line edit takes its text's direction as it changes; a multi-line field sets
    each paragraph's own direction (an Arabic paragraph of "What happened" on the right)."""
    if isinstance(edit, QLineEdit):

        def follow(text: str) -> None:
            edit.setLayoutDirection(direction_of(text) or interface_direction())

        edit.textChanged.connect(follow)
        follow(edit.text())
        return
    document = edit.document()
    option = document.defaultTextOption()
    option.setTextDirection(Qt.LayoutDirection.LayoutDirectionAuto)
    document.setDefaultTextOption(option)


def keep_left_to_right(edit: QLineEdit) -> None:
    """Addresses and codes (a URL, a socks5h:// proxy, an e-mail, a fingerprint) read left to
    right in every interface: mirrored, "socks5h://127.0.0.1:9050" was split at its colons."""
    edit.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
    edit.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignAbsolute)


class OwnDirectionDelegate(QStyledItemDelegate):
    """List cells drawn in their own text's direction: a title that starts in Spanish is not
    scrambled in an Arabic list, and an Arabic title in an English list reads from the right."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: object) -> None:
        super().initStyleOption(option, index)  # type: ignore[arg-type]
        direction = direction_of(option.text)  # type: ignore[attr-defined]
        if direction is not None:
            option.direction = direction  # type: ignore[attr-defined]

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: object) -> None:
        # The style lays the text out in the option's direction and aligns it to that
        # direction's start: set it here too, where the view hands its own direction in.
        direction = direction_of(str(index.data() or ""))  # type: ignore[attr-defined]
        if direction is not None and direction != option.direction:  # type: ignore[attr-defined]
            option = QStyleOptionViewItem(option)
            option.direction = direction  # type: ignore[attr-defined]
        super().paint(painter, option, index)  # type: ignore[arg-type]
