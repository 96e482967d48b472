"""The panel beside a directory list: the chosen record's fields and what it is linked to.

It reads on a worker and offers the actions on that record: edit, delete, link and unlink.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop.domain import vocabularies as vocab
from desktop.domain.records import Organization, Person, PersonKind, Record, WorkingGroup
from desktop.domain.translation import N_, _, format_number
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.sync_state import space_access
from desktop.ui.access import read_only_reason
from desktop.ui.directory.links import Link, RecordDetail, load_detail
from desktop.ui.flow import FlowLayout
from desktop.ui.forms import LineStack, MessageLabel, failure_message, heading, wrap_items
from desktop.ui.jobs import JobState, run_job


def link_text(link: Link) -> str:
    if link.role:
        return _("{name} — {role}").format(
            name=link.label, role=vocab.label(vocab.MEMBERSHIP_ROLES, link.role)
        )
    return link.label


class LinkList(QWidget):
    """A titled list of linked records, with an optional add and remove button.

    Signals:
        add_requested(): the person asked to add a link.
        remove_requested(object): the person asked to remove the selected ``Link``.
        open_requested(object): a ``Link`` was activated, to show that record.
    """

    add_requested = Signal()
    remove_requested = Signal(object)
    open_requested = Signal(object)

    def __init__(
        self,
        title: str,
        add_text: str | None,
        remove_text: str | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._title, self._add_text, self._remove_text = title, add_text, remove_text
        self._editable = True
        self.title = QLabel(self)
        self.title.setProperty("role", "subheading")
        self.list = QListWidget(self)
        self.list.setMaximumHeight(150)
        wrap_items(self.list)
        self.title.setBuddy(self.list)
        self.empty = QLabel(self)
        self.empty.setProperty("role", "hint")
        self.add_button = QPushButton(self) if add_text else None
        self.remove_button = QPushButton(self) if remove_text else None
        # Wrapping: "Ajouter une personne…" and "Retirer du groupe de travail" side by side
        # were wider than the detail at 1024×680.
        buttons = FlowLayout()
        if self.add_button is not None:
            self.add_button.clicked.connect(self.add_requested.emit)
            buttons.add_widget(self.add_button)
        if self.remove_button is not None:
            self.remove_button.clicked.connect(self._remove)
            buttons.add_widget(self.remove_button)
        self.list.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.list.itemActivated.connect(lambda item: self.open_requested.emit(self._link(item)))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.empty)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self.links: list[Link] = []
        self.retranslate()

    def set_links(self, links: list[Link]) -> None:
        self.links = links
        self.list.clear()
        for link in links:
            item = QListWidgetItem(link_text(link), self.list)
            item.setData(Qt.ItemDataRole.UserRole, link)
        self.list.setVisible(bool(links))
        self.empty.setVisible(not links)
        self._update_buttons()

    def texts(self) -> list[str]:
        return [self.list.item(n).text() for n in range(self.list.count())]

    @staticmethod
    def _link(item: QListWidgetItem) -> Link:
        link = item.data(Qt.ItemDataRole.UserRole)
        assert isinstance(link, Link)
        return link

    def _remove(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.remove_requested.emit(self._link(item))

    def set_editable(self, editable: bool, reason: str | None = None) -> None:
        """Adding and removing members changes records of the space: off for a reader."""
        self._editable = editable
        for button in (self.add_button, self.remove_button):
            if button is not None:
                button.setToolTip(reason or "")
        if self.add_button is not None:
            self.add_button.setEnabled(editable)
        self._update_buttons()

    def _update_buttons(self) -> None:
        if self.remove_button is not None:
            self.remove_button.setEnabled(self._editable and self.list.currentItem() is not None)

    def retranslate(self) -> None:
        self.title.setText(_(self._title))
        self.empty.setText(_("None yet."))
        if self.add_button is not None and self._add_text:
            self.add_button.setText(_(self._add_text))
        if self.remove_button is not None and self._remove_text:
            self.remove_button.setText(_(self._remove_text))
        for n in range(self.list.count()):
            item = self.list.item(n)
            item.setText(link_text(self._link(item)))


class DetailPanel(QScrollArea):
    """The selected record of one list, or a hint to choose one.

    Signals:
        edit_requested(object): edit this ``RecordDetail``'s record.
        delete_requested(object): delete it (the page asks for confirmation first).
        add_membership_requested(str): pick a record of this type to link in a working group.
        remove_membership_requested(object): remove this ``Link``'s membership.
        loaded(object): the ``RecordDetail`` now shown.
    """

    edit_requested = Signal(object)
    delete_requested = Signal(object)
    add_membership_requested = Signal(str)
    remove_membership_requested = Signal(object)
    loaded = Signal(object)

    def __init__(self, profile: Profile, record_type: str, parent: QWidget | None = None):
        super().__init__(parent)
        self._profile = profile
        self._record_type = record_type
        self._generation = 0
        self.detail: RecordDetail | None = None
        self.setWidgetResizable(True)
        self.setMinimumWidth(320)
        body = QWidget(self)
        self.heading = heading(body)
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        self.hint = QLabel(body)
        self.hint.setWordWrap(True)
        self.hint.setProperty("role", "empty")
        self.facts = QFormLayout()
        self.facts.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.message = MessageLabel(body)
        self.read_only = QLabel(body)
        self.read_only.setObjectName("readOnlyNotice")
        self.read_only.setProperty("role", "hint")
        self.read_only.setWordWrap(True)
        self.read_only.hide()
        self.edit_button = QPushButton(body)
        self.delete_button = QPushButton(body)
        self.edit_button.clicked.connect(self._edit)
        self.delete_button.clicked.connect(self._delete)
        actions = FlowLayout()
        actions.add_widget(self.edit_button)
        actions.add_widget(self.delete_button)
        self.people = LinkList(
            N_("Members: people") if record_type == "working_group" else N_("People"),
            N_("Add a person…") if record_type == "working_group" else None,
            N_("Remove from the group") if record_type == "working_group" else None,
            body,
        )
        self.organizations = LinkList(
            N_("Members: organizations"),
            N_("Add an organization…"),
            N_("Remove from the group"),
            body,
        )
        self.groups = LinkList(
            N_("Working groups"), N_("Add to a working group…"), N_("Leave the group"), body
        )
        self.people.add_requested.connect(lambda: self.add_membership_requested.emit("person"))
        self.organizations.add_requested.connect(
            lambda: self.add_membership_requested.emit("organization")
        )
        self.groups.add_requested.connect(
            lambda: self.add_membership_requested.emit("working_group")
        )
        for links in (self.people, self.organizations, self.groups):
            links.remove_requested.connect(self.remove_membership_requested.emit)
        layout = QVBoxLayout(body)
        layout.addWidget(self.heading)
        layout.addWidget(self.hint)
        layout.addLayout(self.facts)
        layout.addWidget(self.read_only)
        layout.addLayout(actions)
        layout.addWidget(self.message)
        layout.addWidget(self.people)
        layout.addWidget(self.organizations)
        layout.addWidget(self.groups)
        layout.addStretch(1)
        self.setWidget(body)
        self.show_nothing()
        self.retranslate()

    def show_nothing(self) -> None:
        self._generation += 1
        self.detail = None
        self.heading.hide()
        self._clear_facts()
        for widget in (self.people, self.organizations, self.groups):
            widget.hide()
        self.edit_button.hide()
        self.delete_button.hide()
        self.read_only.hide()
        self.message.clear_message()
        self.hint.show()

    def show_record(self, record_id: str) -> None:
        """Read the record and its links on a worker, then show them."""
        self._generation += 1
        generation = self._generation
        engine = self._profile.engine

        def read(_state: JobState) -> RecordDetail:
            detail = load_detail(RecordStore(engine), record_id)
            return replace(detail, access=space_access(engine, detail.record.space_id))

        run_job(
            self,
            read,
            on_success=lambda detail: self._show(generation, detail),
            on_failure=lambda error: self._failed(generation, error),
        )

    def reload(self) -> None:
        if self.detail is not None:
            self.show_record(self.detail.record.id)

    def _failed(self, generation: int, error: BaseException) -> None:
        if generation == self._generation:
            self.show_nothing()
            self.message.say(failure_message(error))

    def _show(self, generation: int, detail: RecordDetail) -> None:
        if generation != self._generation:
            return
        self.detail = detail
        self.hint.hide()
        self.message.clear_message()
        self.heading.show()
        self.edit_button.show()
        self.delete_button.show()
        self._fill(detail)
        self._apply_access(detail)
        self.loaded.emit(detail)

    def _apply_access(self, detail: RecordDetail) -> None:
        """Editing, deleting and membership changes off, with the reason, where this device
        only reads: the server would refuse them and they would wait unsent forever."""
        reason = read_only_reason(detail.access)
        self.read_only.setText(reason or "")
        self.read_only.setVisible(reason is not None)
        for button in (self.edit_button, self.delete_button):
            button.setEnabled(reason is None)
            button.setToolTip(reason or "")
        for links in (self.people, self.organizations, self.groups):
            links.set_editable(reason is None, reason)

    def _fill(self, detail: RecordDetail) -> None:
        record = detail.record
        self._clear_facts()
        name = str(getattr(record, "name", "") or getattr(record, "alias", ""))
        self.heading.setText(name)
        for label, value in self._facts(detail):
            if value:
                caption = QLabel(label)
                caption.setProperty("role", "hint")
                # A value of several lines (focus areas, objectives) a label per line: in one
                # label, Arabic's lines touched (LineStack).
                shown = LineStack(selectable=True)
                shown.setText(value)
                self.facts.addRow(caption, shown)
        is_group = isinstance(record, WorkingGroup)
        self.people.setVisible(isinstance(record, Organization) or is_group)
        self.people.set_links(detail.people)
        self.organizations.setVisible(is_group)
        self.organizations.set_links(detail.organizations)
        self.groups.setVisible(not is_group)
        self.groups.set_links(detail.groups)

    def _facts(self, detail: RecordDetail) -> list[tuple[str, str]]:
        record: Record = detail.record
        countries = vocab.COUNTRIES
        if isinstance(record, Organization):
            return [
                (_("Acronym"), record.acronym),
                (_("Country"), vocab.label(countries, record.country) if record.country else ""),
                (_("E-mail"), record.email),
                (_("Website"), record.website),
                (_("Objectives"), self._objectives(record.objectives)),
                (_("Description"), record.description),
            ]
        if isinstance(record, Person):
            headcount = ""
            if record.kind is PersonKind.GROUP and record.headcount is not None:
                headcount = format_number(record.headcount)
            return [
                (_("Kind"), vocab.label(vocab.PERSON_KINDS, record.kind.value)),
                (_("Alias"), record.alias if record.name else ""),
                (_("Number of people"), headcount),
                (_("Country"), vocab.label(countries, record.country) if record.country else ""),
                (_("Organization"), detail.organization.label if detail.organization else ""),
                (_("Occupation"), record.occupation),
                (_("Notes"), record.notes),
            ]
        if isinstance(record, WorkingGroup):
            return [
                (_("Objectives"), self._objectives(record.objectives)),
                (_("Description"), record.description),
            ]
        return []

    @staticmethod
    def _objectives(codes: tuple[str, ...]) -> str:
        return "\n".join(vocab.label(vocab.OBJECTIVES, code) for code in codes)

    def _clear_facts(self) -> None:
        while self.facts.rowCount():
            self.facts.removeRow(0)

    def fact_texts(self) -> dict[str, str]:
        """What the panel shows, caption to value (for tests and accessibility checks)."""
        shown = {}
        for row in range(self.facts.rowCount()):
            caption = self.facts.itemAt(row, QFormLayout.ItemRole.LabelRole)
            value = self.facts.itemAt(row, QFormLayout.ItemRole.FieldRole)
            if caption is None or value is None:
                continue
            caption_label, value_label = caption.widget(), value.widget()
            if isinstance(caption_label, QLabel) and isinstance(value_label, LineStack):
                shown[caption_label.text()] = value_label.text()
        return shown

    def _edit(self) -> None:
        if self.detail is not None:
            self.edit_requested.emit(self.detail)

    def _delete(self) -> None:
        if self.detail is not None:
            self.delete_requested.emit(self.detail)

    def retranslate(self) -> None:
        self.hint.setText(
            {
                "organization": _("Choose an organization in the list to see it here."),
                "person": _("Choose a person or group in the list to see them here."),
                "working_group": _("Choose a working group in the list to see it here."),
            }[self._record_type]
        )
        self.edit_button.setText(_("Edit…"))
        self.delete_button.setText(_("Delete…"))
        for links in (self.people, self.organizations, self.groups):
            links.retranslate()
        if self.detail is not None:
            self._fill(self.detail)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
