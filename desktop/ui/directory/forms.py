"""The directory's dialogs: create and edit forms, a record picker, and adding a member to a group.

Forms check a record with its own ``validate()`` and show each message beside its field. Before
the lock closes a form, its fields as typed are kept as a draft (``draft``, ``restore_draft``).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QIntValidator
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.domain import vocabularies as vocab
from desktop.domain.records import (
    NAME_LIMIT,
    Membership,
    MembershipRole,
    Organization,
    Person,
    PersonKind,
    Record,
    WorkingGroup,
    edit,
    new_id,
)
from desktop.domain.translation import N_, _, format_number, ngettext
from desktop.domain.validation import FieldError
from desktop.store.drafts import Draft, DraftStore
from desktop.store.profile import Profile
from desktop.store.records import InvalidRecord, ListRow, RecordQuery, RecordStore
from desktop.ui.bidi import keep_left_to_right
from desktop.ui.directory.model import DIRECTORY_LISTS
from desktop.ui.forms import (
    FieldProblems,
    LengthHint,
    MessageLabel,
    add_field_row,
    failure_message,
    fit_placeholder,
    hold_window_size_hints,
    wrap_items,
)
from desktop.ui.jobs import JobState, run_job
from desktop.ui.lists import ListTable, RecordListModel, select_row

#: How long typing must pause before a search runs, in milliseconds.
SEARCH_DELAY_MS = 250


def fill_country_combo(combo: QComboBox, empty_label: str) -> None:
    """Countries in the current language, sorted by label, after an empty choice; keeps the pick."""
    chosen = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    combo.addItem(empty_label, "")
    for code, label in vocab.default_vocabularies()[vocab.COUNTRIES].choices(by_label=True):
        combo.addItem(label, code)
    combo.setCurrentIndex(max(0, combo.findData(chosen or "")))
    combo.blockSignals(False)


def fill_vocabulary_combo(combo: QComboBox, vocabulary: str, empty_label: str | None) -> None:
    """A vocabulary's terms in its curated order, optionally after an empty choice."""
    chosen = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    if empty_label is not None:
        combo.addItem(empty_label, "")
    for code, label in vocab.default_vocabularies()[vocabulary].choices():
        combo.addItem(label, code)
    found = combo.findData(chosen) if chosen is not None else -1
    combo.setCurrentIndex(max(0, found))
    combo.blockSignals(False)


class CodeChecklist(QListWidget):
    """Several codes of one vocabulary, each a checkable line (objectives)."""

    def __init__(self, vocabulary: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._vocabulary = vocabulary
        self.setMaximumHeight(140)
        wrap_items(self)
        self.retranslate()

    def codes(self) -> tuple[str, ...]:
        return tuple(
            self.item(n).data(Qt.ItemDataRole.UserRole)
            for n in range(self.count())
            if self.item(n).checkState() == Qt.CheckState.Checked
        )

    def set_codes(self, codes: tuple[str, ...]) -> None:
        for n in range(self.count()):
            item = self.item(n)
            checked = item.data(Qt.ItemDataRole.UserRole) in codes
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def retranslate(self) -> None:
        chosen = self.codes() if self.count() else ()
        self.clear()
        for code, label in vocab.default_vocabularies()[self._vocabulary].choices():
            item = QListWidgetItem(label, self)
            item.setData(Qt.ItemDataRole.UserRole, code)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
        self.set_codes(chosen)


class RecordPicker(QWidget):
    """A search box over a lazy list of one record type, to choose one record.

    Signals:
        chosen_changed(): the selected record changed (or none is selected any more).
        activated(): a record was chosen with Enter or a double click.
    """

    chosen_changed = Signal()
    activated = Signal()

    def __init__(self, profile: Profile, record_type: str, parent: QWidget | None = None):
        super().__init__(parent)
        self._record_type = record_type
        self.search = QLineEdit(self)
        self.search.setClearButtonEnabled(True)
        self.model = RecordListModel(
            RecordStore(profile.engine),
            DIRECTORY_LISTS[record_type],
            RecordQuery(record_type),
            self,
        )
        self.view = ListTable(self, share=0.5)
        self.view.setModel(self.model)
        self.view.setMinimumHeight(220)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self.chosen_changed.emit())
        self.view.open_requested.connect(lambda _index: self.activated.emit())
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DELAY_MS)
        self._debounce.timeout.connect(self._search)
        self.search.textChanged.connect(lambda _text: self._debounce.start())
        # Down from the search box goes to the list, as in any search-and-pick field.
        self.search.returnPressed.connect(self._focus_list)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.view, 1)
        self.model.arrived.connect(self._select_first_if_none)
        self.retranslate()
        self.model.refresh()

    def chosen(self) -> ListRow | None:
        rows = self.view.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def _search(self) -> None:
        self.model.set_query(RecordQuery(self._record_type, text=self.search.text()))

    def _focus_list(self) -> None:
        self.view.setFocus()
        if self.model.rowCount() and not self.view.selectionModel().hasSelection():
            select_row(self.view, 0)

    def _select_first_if_none(self, _count: int) -> None:
        if self.model.rowCount() and not self.view.selectionModel().hasSelection():
            select_row(self.view, 0)
        self.chosen_changed.emit()

    def retranslate(self) -> None:
        self.search.setPlaceholderText(_("Type to search by name…"))
        self.search.setAccessibleName(_("Search"))
        self.model.retranslate()


