"""Input widgets the incident screens share: partial dates, vocabulary pickers, people pickers.

Each shows labels in the current language and hands back codes, ids or typed values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from babel import Locale
from PySide6.QtCore import QEvent, QModelIndex, QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QTreeWidgetItemIterator,
    QWidget,
)

from desktop.domain.dates import PartialDate
from desktop.domain.records import NAME_LIMIT, Organization, Person, PersonKind
from desktop.domain.translation import _, current_language
from desktop.domain.vocabularies import default_vocabularies
from desktop.store.records import RecordQuery, RecordStore
from desktop.ui.forms import LengthHint
from desktop.ui.jobs import Job, JobState, run_job

#: Languages offered for a source; any ISO 639 code Babel knows would validate.
SOURCE_LANGUAGES = ("es", "en", "fr", "ar", "pt", "qu", "ay", "gn", "sw", "am", "ha", "wo")


def date_placeholder() -> str:
    return _("2024, 2024-03 or 2024-03-15")


class PartialDateEdit(QLineEdit):
    """A date known to the year, the month or the day, typed as 2024, 2024-03 or 2024-03-15."""

    def __init__(self, parent: QWidget | None = None, *, placeholder: str | None = None) -> None:
        super().__init__(parent)
        self.placeholder = placeholder  # marked with N_; the date format when None
        self.setMaxLength(10)
        # Not forced left to right: "2024-03-15" reads the same either way, and the Arabic
        # placeholder ("2024 أو 2024-03 ...") only reads right in a right-to-left field.
        self.retranslate()

    def value(self) -> PartialDate | None:
        """The date typed, None when empty; raises ``InvalidDate`` (translated) otherwise."""
        text = self.text().strip()
        return PartialDate.parse(text) if text else None

    def set_value(self, value: PartialDate | None) -> None:
        self.setText(value.isoformat() if value is not None else "")

    def retranslate(self) -> None:
        if self.placeholder is None:
            self.setPlaceholderText(date_placeholder())
        else:
            self.setPlaceholderText(_(self.placeholder))
            self.setToolTip(date_placeholder())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class VocabularyCombo(QComboBox):
    """One code from a vocabulary, its label in the current language; optionally none.

    With ``prompt`` (a required choice) nothing is chosen until the person chooses: the box
    shows the prompt, ``code()`` is "" and the form says so on save.

    Signals:
        code_changed(str): the chosen code ("" for none).
    """

    code_changed = Signal(str)

    def __init__(
        self,
        vocabulary: str,
        *,
        none_label: str | None = None,
        prompt: str | None = None,
        by_label: bool = False,
        extra: tuple[str, ...] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.vocabulary = vocabulary
        self.none_label = none_label  # marked with N_ by the caller, translated when shown
        self.prompt = prompt  # marked with N_ too
        self.by_label = by_label
        self.extra = extra  # further vocabularies offered after a separator
        self.parent_code: str | None = None
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(16)
        self.currentIndexChanged.connect(lambda _index: self.code_changed.emit(self.code()))
        self._fill()

    def _fill(self) -> None:
        code = self.code()
        words = default_vocabularies()
        with QSignalBlocker(self):
            self.clear()
            if self.none_label is not None:
                self.addItem(_(self.none_label), "")
            if self.prompt is not None:
                self.setPlaceholderText(_(self.prompt))
            for index, name in enumerate((self.vocabulary, *self.extra)):
                if index:
                    self.insertSeparator(self.count())
                for term_code, term_label in words[name].choices(
                    current_language(), parent=self.parent_code, by_label=self.by_label
                ):
                    self.addItem(term_label, term_code)
            self._select(code)

    def _select(self, code: str) -> None:
        found = self.findData(code)
        if found < 0 and code:
            # A code no longer offered (deprecated, or from a newer vocabulary) still shows.
            words = default_vocabularies()
            names = (self.vocabulary, *self.extra)
            name = next((n for n in names if code in words[n]), self.vocabulary)
            self.addItem(words.label(name, code), code)
            found = self.count() - 1
        self.setCurrentIndex(found if self.prompt is not None else max(found, 0))

    def code(self) -> str:
        data = self.currentData()
        return data if isinstance(data, str) else ""

    def set_code(self, code: str) -> None:
        self._select(code)

    def set_parent_code(self, parent: str | None) -> None:
        """Offer the children of ``parent`` (a country's regions); keeps the code if still there."""
        self.parent_code = parent
        self._fill()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._fill()
        super().changeEvent(event)


class CodeChecklist(QTreeWidget):
    """Several codes of one vocabulary, ticked in a tree (a right, then its sub-rights).

    Signals:
        codes_changed(): the ticked codes changed.
    """

    codes_changed = Signal()

    def __init__(self, vocabulary: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vocabulary = vocabulary
        self.setHeaderHidden(True)
        self.setRootIsDecorated(True)
        self.setUniformRowHeights(True)
        words = default_vocabularies()[vocabulary]
        self._items: dict[str, QTreeWidgetItem] = {}
        for term in words.top_level():
            item = self._add(QTreeWidgetItem(self), term.code)
            for child in words.children(term.code):
                self._add(QTreeWidgetItem(item), child.code)
        self.itemChanged.connect(lambda _item, _column: self.codes_changed.emit())
        self.retranslate()

    def _add(self, item: QTreeWidgetItem, code: str) -> QTreeWidgetItem:
        item.setData(0, Qt.ItemDataRole.UserRole, code)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(0, Qt.CheckState.Unchecked)
        self._items[code] = item
        return item

    def codes(self) -> tuple[str, ...]:
        found: list[str] = []
        iterator = QTreeWidgetItemIterator(self)
        while iterator.value() is not None:
            item = iterator.value()
            if item.checkState(0) == Qt.CheckState.Checked:
                found.append(str(item.data(0, Qt.ItemDataRole.UserRole)))
            iterator += 1
        return tuple(found)

    def set_codes(self, codes: tuple[str, ...] | list[str]) -> None:
        wanted = set(codes)
        with QSignalBlocker(self):
            for code, item in self._items.items():
                checked = code in wanted
                item.setCheckState(0, Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                if checked and item.parent() is not None:
                    item.parent().setExpanded(True)
        self.codes_changed.emit()

    def retranslate(self) -> None:
        words = default_vocabularies()
        with QSignalBlocker(self):
            for code, item in self._items.items():
                item.setText(0, words.label(self.vocabulary, code))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class LanguageCombo(QComboBox):
    """The language a source spoke or wrote in, each named in the current language."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._fill()

    def _fill(self) -> None:
        code = self.code()
        with QSignalBlocker(self):
            self.clear()
            self.addItem(_("Not recorded"), "")
            here = Locale.parse(current_language())
            for language in SOURCE_LANGUAGES:
                # Named from the current locale's list: Babel has no locale data of its own
                # for some of these (Aymara), so Locale.parse(language) would raise.
                name = here.languages.get(language) or language
                self.addItem(name[:1].upper() + name[1:], language)
            self.set_code(code)

    def code(self) -> str:
        data = self.currentData()
        return data if isinstance(data, str) else ""

    def set_code(self, code: str) -> None:
        found = self.findData(code)
        if found < 0 and code:
            self.addItem(code, code)
            found = self.count() - 1
        self.setCurrentIndex(max(found, 0))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self._fill()
        super().changeEvent(event)


@dataclass(frozen=True)
class Party:
    """A person or an organization picked in a form, or a person to create on save."""

    record_type: str  # "person" or "organization"
    id: str
    label: str
    new: Person | None = None  # set when the name was typed here and no record exists yet


class PartyField(QWidget):
    """Pick a person (or, where allowed, an organization) by typing part of a name.

    Suggestions come from the store's search on a worker. A name that matches no one becomes a
    new person, created when the incident is saved.

    Signals:
        party_changed(): the chosen party changed (picked, typed anew or cleared).
    """

    party_changed = Signal()

    _SUGGESTIONS = 8

    def __init__(
        self,
        store: RecordStore,
        space_id: str,
        *,
        organizations: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._space_id = space_id
        self._organizations = organizations
        self._party: Party | None = None
        self._search: Job | None = None
        self.line = QLineEdit(self)
        self.line.setClearButtonEnabled(True)
        # A name typed here may become a new person: their limit holds while typing, not only
        # at save (where a too long name could only be named in the summary).
        self.line.setMaxLength(NAME_LIMIT)
        self.length = LengthHint(self.line, NAME_LIMIT, self)
        self.state = QLabel(self)
        self.state.setProperty("role", "hint")
        self.suggestions = QStandardItemModel(self)
        self.completer = QCompleter(self.suggestions, self)
        # The store already matched (accents folded, Arabic normalized): show what it found.
        self.completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.completer.activated[QModelIndex].connect(self._picked)
        self.line.setCompleter(self.completer)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self._look_up)
        self.line.textEdited.connect(self._typed)
        self.line.editingFinished.connect(self._settle)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.line, 1)
        layout.addWidget(self.length)
        layout.addWidget(self.state)
        self.setFocusProxy(self.line)
        self.retranslate()

    @property
    def party(self) -> Party | None:
        return self._party

    def choose(self, party: Party | None) -> None:
        """Show ``party`` as chosen (loading a record, or a test picking someone)."""
        self._party = party
        with QSignalBlocker(self.line):
            self.line.setText(party.label if party is not None else "")
        self._show_state()
        self.party_changed.emit()

    def kept(self) -> dict[str, Any]:
        """As typed, JSON-ready for a draft: the party chosen (or to create) and the line's text."""
        party = self._party
        return {
            "text": self.line.text(),
            "party": None
            if party is None
            else {
                "record_type": party.record_type,
                "id": party.id,
                "label": party.label,
                "new": party.new is not None,
            },
        }

    def restore_kept(self, kept: Any) -> None:
        """Show what ``kept()`` returned before the lock, exactly as it was typed."""
        if not isinstance(kept, dict):
            return
        chosen = kept.get("party")
        party: Party | None = None
        if isinstance(chosen, dict):
            record_type, record_id = str(chosen.get("record_type", "person")), str(chosen["id"])
            label = str(chosen.get("label", ""))
            new = None
            if chosen.get("new"):
                # Same id as before the lock: the person is still created once, on save.
                new = Person(
                    id=record_id, space_id=self._space_id, name=label, kind=PersonKind.INDIVIDUAL
                )
            party = Party(record_type, record_id, label, new=new)
        self.choose(party)
        text = str(kept.get("text", ""))
        if text != self.line.text():
            self.line.setText(text)  # typed but not yet settled: settles when focus leaves

    def _typed(self, _text: str) -> None:
        self._timer.start()

    def _look_up(self) -> None:
        typed = self.line.text().strip()
        if self._search is not None:
            self._search.cancel()
        if not typed:
            self.suggestions.clear()
            return
        store, limit, organizations = self._store, self._SUGGESTIONS, self._organizations

        def search(_state: JobState) -> list[tuple[str, str, str]]:
            found = [
                ("person", row.id, row.label)
                for row in store.page(RecordQuery("person", text=typed), 0, limit)
            ]
            if organizations:
                found += [
                    ("organization", row.id, row.label)
                    for row in store.page(RecordQuery("organization", text=typed), 0, limit)
                ]
            return found

        self._search = run_job(self, search, on_success=self._found)

    def _found(self, found: list[tuple[str, str, str]]) -> None:
        self._search = None
        self.suggestions.clear()
        for record_type, record_id, label in found:
            shown = label
            if self._organizations and record_type == "organization":
                shown = _("{name} (organization)").format(name=label)
            item = QStandardItem(shown)
            item.setData((record_type, record_id, label), Qt.ItemDataRole.UserRole)
            self.suggestions.appendRow(item)
        if found and self.line.hasFocus():
            self.completer.complete()

    def _picked(self, index: QModelIndex) -> None:
        data = index.data(Qt.ItemDataRole.UserRole)
        if isinstance(data, tuple):
            record_type, record_id, label = data
            self.choose(Party(record_type, record_id, label))

    def _settle(self) -> None:
        """Leaving the field: a typed name that is not the chosen one becomes a new person."""
        typed = self.line.text().strip()
        current = self._party
        if not typed:
            if current is not None:
                self.choose(None)
            return
        if current is not None and typed == current.label:
            return
        if current is not None and current.new is not None:
            person = Person(id=current.new.id, space_id=self._space_id, name=typed)
        else:
            person = Person(space_id=self._space_id, name=typed, kind=PersonKind.INDIVIDUAL)
        self._party = Party("person", person.id, typed, new=person)
        self._show_state()
        self.party_changed.emit()

    def _show_state(self) -> None:
        party = self._party
        self.state.setText(_("new") if party is not None and party.new is not None else "")
        self.state.setToolTip(
            _("No one of this name is recorded yet: a new person will be saved with the incident.")
            if party is not None and party.new is not None
            else ""
        )

    def retranslate(self) -> None:
        self.line.setPlaceholderText(
            _("Type a name to find a person or organization")
            if self._organizations
            else _("Type a name to find or add a person")
        )
        self._show_state()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


def organization_label(organization: Organization) -> str:
    return organization.name or organization.acronym


def party_label(record: Person | Organization) -> str:
    if isinstance(record, Organization):
        return organization_label(record)
    return record.name or record.alias
