"""Pieces the forms share: passphrase fields, labelled fields with their problems under them, the
busy indicator, the bar of a job on a worker, headings and messages.

Kept small and Qt-only; the words they show are chosen by the screens that use them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from babel.lists import format_list
from PySide6.QtCore import QRect, QSize, Qt, QTimer
from PySide6.QtGui import QMouseEvent, QPaintEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QListView,
    QListWidget,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid
from sqlalchemy.exc import DBAPIError

from desktop.domain import vocabularies as vocab
from desktop.domain.translation import N_, _, babel_locale, format_number, ngettext
from desktop.domain.validation import FieldError
from desktop.store.profile import PASSPHRASE_MIN_LENGTH, ProfileError, WeakPassphrase
from desktop.store.records import DamagedRows, is_damage
from desktop.ui.bidi import OwnDirectionDelegate
from desktop.ui.field_labels import field_label
from desktop.ui.jobs import Job, JobState, run_job

log = logging.getLogger(__name__)


def hold_window_size_hints(window: QWidget, minimum_width: int = 0) -> None:
    """Let ``window``'s layout size its content but never re-constrain the window once shown.

    A layout normally raises its window's minimum size whenever a label grows. Platforms that
    cannot pass size hints on (offscreen: tests and headless runs) warn on every such change,
    and a window resizing itself under the cursor is jumpy anyway. So the minimum is set once,
    before the window exists on screen, and :func:`grow_to_fit` enlarges it when text grows.
    """
    layout = window.layout()
    if layout is not None:
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        minimum = layout.minimumSize()
        window.setMinimumSize(max(minimum.width(), minimum_width), minimum.height())
    window.resize(window.sizeHint().expandedTo(window.minimumSize()))


def grow_to_fit(window: QWidget) -> None:
    """Enlarge a shown window whose content (a message, a longer translation) needs more room."""
    if not isinstance(window, QDialog) or not window.isVisible():
        return  # the main window scrolls its content instead
    layout = window.layout()
    if layout is not None:
        layout.activate()
    wanted = window.sizeHint().expandedTo(window.size())
    if wanted != window.size():
        window.resize(wanted)


def heading(parent: QWidget | None = None) -> QLabel:
    label = QLabel(parent)
    label.setProperty("role", "heading")
    label.setWordWrap(True)
    return label


def paragraph(parent: QWidget | None = None) -> QLabel:
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class LineStack(QWidget):
    """Lines of text one under another, each its own label at least a line of the UI font tall.

    A single label spaces its lines by the font that draws them: Arabic, drawn in a fallback
    font (DejaVu Sans beside a Noto Sans UI font), got 14 px lines where Latin text gets 17,
    and the marks above one line (أُ، يُ) met the letters of the line before in the Sync box.
    ``text()`` and ``setText()`` read and take the lines joined by newlines, as a label's do.
    """

    def __init__(self, parent: QWidget | None = None, *, selectable: bool = False) -> None:
        super().__init__(parent)
        self._text = ""
        self._tone = ""
        self._selectable = selectable
        self._lines: list[QLabel] = []
        self._column = QVBoxLayout(self)
        self._column.setContentsMargins(0, 0, 0, 0)
        self._column.setSpacing(0)

    def text(self) -> str:
        return self._text

    def clear(self) -> None:
        self.setText("")

    def set_tone(self, tone: str) -> None:
        """Every line in the style sheet's ``tone`` ("error", "warning", "success" or "")."""
        self._tone = tone
        for label in self._lines:
            self._apply_tone(label)

    def _apply_tone(self, label: QLabel) -> None:
        if label.property("tone") != self._tone:
            label.setProperty("tone", self._tone)
            label.style().unpolish(label)
            label.style().polish(label)

    def lines(self) -> list[QLabel]:
        """The labels showing a line now."""
        return [label for label in self._lines if not label.isHidden()]

    def setText(self, text: str) -> None:
        self._text = text
        parts = text.split("\n") if text else []
        while len(self._lines) < len(parts):
            label = QLabel(self)
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
            if self._selectable:
                label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._apply_tone(label)
            self._column.addWidget(label)
            self._lines.append(label)
        for index, label in enumerate(self._lines):
            label.setText(parts[index] if index < len(parts) else "")
            label.setMinimumHeight(label.fontMetrics().lineSpacing())
            label.setHidden(index >= len(parts))


