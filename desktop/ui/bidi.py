"""Each text in its own direction: isolating a text inside another, and the direction a
language is typed in.

Arabic in a Spanish sentence (or the reverse) otherwise takes the sentence's direction.
"""

from __future__ import annotations

from PySide6.QtCore import Qt

from desktop.domain.translation import is_right_to_left


def isolated(text: str) -> str:
    """``text`` inside Unicode first-strong isolates (U+2068…2069).

    A Spanish name or a date placed into an Arabic sentence (or the reverse) otherwise takes
    the sentence's direction: its final period or its date parts jump to the wrong end.
    """
    return f"\u2068{text}\u2069" if text else text


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