class PickRecordDialog(QDialog):
    """Choose one record of a type (an organization for a person), by searching for it."""

    def __init__(self, profile: Profile, record_type: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setModal(True)
        self.picker = RecordPicker(profile, record_type, self)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self._accept_if_chosen)
        self.buttons.rejected.connect(self.reject)
        self.picker.activated.connect(self._accept_if_chosen)
        self.picker.chosen_changed.connect(self._update_ok)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picker, 1)
        layout.addWidget(self.buttons)
        self.setWindowTitle(_("Choose an organization"))
        self._update_ok()
        hold_window_size_hints(self, minimum_width=420)

    def _update_ok(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(self.picker.chosen() is not None)

    def _accept_if_chosen(self) -> None:
        if self.picker.chosen() is not None:
            self.accept()


class RecordForm(QDialog):
    """Create or edit one directory record; Save validates, then stores it on the write worker.

    Signals:
        saved(object): the record as stored.
    """

    saved = Signal(object)
    record_class: type[Record] = Record
    #: The form's name in drafts (``Draft.editor``): its record type.
    draft_editor = ""

    def __init__(
        self,
        profile: Profile,
        space_id: str,
        record: Record | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setModal(True)
        self._profile = profile
        self._space_id = space_id
        self.record = record
        #: Why saving is off (a reader, or no longer a member), or None.
        self.read_only_reason: str | None = None
        self.fields: dict[str, QWidget] = {}
        self.errors: dict[str, MessageLabel] = {}
        self._labels: dict[str, tuple[QLabel, str]] = {}
        self._form = QFormLayout()
        self._form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.message = MessageLabel(self)
        self.problems = FieldProblems(self.message, self.field_labels)
        self.hints: list[LengthHint] = []
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self._form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.build_fields()
        if record is not None:
            self.show_record(record)
        self.retranslate()
        hold_window_size_hints(self, minimum_width=520)
        #: The id this form's draft is kept under; a reopened draft keeps its own.
        self.draft_id = new_id()
        self.from_draft = False
        self._opened_state = self.form_state()  # a lock keeps a draft only if this changed

    # --- what each type fills in --------------------------------------------------------------

    def build_fields(self) -> None:
        raise NotImplementedError

    def show_record(self, record: Any) -> None:
        raise NotImplementedError

    def values(self) -> dict[str, Any]:
        raise NotImplementedError

    def titles(self) -> tuple[str, str]:
        """The window title for a new record and for an existing one."""
        raise NotImplementedError

    # --- shared -------------------------------------------------------------------------------

    def add_field(
        self, name: str, label: str, widget: QWidget, *, limit: int | None = None
    ) -> None:
        """A field with its label (marked with ``N_``), beneath it its error line and, with
        ``limit``, how many characters are used as the limit nears."""
        error = MessageLabel()
        caption, hint = add_field_row(
            self._form, widget, error, parent=self, name=name, limit=limit
        )
        if hint is not None:
            self.hints.append(hint)
        widget.setObjectName(f"field_{name}")
        self.fields[name] = widget
        self.errors[name] = error
        self._labels[name] = (caption, label)
        self.problems.add(name, widget, error)

    def field_labels(self) -> dict[str, str]:
        return {name: _(label) for name, (_caption, label) in self._labels.items()}

    def build(self) -> Record:
        if self.record is not None:
            return edit(self.record, **self.values())
        return self.record_class(space_id=self._space_id, **self.values())

    def show_errors(self, errors: list[FieldError]) -> None:
        """Each message under its field, the fields named above Save, focus on the first."""
        self.problems.show(errors)

    # --- drafts -------------------------------------------------------------------------------

    def form_state(self) -> dict[str, Any]:
        """Every field as typed, JSON-ready: not parsed nor validated, so nothing is lost."""
        state: dict[str, Any] = {}
        for name, widget in self.fields.items():
            if isinstance(widget, QLineEdit):
                state[name] = widget.text()
            elif isinstance(widget, QPlainTextEdit):
                state[name] = widget.toPlainText()
            elif isinstance(widget, QComboBox):
                data = widget.currentData()
                state[name] = data if isinstance(data, str) else ""
            elif isinstance(widget, CodeChecklist):
                state[name] = list(widget.codes())
        return state

    def restore_form_state(self, state: dict[str, Any]) -> None:
        for name, widget in self.fields.items():
            value = state.get(name)
            if isinstance(widget, QLineEdit | QPlainTextEdit) and isinstance(value, str):
                if isinstance(widget, QLineEdit):
                    widget.setText(value)
                else:
                    widget.setPlainText(value)
            elif isinstance(widget, QComboBox) and isinstance(value, str):
                widget.setCurrentIndex(max(0, widget.findData(value)))
            elif isinstance(widget, CodeChecklist) and isinstance(value, list):
                widget.set_codes(tuple(str(code) for code in value))

    def draft_label(self) -> str:
        name = self.fields.get("name")
        typed = name.text().strip() if isinstance(name, QLineEdit) else ""
        return typed or str(getattr(self.record, "name", "") or "")

    def draft(self) -> Draft | None:
        """What to keep if the lock closes this form now; None when nothing was changed."""
        state = self.form_state()
        if state == self._opened_state and not self.from_draft:
            return None
        return Draft(
            editor=self.draft_editor,
            space_id=self._space_id,
            record_id=self.record.id if self.record is not None else None,
            is_new=self.record is None,
            label=self.draft_label(),
            state=state,
            id=self.draft_id,
        )

    def restore_draft(self, draft: Draft) -> None:
        """Show ``draft``'s fields as they were typed; saving or cancelling ends the draft."""
        self.draft_id = draft.id
        self.from_draft = True
        self.restore_form_state(draft.state)

    def reject(self) -> None:
        if self.from_draft and not self._profile.closed:
            # Cancelling a reopened draft discards it; a lock (profile closed) keeps it.
            engine, draft_id = self._profile.engine, self.draft_id
            run_job(None, lambda _state: DraftStore(engine).discard(draft_id), writes=True)
            self.from_draft = False
        super().reject()

    def set_read_only(self, reason: str) -> None:
        """Saving is off: the fields stay readable (and their text copyable), the reason is
        shown and Save is disabled. A reopened draft whose space this device can no longer
        write in opens this way, since the server would refuse what it saved."""
        self.read_only_reason = reason
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(False)
        self.message.say(reason)

    def save(self) -> None:
        if self.read_only_reason is not None:
            self.message.say(self.read_only_reason)
            return
        record = self.build()
        errors = record.validate()
        self.show_errors(errors)
        if errors:
            return
        self.buttons.setEnabled(False)
        engine = self._profile.engine
        draft_id = self.draft_id if self.from_draft else None

        def store(_state: JobState) -> Record:
            saved = RecordStore(engine).save(record)
            if draft_id is not None:
                DraftStore(engine).discard(draft_id)  # what it kept is saved now
            return saved

        run_job(self, store, on_success=self._saved, on_failure=self._failed, writes=True)

    def _saved(self, record: Record) -> None:
        self.record = record
        self.saved.emit(record)
        self.accept()

    def _failed(self, error: BaseException) -> None:
        self.buttons.setEnabled(True)
        if isinstance(error, InvalidRecord):
            self.show_errors(error.errors)
        else:
            self.message.say(failure_message(error))

    def retranslate(self) -> None:
        for caption, text in self._labels.values():
            caption.setText(_(text))
        for hint in self.hints:
            hint.retranslate()
        new_title, edit_title = self.titles()
        self.setWindowTitle(_(edit_title) if self.record is not None else _(new_title))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class OrganizationForm(RecordForm):
    record_class = Organization
    draft_editor = "organization"

    def build_fields(self) -> None:
        self.name = QLineEdit(self)
        self.acronym = QLineEdit(self)
        self.country = QComboBox(self)
        self.email = QLineEdit(self)
        self.website = QLineEdit(self)
        for address in (self.email, self.website):
            keep_left_to_right(address)
        self.objectives = CodeChecklist(vocab.OBJECTIVES, self)
        self.description = QPlainTextEdit(self)
        self.description.setTabChangesFocus(True)
        self.description.setMaximumHeight(100)
        self.add_field("name", N_("Name"), self.name, limit=NAME_LIMIT)
        self.add_field("acronym", N_("Acronym"), self.acronym)
        self.add_field("country", N_("Country"), self.country)
        self.add_field("email", N_("E-mail"), self.email)
        self.add_field("website", N_("Website"), self.website)
        self.add_field("objectives", N_("Objectives"), self.objectives)
        self.add_field("description", N_("Description"), self.description)

    def show_record(self, record: Organization) -> None:
        self.name.setText(record.name)
        self.acronym.setText(record.acronym)
        fill_country_combo(self.country, "")
        self.country.setCurrentIndex(max(0, self.country.findData(record.country)))
        self.email.setText(record.email)
        self.website.setText(record.website)
        self.objectives.set_codes(record.objectives)
        self.description.setPlainText(record.description)

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name.text().strip(),
            "acronym": self.acronym.text().strip(),
            "country": self.country.currentData() or "",
            "email": self.email.text().strip(),
            "website": self.website.text().strip(),
            "objectives": self.objectives.codes(),
            "description": self.description.toPlainText().strip(),
        }

    def titles(self) -> tuple[str, str]:
        return N_("New organization"), N_("Edit organization")

    def retranslate(self) -> None:
        super().retranslate()
        fill_country_combo(self.country, _("Not stated"))
        self.objectives.retranslate()
        self.website.setPlaceholderText("https://")


class PersonForm(RecordForm):
    record_class = Person
    draft_editor = "person"

    def __init__(
        self,
        profile: Profile,
        space_id: str,
        record: Record | None = None,
        parent: QWidget | None = None,
        *,
        organization: tuple[str, str] | None = None,
    ) -> None:
        self._organization: tuple[str, str] | None = organization
        self._organization_dialog: PickRecordDialog | None = None
        super().__init__(profile, space_id, record, parent)

    def build_fields(self) -> None:
        self.kind = QComboBox(self)
        self.name = QLineEdit(self)
        self.alias = QLineEdit(self)
        self.headcount = QLineEdit(self)
        self.headcount.setValidator(QIntValidator(0, 10_000_000, self.headcount))
        self.country = QComboBox(self)
        self.organization_box = QWidget(self)
        self.organization_name = QLabel(self.organization_box)
        self.organization_name.setTextFormat(Qt.TextFormat.PlainText)
        self.choose_organization = QPushButton(self.organization_box)
        self.clear_organization = QPushButton(self.organization_box)
        row = QHBoxLayout(self.organization_box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.organization_name, 1)
        row.addWidget(self.choose_organization)
        row.addWidget(self.clear_organization)
        self.choose_organization.clicked.connect(self.pick_organization)
        self.clear_organization.clicked.connect(lambda: self.set_organization(None))
        self.occupation = QLineEdit(self)
        self.notes = QPlainTextEdit(self)
        self.notes.setTabChangesFocus(True)
        self.notes.setMaximumHeight(100)
        self.add_field("kind", N_("Kind"), self.kind)
        self.add_field("name", N_("Name"), self.name, limit=NAME_LIMIT)
        self.add_field("alias", N_("Alias"), self.alias)
        self.add_field("headcount", N_("Number of people"), self.headcount)
        self.add_field("country", N_("Country"), self.country)
        self.add_field("organization_id", N_("Organization"), self.organization_box)
        self.add_field("occupation", N_("Occupation"), self.occupation)
        self.add_field("notes", N_("Notes"), self.notes)
        self.kind.currentIndexChanged.connect(self._kind_changed)

    def show_record(self, record: Person) -> None:
        fill_vocabulary_combo(self.kind, vocab.PERSON_KINDS, None)
        self.kind.setCurrentIndex(max(0, self.kind.findData(record.kind.value)))
        self.name.setText(record.name)
        self.alias.setText(record.alias)
        self.headcount.setText("" if record.headcount is None else str(record.headcount))
        fill_country_combo(self.country, "")
        self.country.setCurrentIndex(max(0, self.country.findData(record.country)))
        self.occupation.setText(record.occupation)
        self.notes.setPlainText(record.notes)

    def set_organization(self, organization: tuple[str, str] | None) -> None:
        """Link to ``(id, name)``, or to no organization."""
        self._organization = organization
        self._show_organization()
        self.problems.fixed("organization_id")

    def organization_id(self) -> str | None:
        return self._organization[0] if self._organization else None

    def pick_organization(self) -> PickRecordDialog:
        dialog = PickRecordDialog(self._profile, "organization", self)
        dialog.accepted.connect(lambda: self._picked(dialog))
        self._organization_dialog = dialog
        dialog.open()
        return dialog

    def _picked(self, dialog: PickRecordDialog) -> None:
        row = dialog.picker.chosen()
        if row is not None:
            self.set_organization((row.id, row.label))

    def _show_organization(self) -> None:
        self.organization_name.setText(
            self._organization[1] if self._organization else _("No organization")
        )
        self.clear_organization.setEnabled(self._organization is not None)

    def _kind_changed(self) -> None:
        is_group = self.kind.currentData() == PersonKind.GROUP.value
        self.headcount.setEnabled(is_group)
        if not is_group:
            self.headcount.clear()
            self.problems.fixed("headcount")

    def values(self) -> dict[str, Any]:
        text = self.headcount.text().strip()
        return {
            "kind": PersonKind(self.kind.currentData() or PersonKind.INDIVIDUAL.value),
            "name": self.name.text().strip(),
            "alias": self.alias.text().strip(),
            "headcount": int(text) if text and self.headcount.isEnabled() else None,
            "country": self.country.currentData() or "",
            "organization_id": self.organization_id(),
            "occupation": self.occupation.text().strip(),
            "notes": self.notes.toPlainText().strip(),
        }

    def titles(self) -> tuple[str, str]:
        return N_("New person or group"), N_("Edit person or group")

    def form_state(self) -> dict[str, Any]:
        state = super().form_state()
        state["organization"] = list(self._organization) if self._organization else None
        return state

    def restore_form_state(self, state: dict[str, Any]) -> None:
        super().restore_form_state(state)
        organization = state.get("organization")
        if isinstance(organization, list) and len(organization) == 2:
            self.set_organization((str(organization[0]), str(organization[1])))
        else:
            self.set_organization(None)

    def draft_label(self) -> str:
        return super().draft_label() or self.alias.text().strip()

    def retranslate(self) -> None:
        super().retranslate()
        fill_vocabulary_combo(self.kind, vocab.PERSON_KINDS, None)
        fill_country_combo(self.country, _("Not stated"))
        self.choose_organization.setText(_("Choose…"))
        self.clear_organization.setText(_("Remove link"))
        self.alias.setPlaceholderText(_("Shown instead of the name where it must not appear"))
        self.headcount.setPlaceholderText(_("For a group: an estimate is fine"))
        for line in (self.alias, self.headcount):
            fit_placeholder(line)
        self._show_organization()
        self._kind_changed()


class WorkingGroupForm(RecordForm):
    record_class = WorkingGroup
    draft_editor = "working_group"

    def build_fields(self) -> None:
        self.name = QLineEdit(self)
        self.objectives = CodeChecklist(vocab.OBJECTIVES, self)
        self.description = QPlainTextEdit(self)
        self.description.setTabChangesFocus(True)
        self.description.setMaximumHeight(100)
        self.add_field("name", N_("Name"), self.name, limit=NAME_LIMIT)
        self.add_field("objectives", N_("Objectives"), self.objectives)
        self.add_field("description", N_("Description"), self.description)

    def show_record(self, record: WorkingGroup) -> None:
        self.name.setText(record.name)
        self.objectives.set_codes(record.objectives)
        self.description.setPlainText(record.description)

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name.text().strip(),
            "objectives": self.objectives.codes(),
            "description": self.description.toPlainText().strip(),
        }

    def titles(self) -> tuple[str, str]:
        return N_("New working group"), N_("Edit working group")

    def retranslate(self) -> None:
        super().retranslate()
        self.objectives.retranslate()


