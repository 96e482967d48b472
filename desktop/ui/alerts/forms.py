"""The forms of an alert's collective response: the alert itself and a letter in any language.

They build records from what was typed; saving (and the store's validation) is the page's job.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.domain import vocabularies as vocab
from desktop.domain.dates import InvalidDate, PartialDate
from desktop.domain.network_records import (
    ALERT_URGENCIES,
    LETTER_KINDS,
    Alert,
    AlertUrgency,
    Letter,
    LetterKind,
)
from desktop.domain.record_base import TITLE_LIMIT
from desktop.domain.records import NAME_LIMIT, Person, PersonKind, SpaceKind
from desktop.domain.translation import _
from desktop.domain.validation import FieldError
from desktop.ui.bidi import follow_own_direction, text_direction_for
from desktop.ui.display import LETTER_LANGUAGES
from desktop.ui.forms import (
    FieldProblems,
    LengthHint,
    MessageLabel,
    WrappingComboBox,
    add_field_row,
    fill_codes,
    fit_placeholder,
    hold_window_size_hints,
    problems_text,
    wrap_items,
)


@dataclass(frozen=True)
class SpaceChoice:
    """A space an alert can be saved in: who will see it, and so who can respond."""

    id: str
    name: str
    kind: SpaceKind

    def label(self) -> str:
        # The network space's stored name is not for people; what matters is who will see it.
        if self.kind is SpaceKind.NETWORK:
            return _("The whole network")
        return _("{space} (organization only)").format(space=self.name)


class AlertForm(QWidget):
    """A new alert: who is threatened, how, when and where, how urgent, and what to ask for.

    Signals:
        submitted(object): the :class:`Alert` built from the form, to be saved.
        cancelled(): the person gave up.
        new_defender_wanted(): the person asked to add a defender not yet in the directory.
    """

    submitted = Signal(object)
    cancelled = Signal()
    new_defender_wanted = Signal()

    def __init__(
        self,
        spaces: list[SpaceChoice],
        people: list[tuple[str, str]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("alertForm")
        self.spaces = spaces
        # Where the alert goes decides who can read and answer it; the first offered (the
        # network's own space) is where a call for collective response belongs.
        self.space = QComboBox(self)
        self.title = QLineEdit(self)
        self.defenders = QListWidget(self)
        # A name longer than the list is wide wraps instead of running behind its edge: the
        # form is only as wide as the page's side (about 385 px at 1024×680), and a name with
        # its country ("Aminata Ben Salah (Marruecos)") was cut when the list was narrower.
        wrap_items(self.defenders)
        # Six names at a glance whatever else the form holds (the page scrolls instead).
        rows = self.defenders.fontMetrics().lineSpacing() * 6 + 2 * self.defenders.frameWidth()
        self.defenders.setMinimumHeight(rows + 4)
        self.defenders.setMaximumHeight(max(140, rows + 4))
        for person_id, name in people:
            item = QListWidgetItem(name, self.defenders)
            item.setData(Qt.ItemDataRole.UserRole, person_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
        # Its choices run to 60 characters ("Restrictions on the organization (registration,
        # funding)"): the chosen one wraps in the narrow side pane instead of being cut.
        self.threat = WrappingComboBox(self)
        self.occurred_on = QLineEdit(self)
        self.occurred_on.setText(date.today().isoformat())
        self.country = QComboBox(self)
        self.place = QLineEdit(self)
        self.urgency = QComboBox(self)
        self.requested = QPlainTextEdit(self)
        self.requested.setTabChangesFocus(True)
        self.message = MessageLabel(self)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.cancelled)
        self.new_defender_button = QPushButton(self)
        self.new_defender_button.setObjectName("newDefender")
        self.new_defender_button.clicked.connect(self.new_defender_wanted)
        self.problems = FieldProblems(self.message, self.field_labels)
        self.form = QFormLayout()
        # Beside the list the form is narrow: a field that does not fit beside its label goes
        # under it rather than past the page's edge.
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.labels: dict[str, QLabel] = {}
        self.title_hint: LengthHint | None = None
        for name, widget in (
            ("title", self.title),
            ("defenders", self.defenders),
            ("threat_type", self.threat),
            ("occurred_on", self.occurred_on),
            ("country", self.country),
            ("place", self.place),
            ("urgency", self.urgency),
            ("requested_actions", self.requested),
            ("space_id", self.space),
        ):
            below: list[QWidget | QLayout] = []
            if widget is self.defenders:
                # Someone not yet in the directory is added here, without leaving the alert.
                row = QHBoxLayout()
                row.addWidget(self.new_defender_button)
                row.addStretch(1)
                below.append(row)
            line = MessageLabel()
            self.labels[name], hint = add_field_row(
                self.form,
                widget,
                line,
                parent=self,
                name=name,
                limit=TITLE_LIMIT if widget is self.title else None,
                below=below,
                # Always under its caption, the form's whole width: beside it, whether it fits
                # was decided from the page's width of the moment (with or without its scroll
                # bar), and QFormLayout lets a row beside its caption have up to its spacing
                # less than its minimum: "Nueva persona defensora…" was cut by 6 px at some
                # widths.
                under_caption=widget is self.defenders,
            )
            if hint is not None:
                self.title_hint = hint
            self.problems.add(name, widget, line)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.retranslate()
        for field in (self.title, self.place, self.requested):
            follow_own_direction(field)

    def add_defender(self, person_id: str, name: str) -> None:
        """A person just added to the directory, listed and ticked as concerned."""
        item = QListWidgetItem(name or "—", self.defenders)
        item.setData(Qt.ItemDataRole.UserRole, person_id)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked)
        self.defenders.scrollToItem(item)

    def set_new_defender_reason(self, reason: str | None) -> None:
        """Off, with ``reason`` as its tooltip, where this device cannot add to the directory."""
        self.new_defender_button.setEnabled(reason is None)
        self.new_defender_button.setToolTip(reason or "")

    def field_labels(self) -> dict[str, str]:
        return {
            "title": _("Title"),
            "defenders": _("Defenders concerned"),
            "threat_type": _("Threat or attack"),
            "occurred_on": _("Date"),
            "country": _("Country"),
            "place": _("Place"),
            "urgency": _("Urgency"),
            "requested_actions": _("Requested actions"),
            "space_id": _("Shared with"),
        }

    def checked_defenders(self) -> tuple[str, ...]:
        found = []
        for row in range(self.defenders.count()):
            item = self.defenders.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                found.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return tuple(found)

    def submit(self) -> None:
        try:
            occurred = PartialDate.parse(self.occurred_on.text().strip())
        except InvalidDate:
            self.show_problems(
                [
                    FieldError(
                        "occurred_on",
                        "invalid_date",
                        _("Write a date as 2025-06-30, 2025-06 or 2025."),
                    )
                ]
            )
            return
        urgency = self.urgency.currentData()
        if urgency is None:
            # The record cannot even be built without one; say so with the other problems.
            probe = Alert(
                space_id=str(self.space.currentData() or ""),
                title=self.title.text().strip(),
                defenders=self.checked_defenders(),
                threat_type=self.threat.currentData() or "",
                occurred_on=occurred,
                country=self.country.currentData() or "",
            )
            self.show_problems(
                [
                    *probe.validate(),
                    FieldError("urgency", "required", _("Choose a value from the list.")),
                ]
            )
            return
        alert = Alert(
            space_id=str(self.space.currentData() or ""),
            title=self.title.text().strip(),
            defenders=self.checked_defenders(),
            threat_type=self.threat.currentData() or "",
            occurred_on=occurred,
            country=self.country.currentData() or "",
            place=self.place.text().strip(),
            urgency=AlertUrgency(urgency),
            requested_actions=self.requested.toPlainText(),
        )
        errors = alert.validate()
        if errors:
            self.show_problems(errors)
            return
        self.problems.clear()
        self.submitted.emit(alert)

    def show_problems(self, errors: list[FieldError]) -> None:
        self.problems.show(errors)

    def retranslate(self) -> None:
        for name, text in self.field_labels().items():
            self.labels[name].setText(text)
        self.new_defender_button.setText(_("New defender…"))
        if self.title_hint is not None:
            self.title_hint.retranslate()
        self.title.setPlaceholderText(_("Who is threatened, and how"))
        fit_placeholder(self.title)
        self.occurred_on.setPlaceholderText(_("2025-06-30, 2025-06 or 2025"))
        self.requested.setPlaceholderText(_("One action per line: write to…, call…, share…"))
        # Nothing chosen for the person: each starts empty and must be chosen.
        fill_codes(self.threat, vocab.DEFENDER_THREATS, prompt=_("Choose the threat or attack…"))
        fill_codes(self.country, vocab.COUNTRIES, by_label=True, prompt=_("Choose a country…"))
        fill_codes(self.urgency, ALERT_URGENCIES, prompt=_("Choose how urgent it is…"))
        chosen = self.space.currentData()
        self.space.clear()
        for space in self.spaces:
            self.space.addItem(space.label(), space.id)
        self.space.setCurrentIndex(max(self.space.findData(chosen), 0))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class LetterDialog(QDialog):
    """Draft a collective letter or petition in one of the network's languages.

    The text runs right to left as soon as Arabic is chosen, whatever the interface language.

    Signals:
        drafted(object): the :class:`Letter` to save.
    """

    drafted = Signal(object)

    def __init__(
        self, space_id: str, alert_id: str, drafted_by: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("letterDialog")
        self.letter = Letter(space_id=space_id, alert_id=alert_id, drafted_by=drafted_by)
        self.language = QComboBox(self)
        for code, name in LETTER_LANGUAGES:
            self.language.addItem(name, code)
        self.kind = QComboBox(self)
        self.title = QLineEdit(self)
        self.text = QPlainTextEdit(self)
        self.text.setTabChangesFocus(True)
        self.drafted_by = QLineEdit(drafted_by, self)
        self.message = MessageLabel(self)
        self.form = QFormLayout()
        self.labels: dict[str, QLabel] = {}
        for name, widget in (
            ("language", self.language),
            ("kind", self.kind),
            ("title", self.title),
            ("text", self.text),
            ("drafted_by", self.drafted_by),
        ):
            self.labels[name] = QLabel(self)
            self.labels[name].setBuddy(widget)
            self.form.addRow(self.labels[name], widget)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.language.currentIndexChanged.connect(self._language_chosen)
        self.retranslate()
        self._language_chosen()
        hold_window_size_hints(self)
        self.resize(620, 520)

    def _language_chosen(self) -> None:
        direction = text_direction_for(str(self.language.currentData()))
        for editor in (self.title, self.text):
            editor.setLayoutDirection(direction)
        # The paragraph's own direction, not only the widget's: the text aligns and flows
        # right to left even in an English interface.
        option = self.text.document().defaultTextOption()
        option.setTextDirection(direction)
        right_to_left = direction == Qt.LayoutDirection.RightToLeft
        side = Qt.AlignmentFlag.AlignRight if right_to_left else Qt.AlignmentFlag.AlignLeft
        option.setAlignment(side | Qt.AlignmentFlag.AlignAbsolute)
        self.text.document().setDefaultTextOption(option)

    def field_labels(self) -> dict[str, str]:
        return {
            "language": _("Language"),
            "kind": _("Kind"),
            "title": _("Title"),
            "text": _("Text"),
            "drafted_by": _("Drafted by"),
        }

    def submit(self) -> None:
        kind = self.kind.currentData()
        letter = replace(
            self.letter,
            language=str(self.language.currentData()),
            # The record's own kind stands in until one is chosen; the error below stops it.
            kind=LetterKind(kind) if kind else self.letter.kind,
            title=self.title.text().strip(),
            text=self.text.toPlainText(),
            drafted_by=self.drafted_by.text().strip(),
        )
        errors = letter.validate()
        if not kind:
            errors.insert(0, FieldError("kind", "required", _("Choose a value from the list.")))
        if errors:
            self.message.say(problems_text(errors, self.field_labels()))
            return
        self.drafted.emit(letter)
        self.accept()

    def retranslate(self) -> None:
        self.setWindowTitle(_("Collective letter"))
        for name, text in self.field_labels().items():
            self.labels[name].setText(text)
        # A letter or a petition: the person's choice, never the list's first.
        fill_codes(self.kind, LETTER_KINDS, prompt=_("Choose a kind…"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class NewDefenderDialog(QDialog):
    """Add a defender who is not yet in the directory, without leaving the alert.

    What is typed becomes a person record of the directory (the network's space, where the
    Directory saves its own); the page stores it as the Directory does, and ticks it in the
    alert's list. Only a name or an alias is needed: the rest is for the Directory later.

    Signals:
        person_ready(object): the valid :class:`Person` to save.
    """

    person_ready = Signal(object)

    def __init__(self, space_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("newDefenderDialog")
        self.setModal(True)
        self._space_id = space_id
        self.name = QLineEdit(self)
        self.alias = QLineEdit(self)
        self.country = QComboBox(self)
        self.occupation = QLineEdit(self)
        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.message = MessageLabel(self)
        self.problems = FieldProblems(self.message, self.field_labels)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.labels: dict[str, QLabel] = {}
        self.name_hint = LengthHint(self.name, NAME_LIMIT, self)
        for name, widget in (
            ("name", self.name),
            ("alias", self.alias),
            ("country", self.country),
            ("occupation", self.occupation),
        ):
            line = MessageLabel()
            self.labels[name], _hint = add_field_row(
                self.form,
                widget,
                line,
                parent=self,
                name=name,
                below=[self.name_hint] if widget is self.name else [],
            )
            self.problems.add(name, widget, line)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(self.form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.retranslate()
        for field in (self.name, self.alias, self.occupation):
            follow_own_direction(field)
        hold_window_size_hints(self, minimum_width=460)

    def field_labels(self) -> dict[str, str]:
        return {
            "name": _("Name"),
            "alias": _("Alias"),
            "country": _("Country"),
            "occupation": _("Occupation"),
        }

    def person(self) -> Person:
        return Person(
            space_id=self._space_id,
            kind=PersonKind.INDIVIDUAL,
            name=self.name.text().strip(),
            alias=self.alias.text().strip(),
            country=str(self.country.currentData() or ""),
            occupation=self.occupation.text().strip(),
        )

    def submit(self) -> None:
        person = self.person()
        errors = person.validate()
        self.problems.show(errors)
        if errors:
            return
        self.buttons.setEnabled(False)  # until the page says whether it was stored
        self.person_ready.emit(person)

    def refused(self, errors: list[FieldError] | None, message: str = "") -> None:
        """The store did not take it: its problems by field, or ``message``."""
        self.buttons.setEnabled(True)
        if errors:
            self.problems.show(errors)
        else:
            self.message.say(message)

    def retranslate(self) -> None:
        self.setWindowTitle(_("New defender"))
        self.intro.setText(
            _(
                "The defender is added to the directory as a person, and ticked in this "
                "alert. A name or an alias is enough; the rest can wait."
            )
        )
        for name, text in self.field_labels().items():
            self.labels[name].setText(text)
        self.alias.setPlaceholderText(_("Shown instead of the name where it must not appear"))
        fit_placeholder(self.alias)
        # Optional: nothing is chosen for the person, and nothing needs to be.
        fill_codes(self.country, vocab.COUNTRIES, by_label=True, prompt=_("Not stated"))
        self.name_hint.retranslate()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