class MessageLabel(QLabel):
    """A line that tells the person what went wrong, hidden while there is nothing to say."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "error")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        #: Scrolled into view when it speaks (a field's own line is not: the summary is).
        self.brings_into_view = True
        #: Who said what is shown (``say``'s ``source``), so that it alone takes it back.
        self.source: str | None = None
        self.hide()

    def say(self, message: str, tone: str = "error", *, source: str | None = None) -> None:
        """Show ``message``; ``tone`` "success" or "hint" for news that is not a failure.

        ``source`` names the one job that may take the message back (``withdraw``): a line
        shared by several jobs must not lose one's news when another one finishes."""
        self.source = source if message else None
        if self.property("role") != tone:
            self.setProperty("role", tone)
            self.style().unpolish(self)
            self.style().polish(self)
        self.setText(message)
        self.setVisible(bool(message))
        if message:
            grow_to_fit(self.window())
            # Below the fold of a scrolled page (a working group's), a message said nothing to
            # the person looking at the top: bring it into view once it is laid out.
            if self.brings_into_view:
                # After the scroll area has fitted its content to what was just shown.
                QTimer.singleShot(50, self._bring_into_view)

    def _bring_into_view(self) -> None:
        if not isValid(self) or not self.isVisible():
            return
        parent = self.parentWidget()
        while parent is not None:
            if isinstance(parent, QScrollArea):
                # With room below for the buttons that usually follow (Save, Cancel).
                parent.ensureWidgetVisible(self, 0, 48)
            parent = parent.parentWidget()

    def clear_message(self) -> None:
        self.say("")

    def withdraw(self, source: str) -> None:
        """Clear the message if ``source`` said it; what another said since stays."""
        if self.source == source:
            self.clear_message()


class PassphraseField(QLineEdit):
    """A masked line for a passphrase; nothing typed here is ever copied out of it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEchoMode(QLineEdit.EchoMode.Password)
        # Password echo already disables copy and drag; autocompletion would keep a history.
        self.setInputMethodHints(
            Qt.InputMethodHint.ImhHiddenText
            | Qt.InputMethodHint.ImhSensitiveData
            | Qt.InputMethodHint.ImhNoPredictiveText
        )
        self.setMinimumWidth(280)

    def take(self) -> str:
        """The passphrase, leaving the field empty (Python cannot wipe a str; at least drop it)."""
        text = self.text()
        self.clear()
        return text


def new_passphrase_problem(first: str, second: str) -> str:
    """Why two typed new passphrases cannot be used, in the person's language; ``""`` if fine."""
    if len(first.strip()) < PASSPHRASE_MIN_LENGTH:
        return WeakPassphrase().user_message()
    if first != second:
        return _("The two passphrases are not the same. Please type them again.")
    return ""