FORMS: dict[str, type[RecordForm]] = {
    "organization": OrganizationForm,
    "person": PersonForm,
    "working_group": WorkingGroupForm,
}


_MEMBERSHIP_TITLES: dict[str, str] = {
    "working_group": N_("Add to a working group"),
    "organization": N_("Add an organization to this group"),
    "person": N_("Add a person to this group"),
}


class MembershipDialog(QDialog):
    """Add a member to a working group with a role: one side is given, the other is picked.

    ``pick`` is the record type chosen here: ``working_group`` when the member is given,
    ``organization`` or ``person`` when the group is.

    Signals:
        saved(object): the membership as stored.
    """

    saved = Signal(object)

    def __init__(
        self,
        profile: Profile,
        space_id: str,
        pick: str,
        *,
        working_group_id: str | None = None,
        member: tuple[str, str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setModal(True)
        self._profile = profile
        self._space_id = space_id
        self._pick = pick
        self._working_group_id = working_group_id
        self._member = member  # (record type, id) when the member is the given side
        self.picker = RecordPicker(profile, pick, self)
        self.role = QComboBox(self)
        self.role_label = QLabel(self)
        self.role_label.setBuddy(self.role)
        self.message = MessageLabel(self)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.picker.chosen_changed.connect(self._update_save)
        form = QFormLayout()
        form.addRow(self.role_label, self.role)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picker, 1)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.retranslate()
        self.role.setCurrentIndex(max(0, self.role.findData(MembershipRole.READER.value)))
        self._update_save()
        hold_window_size_hints(self, minimum_width=440)

    def _update_save(self) -> None:
        button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        button.setEnabled(self.picker.chosen() is not None)

    def membership(self) -> Membership | None:
        row = self.picker.chosen()
        if row is None:
            return None
        role = MembershipRole(self.role.currentData() or MembershipRole.READER.value)
        if self._pick == "working_group":
            assert self._member is not None
            member_type, member_id = self._member
            return Membership(
                space_id=self._space_id,
                working_group_id=row.id,
                person_id=member_id if member_type == "person" else None,
                organization_id=member_id if member_type == "organization" else None,
                role=role,
            )
        assert self._working_group_id is not None
        return Membership(
            space_id=self._space_id,
            working_group_id=self._working_group_id,
            person_id=row.id if self._pick == "person" else None,
            organization_id=row.id if self._pick == "organization" else None,
            role=role,
        )

    def save(self) -> None:
        membership = self.membership()
        if membership is None:
            return
        self.buttons.setEnabled(False)
        engine = self._profile.engine
        pick = self._pick

        def store(_state: JobState) -> Membership | None:
            records = RecordStore(engine)
            # Once per group: a second membership for the same member would only confuse.
            for existing in records.children(membership.working_group_id, "membership"):
                if isinstance(existing, Membership) and (
                    (existing.person_id, existing.organization_id)
                    == (membership.person_id, membership.organization_id)
                ):
                    return None
            records.save(membership)
            return membership

        def stored(result: Membership | None) -> None:
            self.buttons.setEnabled(True)
            if result is None:
                self.message.say(
                    _("This organization is already in that working group.")
                    if pick == "organization" or self._member_is("organization")
                    else _("This person is already in that working group.")
                )
                return
            self.saved.emit(result)
            self.accept()

        def failed(error: BaseException) -> None:
            self.buttons.setEnabled(True)
            if isinstance(error, InvalidRecord):
                self.message.say(" ".join(e.message for e in error.errors))
            else:
                self.message.say(failure_message(error))

        run_job(self, store, on_success=stored, on_failure=failed, writes=True)

    def _member_is(self, record_type: str) -> bool:
        return self._member is not None and self._member[0] == record_type

    def retranslate(self) -> None:
        self.setWindowTitle(_(_MEMBERSHIP_TITLES[self._pick]))
        self.role_label.setText(_("Role"))
        fill_vocabulary_combo(self.role, vocab.MEMBERSHIP_ROLES, None)
        self.picker.retranslate()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


def confirm_text(
    name: str,
    *,
    group: bool = False,
    memberships: int = 0,
    materials: int = 0,
    files: int = 0,
    notes: int = 0,
) -> str:
    """The question before a deletion, saying what goes with the record and nothing it does not
    take: its memberships (a group's members', or a person's or organization's groups) and a
    working group's materials, whose files are erased from this computer, and the notes on
    the group and its materials."""
    sentences = [_("Delete “{name}” from the directory?").format(name=name)]
    if memberships and group:
        sentences.append(
            ngettext(
                "Its member's membership goes with it.",
                "The memberships of its {count} members go with it.",
                memberships,
            ).format(count=format_number(memberships))
        )
    elif memberships:
        sentences.append(
            ngettext(
                "Its membership in a working group goes with it.",
                "Its {count} memberships in working groups go with it.",
                memberships,
            ).format(count=format_number(memberships))
        )
    if materials:
        sentences.append(
            ngettext(
                "Its material goes with it.",
                "Its {count} materials go with it.",
                materials,
            ).format(count=format_number(materials))
        )
    if files:
        sentences.append(
            ngettext(
                "The material's file is erased from this computer.",
                "The {count} files of its materials are erased from this computer.",
                files,
            ).format(count=format_number(files))
        )
    if notes:
        sentences.append(
            ngettext(
                "A note on it or on its materials goes with it.",
                "The {count} notes on it and on its materials go with it.",
                notes,
            ).format(count=format_number(notes))
        )
    sentences.append(_("This cannot be undone."))
    return " ".join(sentences)


class MessageDialog(QDialog):
    """A titled message with Close, or with Cancel and one action (Delete) to confirm.

    QMessageBox fixes its own size each time it is shown, which offscreen platforms warn
    about and which clips long translations; this dialog sizes once, like the others.

    Signals:
        confirmed(): the action button was pressed (never for Close or Cancel).
    """

    confirmed = Signal()

    def __init__(
        self,
        title: str,
        text: str,
        *,
        action_text: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setModal(True)
        self.setWindowTitle(title)
        self.label = QLabel(text, self)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.buttons = QDialogButtonBox(self)
        self.action_button: QPushButton | None = None
        if action_text is None:
            self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        else:
            cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
            self.action_button = self.buttons.addButton(
                action_text, QDialogButtonBox.ButtonRole.AcceptRole
            )
            # Enter must not destroy anything: Cancel is the default.
            cancel.setDefault(True)
            cancel.setFocus()
        self.buttons.accepted.connect(self._confirm)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.buttons)
        hold_window_size_hints(self, minimum_width=420)

    def text(self) -> str:
        return self.label.text()

    def _confirm(self) -> None:
        self.accept()
        self.confirmed.emit()
