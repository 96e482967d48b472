"""The Working groups section: a group's members, materials and notes, and a reader for materials.

Materials are sealed into the vault at import and read from memory; all store work runs on workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.network_records import MATERIAL_TYPES, Material, Note
from desktop.domain.records import Membership, Organization, Person, Record, WorkingGroup
from desktop.domain.translation import _, current_language
from desktop.store.profile import Profile
from desktop.store.records import InvalidRecord, RecordQuery, RecordStore
from desktop.store.spaces import local_spaces
from desktop.ui.alerts.forms import (
    LETTER_LANGUAGES,
    fill_codes,
    isolated,
    on_leading_side,
    problems_text,
)
from desktop.ui.directory.model import RecordListModel, select_row
from desktop.ui.forms import (
    MessageLabel,
    failure_message,
    heading,
    hold_window_size_hints,
    paragraph,
)
from desktop.ui.incidents.display import vocabulary_label
from desktop.ui.jobs import JobState, run_job
from desktop.ui.workgroups.files import (
    OpenedFile,
    import_material_file,
    open_material_file,
    reading_position,
    remember_page,
)
from desktop.ui.workgroups.objectives import ObjectivesView
from desktop.ui.workgroups.reader import MaterialReader

_ID = Qt.ItemDataRole.UserRole


@dataclass
class GroupBundle:
    group: WorkingGroup
    members: list[str] = field(default_factory=list)
    materials: list[Material] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


def load_group(store: RecordStore, group_id: str) -> GroupBundle:
    group = store.require(group_id)
    assert isinstance(group, WorkingGroup)
    bundle = GroupBundle(group)
    for membership in store.children(group_id, "membership"):
        assert isinstance(membership, Membership)
        member = store.get(membership.person_id or membership.organization_id or "")
        if isinstance(member, Person):
            bundle.members.append(member.name or member.alias)
        elif isinstance(member, Organization):
            bundle.members.append(member.name)
    bundle.materials = [m for m in store.children(group_id, "material") if isinstance(m, Material)]
    bundle.notes = [n for n in store.children(group_id, "note") if isinstance(n, Note)]
    return bundle


def _note_line(note: Note, only_me: str) -> str:
    where = _("only me") if note.space_id == only_me else _("group")
    return _("{note} ({where})").format(note=isolated(note.body.strip()), where=where)


class NotesPanel(QWidget):
    """Notes on a material or a group: the list, and a box to add one, personal or shared.

    Signals:
        add_requested(str, bool): the note's text, and whether it is for the person only.
    """

    add_requested = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        self.text = QPlainTextEdit(self)
        self.text.setMaximumHeight(70)
        self.text.setTabChangesFocus(True)
        self.personal = QCheckBox(self)
        self.add_button = QPushButton(self)
        self.add_button.clicked.connect(self._add)
        row = QHBoxLayout()
        row.addWidget(self.personal)
        row.addStretch(1)
        row.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.text)
        layout.addLayout(row)
        self.retranslate()

    def show_notes(self, notes: list[Note], only_me: str) -> None:
        self.list.clear()
        for note in notes:
            self.list.addItem(_note_line(note, only_me))

    def _add(self) -> None:
        if self.text.toPlainText().strip():
            self.add_requested.emit(self.text.toPlainText(), self.personal.isChecked())

    def retranslate(self) -> None:
        self.text.setPlaceholderText(_("Write a note…"))
        self.personal.setText(_("Only for me"))
        self.add_button.setText(_("Add note"))


class MaterialDialog(QDialog):
    """A material read in the app, with its notes; the page is remembered when it closes.

    Signals:
        page_saved(int): the page stored as where the person stopped reading.
    """

    page_saved = Signal(int)

    def __init__(
        self,
        store: RecordStore,
        material: Material,
        opened: OpenedFile,
        page: int,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("materialDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.store = store
        self.material = material
        self.only_me = ""
        self.reader = MaterialReader(opened, page, self)
        self.notes = NotesPanel(self)
        self.notes.add_requested.connect(self._add_note)
        self.message = MessageLabel(self)
        splitter = QSplitter(self)
        splitter.addWidget(self.reader)
        splitter.addWidget(self.notes)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.message)
        self.setWindowTitle(material.title)
        hold_window_size_hints(self)
        self.resize(1000, 720)
        self._load_notes()

    def _load_notes(self) -> None:
        store, material_id = self.store, self.material.id

        def read(_state: JobState) -> tuple[str, list[Note]]:
            notes = [n for n in store.children(material_id, "note") if isinstance(n, Note)]
            return local_spaces(store).only_me.id, notes

        run_job(self, read, on_success=self._notes_read, on_failure=self._failed)

    def _notes_read(self, found: tuple[str, list[Note]]) -> None:
        self.only_me, notes = found
        self.notes.show_notes(notes, self.only_me)

    def _failed(self, error: BaseException) -> None:
        self.message.say(failure_message(error))

    def _add_note(self, body: str, personal: bool) -> None:
        store, material = self.store, self.material
        page = self.reader.page if self.reader.document is not None else None

        def save(_state: JobState) -> Record:
            spaces = local_spaces(store)
            space = spaces.only_me.id if personal else material.space_id
            note = Note(space_id=space, material_id=material.id, page=page, body=body)
            return store.save(note)

        def saved(_note: object) -> None:
            self.notes.text.clear()
            self._load_notes()

        run_job(self, save, on_success=saved, on_failure=self._failed, writes=True)

    def done(self, result: int) -> None:
        if self.reader.document is not None:
            store, material_id, page = self.store, self.material.id, self.reader.page
            # Saved on the write worker after the dialog is gone: nothing waits for it.
            run_job(None, lambda _state: remember_page(store, material_id, page), writes=True)
            self.page_saved.emit(page)
        self.reader.release()
        super().done(result)


class GroupView(QWidget):
    """One working group: who is in it, its materials, its notes, and importing a material.

    Signals:
        loaded(): the group was read and shown.
        material_opened(object): the :class:`MaterialDialog` just shown.
    """

    loaded = Signal()
    material_opened = Signal(object)

    def __init__(self, profile: Profile, group_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.profile = profile
        self.store = RecordStore(profile.engine)
        self.group_id = group_id
        self.bundle: GroupBundle | None = None
        self.only_me = ""
        self.dialog: MaterialDialog | None = None

        self.title = heading(self)
        self.description = paragraph(self)
        self.members_box = QGroupBox(self)
        self.members = QListWidget(self.members_box)
        self.members.setMaximumHeight(110)
        QVBoxLayout(self.members_box).addWidget(self.members)

        self.materials_box = QGroupBox(self)
        self.materials = QListWidget(self.materials_box)
        self.materials.itemActivated.connect(self._material_activated)
        self.open_button = QPushButton(self.materials_box)
        self.open_button.clicked.connect(self._open_current)
        self.new_title = QLineEdit(self.materials_box)
        self.new_type = QComboBox(self.materials_box)
        self.new_language = QComboBox(self.materials_box)
        for code, name in LETTER_LANGUAGES:
            self.new_language.addItem(name, code)
        self.new_language.setCurrentIndex(max(self.new_language.findData(current_language()), 0))
        self.import_button = QPushButton(self.materials_box)
        self.import_button.clicked.connect(self._choose_file)
        import_row = QHBoxLayout()
        import_row.addWidget(self.new_title, 2)
        import_row.addWidget(self.new_type, 1)
        import_row.addWidget(self.new_language)
        import_row.addWidget(self.import_button)
        box = QVBoxLayout(self.materials_box)
        box.addWidget(self.materials)
        box.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignLeading)
        box.addLayout(import_row)

        self.notes_box = QGroupBox(self)
        self.notes = NotesPanel(self.notes_box)
        self.notes.add_requested.connect(self._add_note)
        QVBoxLayout(self.notes_box).addWidget(self.notes)
        self.message = MessageLabel(self)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.description)
        layout.addWidget(self.members_box)
        layout.addWidget(self.materials_box, 2)
        layout.addWidget(self.notes_box, 1)
        layout.addWidget(self.message)
        self.retranslate()
        self.reload()

    def reload(self) -> None:
        store, group_id = self.store, self.group_id

        def read(_state: JobState) -> tuple[GroupBundle, str]:
            return load_group(store, group_id), local_spaces(store).only_me.id

        run_job(self, read, on_success=self._show, on_failure=self._failed)

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, InvalidRecord):
            self.message.say(problems_text(error.errors, {"title": _("Title")}))
        else:
            self.message.say(failure_message(error))

    def _show(self, found: tuple[GroupBundle, str]) -> None:
        self.bundle, self.only_me = found
        self._fill()
        self.loaded.emit()

    def _fill(self) -> None:
        if self.bundle is None:
            return
        self.title.setText(on_leading_side(self.bundle.group.name))
        self.description.setText(on_leading_side(self.bundle.group.description))
        self.members.clear()
        self.members.addItems(self.bundle.members)
        self.materials.clear()
        for material in self.bundle.materials:
            files = ", ".join(name for _ref, name in material.attachments)
            item = QListWidgetItem(
                _("{title} · {type} · {files}").format(
                    title=isolated(material.title),
                    type=isolated(vocabulary_label(MATERIAL_TYPES, material.material_type)),
                    files=isolated(files),
                ),
                self.materials,
            )
            item.setData(_ID, material.id)
        self.notes.show_notes(self.bundle.notes, self.only_me)

    # --- materials ----------------------------------------------------------------------------

    def _choose_file(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, _("Import a material"))
        if path:
            self.import_path(Path(path))

    def import_path(self, path: Path) -> None:
        """Seal the file at ``path`` into the vault as a new material of this group."""
        if self.bundle is None:
            return
        material = Material(
            space_id=self.bundle.group.space_id,
            working_group_id=self.group_id,
            title=self.new_title.text().strip() or path.stem,
            material_type=str(self.new_type.currentData() or ""),
            language=str(self.new_language.currentData() or ""),
        )
        errors = material.validate()
        if errors:
            self.message.say(problems_text(errors, {"title": _("Title")}))
            return
        profile = self.profile

        def saved(_material: object) -> None:
            self.new_title.clear()
            self.message.clear_message()
            self.reload()

        run_job(
            self,
            lambda _state: import_material_file(profile, material, path),
            on_success=saved,
            on_failure=self._failed,
            writes=True,
        )

    def _material_activated(self, item: QListWidgetItem) -> None:
        self.open_material(str(item.data(_ID)))

    def _open_current(self) -> None:
        item = self.materials.currentItem()
        if item is not None:
            self.open_material(str(item.data(_ID)))

    def open_material(self, material_id: str) -> None:
        """Decrypt the material's first file in memory and show it where the person left off."""
        profile, store = self.profile, self.store

        def read(_state: JobState) -> tuple[Material, OpenedFile | None, int]:
            material = store.require(material_id)
            assert isinstance(material, Material)
            if not material.attachments:
                return material, None, 0
            ref, name = material.attachments[0]
            position = reading_position(store, material_id)
            page = position.page if position is not None else 0
            return material, open_material_file(profile, ref, name), page

        run_job(self, read, on_success=self._show_material, on_failure=self._failed)

    def _show_material(self, found: tuple[Material, OpenedFile | None, int]) -> None:
        material, opened, page = found
        if opened is None:
            self.message.say(_("This material has no file to read yet."))
            return
        dialog = MaterialDialog(self.store, material, opened, page, self)
        dialog.finished.connect(self._dialog_closed)
        self.dialog = dialog
        dialog.show()
        self.material_opened.emit(dialog)

    def _dialog_closed(self) -> None:
        self.dialog = None

    # --- notes --------------------------------------------------------------------------------

    def _add_note(self, body: str, personal: bool) -> None:
        store, group_id = self.store, self.group_id
        if self.bundle is None:
            return
        group_space = self.bundle.group.space_id

        def save(_state: JobState) -> Record:
            space = local_spaces(store).only_me.id if personal else group_space
            return store.save(Note(space_id=space, working_group_id=group_id, body=body))

        def saved(_note: object) -> None:
            self.notes.text.clear()
            self.reload()

        run_job(self, save, on_success=saved, on_failure=self._failed, writes=True)

    def clear(self) -> None:
        self.bundle = None
        for listing in (self.members, self.materials, self.notes.list):
            listing.clear()
        if self.dialog is not None:
            self.dialog.close()

    def retranslate(self) -> None:
        self.members_box.setTitle(_("Members"))
        self.materials_box.setTitle(_("Materials"))
        self.open_button.setText(_("Read"))
        self.new_title.setPlaceholderText(_("Title of the new material"))
        self.import_button.setText(_("Import a file…"))
        self.notes_box.setTitle(_("Group notes"))
        fill_codes(self.new_type, MATERIAL_TYPES)
        self._fill()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class WorkingGroupsPage(QWidget):
    """The groups (a lazy list) and the chosen group's page beside it.

    Signals:
        group_opened(object): the :class:`GroupView` just shown.
    """

    group_opened = Signal(object)

    def __init__(self, profile: Profile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.profile = profile
        self.group: GroupView | None = None
        self.objectives: ObjectivesView | None = None
        self.heading = heading(self)
        self.objectives_button = QPushButton(self)
        self.objectives_button.clicked.connect(self.show_objectives)
        self.message = MessageLabel(self)
        self.model = RecordListModel(profile, RecordQuery("working_group"), self)
        self.model.failed.connect(lambda error: self.message.say(failure_message(error)))
        self.view = QTableView(self)
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.activated.connect(self._activated)
        self.view.clicked.connect(self._activated)
        self.side = QStackedWidget(self)
        self.placeholder = paragraph(self.side)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.side.addWidget(self.placeholder)
        splitter = QSplitter(self)
        splitter.addWidget(self.view)
        splitter.addWidget(self.side)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        # Shown on its own (tests, screenshots) the page must not re-constrain its window.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        top = QHBoxLayout()
        top.addWidget(self.heading)
        top.addStretch(1)
        top.addWidget(self.objectives_button)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(splitter, 1)
        self.retranslate()
        self.model.refresh()

    def _activated(self, index: QModelIndex) -> None:
        group_id = index.data(_ID)
        if group_id:
            self.open_group(str(group_id))

    def open_group(self, group_id: str) -> None:
        view = GroupView(self.profile, group_id, self.side)
        if self.group is not None:
            self.group.clear()
            self.side.removeWidget(self.group)
            self.group.deleteLater()
        self.group = view
        self.side.addWidget(view)
        self.side.setCurrentWidget(view)
        row = self.model.row_of(group_id)
        if row >= 0:
            select_row(self.view, row)
        self.group_opened.emit(view)

    def show_objectives(self) -> None:
        """The counts and chart of what the network tagged with each shared objective."""
        if self.objectives is None:
            self.objectives = ObjectivesView(self.profile.engine, self.side)
            self.side.addWidget(self.objectives)
        else:
            self.objectives.refresh()
        self.side.setCurrentWidget(self.objectives)

    def tear_down(self) -> None:
        """At lock: forget every row, close the reader, drop what was decrypted."""
        self.model.clear()
        if self.group is not None:
            self.group.clear()

    def retranslate(self) -> None:
        self.heading.setText(_("Working groups"))
        self.objectives_button.setText(_("Shared objectives"))
        self.placeholder.setText(_("Choose a working group to see its members and materials."))
        self.model.retranslate()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)