class BusyIndicator(QWidget):
    """A moving bar and a sentence, shown while a slow job (a key derivation) runs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 0)  # no percentage is known: an Argon2id pass has no milestones
        self.bar.setTextVisible(False)
        self.bar.setFixedWidth(96)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.bar)
        layout.addWidget(self.label, 1)
        self.setVisible(False)

    @property
    def busy(self) -> bool:
        return not self.isHidden()

    def start(self, message: str) -> None:
        self.label.setText(message)
        self.show()
        grow_to_fit(self.window())

    def set_message(self, message: str) -> None:
        self.label.setText(message)

    def stop(self) -> None:
        self.hide()


class JobProgress(QProgressBar):
    """The bar of a job on a worker (a backup, a bundle), hidden until the job starts.

    It shows per mille of what the job reports (byte counts can pass what a bar holds), and
    moves without a share while no total is known. It holds the job while it runs, one at a
    time, and hides when the job fails or is stopped, and when it succeeds unless asked to
    stay, full, to show it done.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job: Job | None = None
        self.setRange(0, 1000)
        self.hide()

    @property
    def running(self) -> bool:
        return self.job is not None

    def run(
        self,
        function: Callable[[JobState], Any],
        *,
        on_success: Callable[[Any], None],
        on_failure: Callable[[BaseException], None],
        on_note: Callable[[str], None] | None = None,
        total_known: bool = True,
        stays_when_done: bool = False,
    ) -> Job | None:
        """Start ``function`` on a worker; None if a job of this bar runs already.

        ``on_note`` gets the notes the job reports with its progress; ``total_known`` False
        starts the bar moving, without a share, until the job reports a total.
        """
        if self.job is not None:
            return None
        if total_known:
            self.setRange(0, 1000)
            self.setValue(0)
        else:
            self.setRange(0, 0)
        self.show()

        def succeeded(value: Any) -> None:
            self.job = None
            if stays_when_done:
                self.setValue(self.maximum())
            else:
                self.hide()
            on_success(value)

        def failed(error: BaseException) -> None:
            self.job = None
            self.hide()
            on_failure(error)

        def progressed(done: int, total: int, note: str) -> None:
            if note and on_note is not None:
                on_note(note)
            if total > 0:
                self.setRange(0, 1000)
                self.setValue(min(1000, done * 1000 // total))

        self.job = run_job(
            self, function, on_success=succeeded, on_failure=failed, on_progress=progressed
        )
        return self.job

    def stop(self) -> None:
        """Cancel the job if one runs (its outcome is dropped) and hide the bar."""
        if self.job is not None:
            self.job.cancel()
            self.job = None
        self.hide()


def lay_out_passphrase_page(
    page: QWidget,
    *,
    title: QLabel,
    intro: QLabel,
    rows: Sequence[tuple[QLabel, QWidget]],
    below_rows: Sequence[QWidget] = (),
    message: QLabel,
    busy: QWidget,
    button: QPushButton,
    footer: QWidget | None = None,
) -> None:
    """The one layout of the create, unlock and recovery pages: heading, sentence, labelled
    fields, a message, the busy bar beside the button, and an optional link underneath."""
    fields = QFormLayout()
    fields.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
    for label, field in rows:
        fields.addRow(label, field)
    buttons = QHBoxLayout()
    buttons.addWidget(busy, 1)
    buttons.addStretch(0)
    buttons.addWidget(button)
    layout = QVBoxLayout(page)
    layout.addWidget(title)
    layout.addWidget(intro)
    layout.addSpacing(8)
    layout.addLayout(fields)
    for widget in below_rows:
        layout.addWidget(widget)
    layout.addWidget(message)
    layout.addLayout(buttons)
    if footer is not None:
        layout.addSpacing(16)
        layout.addWidget(footer)
    layout.addStretch(1)


def failure_message(error: BaseException) -> str:
    """What to say about a failure no screen foresaw; the details go to the log, not the screen."""
    if isinstance(error, ProfileError):
        return error.user_message()
    if isinstance(error, DBAPIError) and is_damage(error):
        # Damaged pages met while opening, saving or syncing a record: not a bug, and the
        # person is told what the list tells them (what is readable can still be exported).
        log.warning("damaged database pages met (%s)", type(error.orig).__name__)
        return DamagedRows().user_message()
    log.error("unexpected failure", exc_info=error)
    return _(
        "Something unexpected went wrong and nothing was changed. Please try again; "
        "if it keeps happening, tell the network's support team."
    )


def fill_codes(
    combo: QComboBox, vocabulary: str, *, by_label: bool = False, prompt: str | None = None
) -> None:
    """Offer a vocabulary's terms in the current language, keeping the chosen code.

    With ``prompt`` (a required choice) nothing is chosen until the person chooses: the box
    shows the prompt, and the form says so if it is saved without a choice.
    """
    chosen = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    for code, label in vocab.default_vocabularies()[vocabulary].choices(by_label=by_label):
        combo.addItem(label, code)
    if prompt is not None:
        combo.setPlaceholderText(prompt)
        combo.setCurrentIndex(combo.findData(chosen) if chosen is not None else -1)
    elif chosen is not None:
        combo.setCurrentIndex(max(combo.findData(chosen), 0))
    combo.blockSignals(False)
    fit_combo_to_text(combo)


def choose(combo: QComboBox, code: str) -> None:
    index = combo.findData(code)
    if index >= 0:
        combo.setCurrentIndex(index)


def problems_text(errors: list[FieldError], labels: dict[str, str]) -> str:
    """Each problem on its own line, after the name of the field it is about."""
    lines = []
    for error in errors:
        name = labels.get(error.field.split("[")[0])
        lines.append(
            _("{field}: {problem}").format(field=name, problem=error.message)
            if name
            else error.message
        )
    return "\n".join(lines)


def field_key(field: str) -> str:
    """The form field a record's error is about: ``custody[0].actor`` -> ``custody``."""
    return field.split("[")[0].split(".")[0]


def summary_text(errors: list[FieldError], labels: dict[str, str], placed: set[str]) -> str:
    """The line above Save when a form is refused: each field to look at, by name, then the
    problems no field shows beside it ("This field is required." alone named nothing)."""
    names = list(
        dict.fromkeys(
            labels.get(field_key(e.field)) or field_label(e.field)
            for e in errors
            if field_key(e.field) in placed
        )
    )
    lines = []
    if names:
        lines.append(
            ngettext(
                "Not saved: look at the field {fields}.",
                "Not saved: look at the fields {fields}.",
                len(names),
            ).format(fields=format_list(names, locale=babel_locale()))
        )
    unplaced = [e for e in errors if field_key(e.field) not in placed]
    if unplaced:
        lines.append(problems_text(unplaced, labels))
    return "\n".join(lines)


def on_edit(widget: QWidget, slot: Callable[[], None]) -> bool:
    """Call ``slot`` whenever the person changes ``widget``'s value (text, choice, tick, the
    codes ticked in a checklist, the person picked); False when ``widget`` has no value."""
    for signal in (
        "textChanged",
        "currentIndexChanged",
        "itemChanged",
        "code_changed",
        "codes_changed",
        "party_changed",
    ):
        changed = getattr(widget, signal, None)
        if changed is not None:
            changed.connect(lambda *_args: slot())
            return True
    return False


class FieldProblems:
    """A form's problems: each under its field, and a summary above Save naming those fields.

    A field's message (and its name in the summary) goes as soon as the person edits that
    field: the old message no longer describes what is there.
    """

    def __init__(self, summary: MessageLabel, labels: Callable[[], dict[str, str]]) -> None:
        self.summary = summary
        self._labels = labels
        self.lines: dict[str, MessageLabel] = {}
        self.widgets: dict[str, QWidget] = {}
        self.errors: list[FieldError] = []

    def add(self, name: str, widget: QWidget, line: MessageLabel) -> None:
        line.brings_into_view = False
        self.lines[name] = line
        self.widgets[name] = widget
        on_edit(widget, lambda: self.fixed(name))

    def show(self, errors: list[FieldError], *, focus: bool = True) -> None:
        self.errors = list(errors)
        self._render()
        if focus:
            for error in errors:
                widget = self.widgets.get(field_key(error.field))
                if widget is not None and widget.isEnabled():
                    widget.setFocus()
                    break

    def fixed(self, name: str) -> None:
        if any(field_key(e.field) == name for e in self.errors):
            self.errors = [e for e in self.errors if field_key(e.field) != name]
            self._render()

    def clear(self) -> None:
        self.show([], focus=False)

    def _render(self) -> None:
        shown: dict[str, list[str]] = {}
        for error in self.errors:
            shown.setdefault(field_key(error.field), []).append(error.message)
        for name, line in self.lines.items():
            line.say("\n".join(dict.fromkeys(shown.get(name, []))))
        self.summary.say(summary_text(self.errors, self._labels(), set(self.lines)))


class LengthHint(QLabel):
    """How many characters are used of ``limit``, shown from 80 % of it on, so the limit is
    known while typing rather than at save; past the limit it turns to the error style."""

    def __init__(self, edit: QLineEdit, limit: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lengthHint")
        self._limit = limit
        self._edit = edit
        self.setProperty("role", "hint")
        edit.textChanged.connect(self.show_length)
        self.show_length(edit.text())

    def show_length(self, text: str) -> None:
        count = len(text)
        self.setVisible(count >= self._limit * 0.8)
        self.setText(
            # The noun goes with the limit ("160 of 200 characters"; Arabic's form for 200
            # is not its form for 120).
            ngettext(
                "{count} of {limit} character", "{count} of {limit} characters", self._limit
            ).format(count=format_number(count), limit=format_number(self._limit))
        )
        role = "error" if count > self._limit else "hint"
        if self.property("role") != role:
            self.setProperty("role", role)
            self.style().unpolish(self)
            self.style().polish(self)

    def retranslate(self) -> None:
        self.show_length(self._edit.text())


def add_field_row(
    form: QFormLayout,
    widget: QWidget,
    line: QLabel,
    *,
    parent: QWidget | None = None,
    name: str | None = None,
    limit: int | None = None,
    below: Sequence[QWidget | QLayout] = (),
    under_caption: bool = False,
) -> tuple[QLabel, LengthHint | None]:
    """A row of ``form``: a caption (``widget``'s buddy), then ``widget`` with what belongs under
    it (``below``, and with ``limit`` how many characters are used as the limit nears) and last
    ``line``, where its problems are said. With ``under_caption`` the field has a line of its
    own under its caption, whatever the form's width.

    Returns the caption, whose words the caller sets (again on a language change), and the
    count if any. ``name`` names the line ``error_<name>`` (tests find a field's problems so).
    """
    holder = QWidget(parent)
    column = QVBoxLayout(holder)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(2)
    column.addWidget(widget)
    hint = None
    if limit is not None and isinstance(widget, QLineEdit):
        hint = LengthHint(widget, limit, holder)
        column.addWidget(hint)
    for part in below:
        if isinstance(part, QLayout):
            column.addLayout(part)
        else:
            column.addWidget(part)
    if name is not None:
        line.setObjectName(f"error_{name}")
    column.addWidget(line)
    caption = QLabel(parent)
    caption.setBuddy(widget)
    if under_caption:
        form.addRow(caption)
        form.addRow(holder)
    else:
        form.addRow(caption, holder)
    return caption, hint


class WrappingComboBox(QComboBox):
    """A combo box whose chosen text wraps onto as many lines as it needs when the box is
    narrower than it, instead of being cut: beside the alerts list, the side pane can be 320 px
    wide, and "Restrictions on the organization (registration, funding)" needs 306 px of text
    where the box had 263. Its list of choices opens as wide as its longest choice (the style's
    own popup), wrapping a choice only where the screen is narrower still."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        policy = self.sizePolicy()
        # Not a fixed height, as a combo box has: as tall as its wrapped text at its width.
        policy.setVerticalPolicy(QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        choices = self.view()
        choices.setTextElideMode(Qt.TextElideMode.ElideNone)
        if isinstance(choices, QListView):  # a combo box's own list, unless replaced
            choices.setWordWrap(True)
        self.currentIndexChanged.connect(self._text_changed)

    def _text_changed(self, _index: int = 0) -> None:
        self._hold_height()
        self.update()

    def _hold_height(self) -> None:
        """At least as tall as its wrapped text at its width, as a minimum: a form layout gave
        the row holding it its one-line height when a long choice was made before anything else
        moved (its height for width changed, no minimum did, and nothing around it was laid out
        again: seen at 1024x680, the longest threat chosen first, its two lines cut to one). A
        minimum reaches every layout and scroll area around it."""
        self.setMinimumHeight(self.heightForWidth(self.width()))
        self.updateGeometry()

    def shown_text(self) -> str:
        return self.currentText() if self.currentIndex() >= 0 else self.placeholderText()

    def _field(self, width: int, height: int) -> QRect:
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        option.rect = QRect(0, 0, width, height)
        return self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, self
        )

    def text_height(self, width: int) -> int:
        """The height the shown text takes wrapped in the box's text field at ``width``."""
        room = max(self._field(width, super().sizeHint().height()).width() - 4, 1)
        flags = int(Qt.TextFlag.TextWordWrap)
        return (
            self.fontMetrics()
            .boundingRect(QRect(0, 0, room, 100_000), flags, self.shown_text())
            .height()
        )

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        single = super().sizeHint().height()
        return single + max(0, self.text_height(width) - self.fontMetrics().height())

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(hint.width(), self.heightForWidth(hint.width()))

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(hint.width(), self.heightForWidth(max(self.width(), hint.width())))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self._hold_height()  # a new width may need another number of lines

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        text = self.shown_text()
        option.currentText = ""
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        field = self._field(self.width(), self.height()).adjusted(2, 0, -2, 0)
        role = (
            QPalette.ColorRole.ButtonText
            if self.currentIndex() >= 0
            else QPalette.ColorRole.PlaceholderText
        )
        painter.setPen(self.palette().color(role))
        alignment = QStyle.visualAlignment(
            self.layoutDirection(), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        )
        painter.drawText(field, int(alignment) | int(Qt.TextFlag.TextWordWrap), text)


def fit_combo_to_text(combo: QComboBox, maximum: int | None = None) -> None:
    """Make ``combo`` at least as wide as its current text and arrow: never cut, in any language.

    Call again when the choice or the language changes (``keep_combo_fitted`` does both).
    """
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    metrics = combo.fontMetrics()
    text = combo.currentText() or combo.placeholderText()
    if isinstance(combo, WrappingComboBox):
        # Its text wraps: as wide as its widest word, never the whole sentence.
        text = max(text.split(), key=metrics.horizontalAdvance, default="")
    contents = QSize(metrics.horizontalAdvance(text) + 4, metrics.height())
    size = combo.style().sizeFromContents(QStyle.ContentsType.CT_ComboBox, option, contents, combo)
    width = size.width() if maximum is None else min(size.width(), maximum)
    combo.setMinimumWidth(width)
    # Beyond ``maximum`` (a very long name) the whole text is one hover away.
    combo.setToolTip(text if width < size.width() else "")


def keep_combo_fitted(combo: QComboBox, maximum: int | None = None) -> None:
    """``fit_combo_to_text`` now and after every change of choice or of its items."""
    fit_combo_to_text(combo, maximum)
    combo.currentIndexChanged.connect(lambda _index: fit_combo_to_text(combo, maximum))
    combo.currentTextChanged.connect(lambda _text: fit_combo_to_text(combo, maximum))


def wrap_items(listing: QListWidget) -> None:
    """A list whose long lines wrap to its width instead of running off its right (or, in
    Arabic, left) edge behind a sideways scroll bar."""
    listing.setWordWrap(True)
    listing.setTextElideMode(Qt.TextElideMode.ElideNone)
    listing.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    listing.setResizeMode(QListView.ResizeMode.Adjust)
    listing.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    # Each line in its own direction: a Spanish name reads from the left in an Arabic list.
    listing.setItemDelegate(OwnDirectionDelegate(listing))


def fit_placeholder(edit: QLineEdit, minimum: int = 0) -> None:
    """Make ``edit`` wide enough for its whole placeholder (and its clear button): a hint cut
    short no longer says what to write. Call again after the language changes."""
    needed = edit.fontMetrics().horizontalAdvance(edit.placeholderText()) + 16
    if edit.isClearButtonEnabled():
        needed += edit.sizeHint().height()
    edit.setMinimumWidth(max(minimum, needed))


class PassphraseStrength(LineStack):
    """How hard a new passphrase would be to guess, in words, as it is typed (zxcvbn's score).

    Only a hint: the store's own rule (a minimum length) decides what is accepted. Nothing of
    the passphrase is kept; zxcvbn's English feedback is not shown, our own words are.
    """

    WORDS = (
        N_("Strength: very weak"),
        N_("Strength: weak"),
        N_("Strength: fair"),
        N_("Strength: strong"),
        N_("Strength: very strong"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("passphraseStrength")
        # The rating and the advice are lines of their own (LineStack): in one label, Arabic's
        # advice touched the rating above it.
        self.score: int | None = None

    def rate(self, passphrase: str) -> None:
        if not passphrase:
            self.score = None
            self.clear()
            self.set_tone("")
        else:
            from zxcvbn import zxcvbn  # loaded when a passphrase is first typed

            self.score = int(zxcvbn(passphrase[:128])["score"])
            self.set_tone("success" if self.score >= 3 else "warning")
        self.retranslate()

    def retranslate(self) -> None:
        if self.score is None:
            return
        text = _(self.WORDS[self.score])
        if self.score < 3:
            text += "\n" + _(  # its own sentence, on its own line
                "Add a few more words that belong together only for you; a whole sentence is "
                "easier to remember than symbols."
            )
        self.setText(text)


class ShowPassphrases(QCheckBox):
    """ "Show passphrases": the given fields in clear while ticked, masked again when not."""

    def __init__(self, fields: Sequence[QLineEdit], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("showPassphrases")
        self._fields = list(fields)
        self.toggled.connect(self._show)

    def _show(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        for field in self._fields:
            field.setEchoMode(mode)

    def retranslate(self) -> None:
        self.setText(_("Show passphrases"))


class _BoxText(QLabel):
    """The words of a ``WrappingCheckBox``: a click on them ticks the box, as a check box's own
    text does (their mnemonic does too: a label clicks a button it is the buddy of)."""

    def __init__(self, box: QCheckBox, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._box = box
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        # From the top, beside the box: centred, a row taller than its lines left the box above.
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setBuddy(box)  # also what registers the mnemonic: a label without one has none

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
            event.position().toPoint()
        ):
            self._box.click()
        super().mouseReleaseEvent(event)


class WrappingCheckBox(QWidget):
    """A check box whose words wrap: a ``QCheckBox`` keeps its text on one line, and a long one
    (a bundle's "Also the files…", 472 px in Arabic) held a whole page wider than the window at
    its minimum size, which then scrolled sideways."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.box = QCheckBox(self)
        self.label = _BoxText(self.box, self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(self.style().pixelMetric(QStyle.PixelMetric.PM_CheckBoxLabelSpacing))
        # The box level with the first line of the words.
        lift = max(0, (self.label.fontMetrics().height() - self.box.sizeHint().height()) // 2)
        self.box.setContentsMargins(0, lift, 0, 0)
        layout.addWidget(self.box, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.label, 1)

    def setText(self, text: str) -> None:
        self.label.setText(text)
        # What a screen reader says for the box: its words, without the mnemonic's marker.
        self.box.setAccessibleName(text.replace("&&", "\0").replace("&", "").replace("\0", "&"))

    def text(self) -> str:
        return self.label.text()

    def isChecked(self) -> bool:
        return self.box.isChecked()

    def setChecked(self, checked: bool) -> None:
        self.box.setChecked(checked)
