"""The Working groups section: a group's members, materials and notes, and a reader for materials.

Materials are sealed into the vault at import and read from memory; all store work runs on workers.
A material (or the whole group) can be kept offline on this device: sync then brings its files.
Any other material shows its size and a Download button, which needs a connection.
Where this device only reads the group's space (or was removed from it), importing and group
notes are off with the reason: the server would refuse them. Reading, keeping offline,
downloading, personal notes and reading positions (in "only me") stay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QEvent, QModelIndex, Qt, Signal, SignalInstance
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import Engine

from desktop.domain.network_records import MATERIAL_TYPES, Material, MaterialFile, Note
from desktop.domain.record_base import TITLE_LIMIT
from desktop.domain.records import Membership, Organization, Person, Record, WorkingGroup
from desktop.domain.translation import _, current_language, format_number, ngettext
from desktop.domain.validation import FieldError
from desktop.store.evidence import FILE_GONE_MESSAGE
from desktop.store.materials import FileState, MaterialFileGone, MaterialStore
from desktop.store.profile import Profile
from desktop.store.records import InvalidRecord, RecordQuery, RecordStore
from desktop.store.spaces import local_spaces
from desktop.store.sync_state import SpaceAccess, space_access
from desktop.ui.access import read_only_reason
from desktop.ui.bidi import OwnDirectionDelegate, isolated, show_in_own_direction
from desktop.ui.display import LETTER_LANGUAGES, describe_size, vocabulary_label
from desktop.ui.flow import FlowLayout
from desktop.ui.forms import (
    LengthHint,
    MessageLabel,
    failure_message,
    fill_codes,
    heading,
    hold_window_size_hints,
    paragraph,
    problems_text,
)
from desktop.ui.jobs import JobState, run_job
from desktop.ui.list_page import ListDetailPage, UpDownScroll
from desktop.ui.lists import ID_ROLE, NAME, ListSpec, RecordListModel, select_row
from desktop.ui.workgroups.files import (
    MaterialFileMissing,
    MislabelledFile,
    OpenedMaterial,
    import_material_file,
    open_material,
)
from desktop.ui.workgroups.objectives import ObjectivesView
from desktop.ui.workgroups.reader import MaterialReader


class MaterialLink(Protocol):
    def download(self, file: MaterialFile) -> bool: ...


class SyncScheduler(Protocol):
    """What this section needs of the window's sync (the Sync section's scheduler), named here
    so that sections do not import one another: a sync to start, a link to download files
    through, and a signal after each sync."""

    @property
    def link(self) -> MaterialLink: ...

    @property
    def synced(self) -> SignalInstance: ...

    def sync_now(self) -> None: ...


_ID = Qt.ItemDataRole.UserRole
#: The group message's ``source`` for what a download says (and what only a download answers).
DOWNLOAD_SOURCE = "download"


@dataclass
class GroupBundle:
    group: WorkingGroup
    members: list[str] = field(default_factory=list)
    materials: list[Material] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    #: Each material's files, and whether each is on this computer.
    files: dict[str, list[FileState]] = field(default_factory=dict)
    #: Material and group ids this device keeps offline.
    pins: set[str] = field(default_factory=set)
    #: This device's right in the group's space: a reader imports nothing, notes only for itself.
    access: SpaceAccess = SpaceAccess.LOCAL

    def pinned(self, material: Material) -> bool:
        return material.id in self.pins or self.group.id in self.pins

    def missing(self, material: Material) -> list[FileState]:
        """Files not on this computer that the server can send."""
        return [f for f in self.files.get(material.id, []) if not f.held and not f.gone]

    def gone(self, material: Material) -> list[FileState]:
        """Files whose content nobody could send again (``MaterialFileGone``)."""
        return [f for f in self.files.get(material.id, []) if f.gone]


def load_group(
    materials: MaterialStore, group_id: str, engine: Engine | None = None
) -> GroupBundle:
    """The group, its members, materials, notes and files; with ``engine`` (the profile's),
    this device's right in the group's space too."""
    store = materials.records
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
    bundle.files = {m.id: materials.file_states(m.id) for m in bundle.materials}
    bundle.pins = materials.pinned_ids()
    if engine is not None:
        bundle.access = space_access(engine, group.space_id)
    return bundle


def material_status(bundle: GroupBundle, material: Material) -> str:
    """Where a material's files are, as its line in the list says it."""
    files = bundle.files.get(material.id, [])
    missing = bundle.missing(material)
    if not files and material.attachments:
        return ""  # imported before files traveled: only on the device it was imported on
    if not files:
        return _("no file")
    if bundle.gone(material) and not missing:
        return _("content removed")
    if missing:
        size = describe_size(sum(f.size for f in missing))
        if bundle.pinned(material):
            return _("kept offline, {size} still to arrive").format(size=size)
        return _("{size} to download").format(size=size)
    return _("kept offline") if bundle.pinned(material) else _("on this computer")


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
        #: This device's right in the space notes would be shared in.
        self.access = SpaceAccess.LOCAL
        self.only_personal = QLabel(self)
        self.only_personal.setProperty("role", "hint")
        self.only_personal.setWordWrap(True)
        self.only_personal.hide()
        row = QHBoxLayout()
        row.addWidget(self.personal)
        row.addStretch(1)
        row.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.text)
        layout.addLayout(row)
        layout.addWidget(self.only_personal)
        self.retranslate()

    @property
    def reason(self) -> str | None:
        """Why notes can only be personal here, or None when shared notes are offered."""
        return read_only_reason(self.access)

    def set_access(self, access: SpaceAccess) -> None:
        """Where the space is read-only, a note can still be the person's own ("only me")."""
        self.access = access
        reason = self.reason
        if reason is not None:
            self.personal.setChecked(True)
        self.personal.setEnabled(reason is None)
        self.personal.setToolTip(reason or "")
        self.only_personal.setVisible(reason is not None)

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
        self.only_personal.setText(
            _("Notes you add here are only for you: you cannot write in this group's space.")
        )
        self.personal.setToolTip(self.reason or "")

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


class MaterialDialog(QDialog):
    """A material read in the app, with its notes; the page is remembered when it closes.

    Signals:
        page_saved(int): the page stored as where the person stopped reading.
    """

    page_saved = Signal(int)

    def __init__(
        self,
        profile: Profile,
        found: OpenedMaterial,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("materialDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.profile = profile
        self.store = RecordStore(profile.engine)
        self.material = found.material
        material = found.material
        self.only_me = ""
        assert found.opened is not None
        self.reader = MaterialReader(found.opened, found.page, self)
        self.notes = NotesPanel(self)
        self.notes.add_requested.connect(self._add_note)
        self.notes.set_access(found.access)
        self.message = MessageLabel(self)
        # A material of several files: the reader shows one, chosen here.
        self.file_choice = QComboBox(self)
        for state in found.files:
            self.file_choice.addItem(isolated(state.file.filename), state.file.id)
        self.file_choice.setCurrentIndex(max(self.file_choice.findData(found.opened.file_id), 0))
        self.file_choice.setVisible(len(found.files) > 1)
        self.file_choice.activated.connect(self._choose_file)
        self.splitter = QSplitter(self)
        self.splitter.addWidget(self.reader)
        self.splitter.addWidget(self.notes)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.file_choice, 0, Qt.AlignmentFlag.AlignLeading)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.message)
        self.setWindowTitle(material.title)
        hold_window_size_hints(self)
        self.resize(1000, 720)
        self._load_notes()

    def _choose_file(self, index: int) -> None:
        profile, material_id = self.profile, self.material.id
        file_id = str(self.file_choice.itemData(index))
        run_job(
            self,
            lambda _state: open_material(profile, material_id, file_id),
            on_success=self._show_file,
            on_failure=self._failed,
        )

    def _show_file(self, found: OpenedMaterial) -> None:
        if found.opened is None:
            return
        old = self.reader
        old.release()
        self.reader = MaterialReader(found.opened, 0, self)
        self.splitter.replaceWidget(0, self.reader)
        old.deleteLater()
        self.message.clear_message()

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
        if not personal and self.notes.reason is not None:
            self.message.say(self.notes.reason)
            return
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
            materials = MaterialStore.of(self.profile)
            material_id, page = self.material.id, self.reader.page
            # Saved on the write worker after the dialog is gone: nothing waits for it.
            run_job(None, lambda _state: materials.remember_page(material_id, page), writes=True)
            self.page_saved.emit(page)
        self.reader.release()
        super().done(result)


class GroupView(QWidget):
    """One working group: who is in it, its materials, its notes, and importing a material.

    Signals:
        loaded(): the group was read and shown.
        material_opened(object): the :class:`MaterialDialog` just shown.
        searched(): the list shows the materials matching the search box.
        downloaded(): a download asked for ended (fetched, or its failure said).
    """

    loaded = Signal()
    material_opened = Signal(object)
    searched = Signal()
    downloaded = Signal()

    def __init__(
        self,
        profile: Profile,
        group_id: str,
        parent: QWidget | None = None,
        scheduler: SyncScheduler | None = None,
    ) -> None:
        super().__init__(parent)
        self.profile = profile
        self.store = RecordStore(profile.engine)
        self.materials_store = MaterialStore.of(profile)
        self.group_id = group_id
        self.scheduler = scheduler
        self.bundle: GroupBundle | None = None
        self.only_me = ""
        self.dialog: MaterialDialog | None = None
        #: Material ids the search box matched; ``None`` when it is empty.
        self.matches: list[str] | None = None

        self.title = heading(self)
        self.read_only = QLabel(self)
        self.read_only.setObjectName("readOnlyNotice")
        self.read_only.setProperty("role", "hint")
        self.read_only.setWordWrap(True)
        self.read_only.hide()
        self.description = paragraph(self)
        self.members_box = QGroupBox(self)
        self.members = QListWidget(self.members_box)
        self.members.setMaximumHeight(110)
        # Each member's name in its own direction: a Spanish name reads from the left in Arabic.
        self.members.setItemDelegate(OwnDirectionDelegate(self.members))
        QVBoxLayout(self.members_box).addWidget(self.members)

        self.materials_box = QGroupBox(self)
        self.search = QLineEdit(self.materials_box)
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._search)
        self.keep_group = QCheckBox(self.materials_box)
        self.keep_group.clicked.connect(self._keep_group)
        self.materials = QListWidget(self.materials_box)
        self.materials.setWordWrap(True)
        self.materials.itemActivated.connect(self._material_activated)
        self.materials.itemSelectionChanged.connect(self._show_current)
        self.open_button = QPushButton(self.materials_box)
        self.open_button.clicked.connect(self._open_current)
        self.keep_material = QCheckBox(self.materials_box)
        self.keep_material.clicked.connect(self._keep_material)
        self.download_button = QPushButton(self.materials_box)
        self.download_button.clicked.connect(self._download_current)
        self.file_status = QLabel(self.materials_box)
        self.file_status.setWordWrap(True)
        self.new_title = QLineEdit(self.materials_box)
        self.title_hint = LengthHint(self.new_title, TITLE_LIMIT, self.materials_box)
        self.new_type = QComboBox(self.materials_box)
        #: The message shown is about the new material's fields (cleared once they change).
        self._form_problem = False
        self.new_title.textEdited.connect(self._material_edited)
        self.new_type.activated.connect(self._material_edited)
        self.new_language = QComboBox(self.materials_box)
        for code, name in LETTER_LANGUAGES:
            self.new_language.addItem(name, code)
        self.new_language.setCurrentIndex(max(self.new_language.findData(current_language()), 0))
        self.import_button = QPushButton(self.materials_box)
        self.import_button.clicked.connect(self._choose_file)
        # Rows that wrap: side by side they were wider than the group's page at 1024×680 and
        # squeezed the new material's title to a sliver.
        self.new_title.setMinimumWidth(220)
        import_row = FlowLayout()
        import_row.add_widget(self.new_title, stretch=True)
        import_row.add_widget(self.new_type)
        import_row.add_widget(self.new_language)
        import_row.add_widget(self.import_button)
        search_row = FlowLayout()
        search_row.add_widget(self.search, stretch=True)
        search_row.add_widget(self.keep_group)
        actions = FlowLayout()
        actions.add_widget(self.open_button)
        actions.add_widget(self.download_button)
        actions.add_widget(self.keep_material)
        actions.add_widget(self.file_status, stretch=True)
        self.file_status.setMinimumWidth(160)
        box = QVBoxLayout(self.materials_box)
        box.addLayout(search_row)
        box.addWidget(self.materials)
        box.addLayout(actions)
        box.addLayout(import_row)
        box.addWidget(self.title_hint)

        self.notes_box = QGroupBox(self)
        self.notes = NotesPanel(self.notes_box)
        self.notes.add_requested.connect(self._add_note)
        QVBoxLayout(self.notes_box).addWidget(self.notes)
        self.message = MessageLabel(self)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.read_only)
        layout.addWidget(self.description)
        layout.addWidget(self.members_box)
        layout.addWidget(self.materials_box, 2)
        layout.addWidget(self.notes_box, 1)
        layout.addWidget(self.message)
        self.retranslate()
        self.reload()

    def reload(self) -> None:
        materials, group_id, engine = self.materials_store, self.group_id, self.profile.engine

        def read(_state: JobState) -> tuple[GroupBundle, str]:
            bundle = load_group(materials, group_id, engine)
            return bundle, local_spaces(materials.records).only_me.id

        run_job(self, read, on_success=self._show, on_failure=self._failed)

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, InvalidRecord):
            self._say_problems(error.errors)
        elif isinstance(error, MislabelledFile):
            self.message.say(str(error))  # nothing imported: the file is not what it says
        elif isinstance(error, OSError):
            self.message.say(
                _("This file could not be read: {reason}").format(
                    reason=error.strerror or str(error)
                )
            )
        else:
            self.message.say(failure_message(error))

    def _show(self, found: tuple[GroupBundle, str]) -> None:
        self.bundle, self.only_me = found
        self._fill()
        self.loaded.emit()

    def _fill(self) -> None:
        if self.bundle is None:
            return
        show_in_own_direction(self.title, self.bundle.group.name)
        show_in_own_direction(self.description, self.bundle.group.description)
        self.members.clear()
        self.members.addItems(self.bundle.members)
        current = self.current_material()
        self.materials.clear()
        shown = self.bundle.materials
        if self.matches is not None:
            by_id = {m.id: m for m in shown}
            shown = [by_id[i] for i in self.matches if i in by_id]
        for material in shown:
            names = [f.file.filename for f in self.bundle.files.get(material.id, [])]
            names += [name for _ref, name in material.attachments]
            item = QListWidgetItem(
                _("{title} · {type} · {files} · {status}").format(
                    title=isolated(material.title),
                    type=isolated(vocabulary_label(MATERIAL_TYPES, material.material_type)),
                    files=isolated(", ".join(names)),
                    status=material_status(self.bundle, material),
                ),
                self.materials,
            )
            item.setData(_ID, material.id)
            if current is not None and material.id == current.id:
                self.materials.setCurrentItem(item)
        self.keep_group.setChecked(self.group_id in self.bundle.pins)
        self.notes.show_notes(self.bundle.notes, self.only_me)
        self._show_current()
        self._apply_access()

    @property
    def reason(self) -> str | None:
        """Why nothing can be added to this group's space here, or None when it can."""
        return None if self.bundle is None else read_only_reason(self.bundle.access)

    def _apply_access(self) -> None:
        """Importing and group notes off, with the reason, where this device only reads.

        Reading, keeping offline and downloading only read; personal notes go to "only me".
        """
        reason = self.reason
        self.read_only.setText(reason or "")
        self.read_only.setVisible(reason is not None)
        for widget in (self.new_title, self.new_type, self.new_language, self.import_button):
            widget.setEnabled(reason is None)
            widget.setToolTip(reason or "")
        self.notes.set_access(self.bundle.access if self.bundle is not None else SpaceAccess.LOCAL)

    def current_material(self) -> Material | None:
        item = self.materials.currentItem()
        if item is None or self.bundle is None:
            return None
        material_id = str(item.data(_ID))
        return next((m for m in self.bundle.materials if m.id == material_id), None)

    def _show_current(self) -> None:
        """The chosen material's offline state: its checkbox, Download, and what they mean."""
        material = self.current_material()
        bundle = self.bundle
        for widget in (self.open_button, self.keep_material):
            widget.setEnabled(material is not None)
        if material is None or bundle is None:
            self.download_button.hide()
            self.file_status.clear()
            return
        in_group = self.group_id in bundle.pins
        self.keep_material.setChecked(bundle.pinned(material))
        # Kept offline through the whole group: unpin the group to choose material by material.
        self.keep_material.setEnabled(not in_group)
        missing = bundle.missing(material)
        gone = bundle.gone(material)
        # Shown for a file that is gone too: asked, it says so instead of fetching nothing.
        self.download_button.setVisible(bool(missing or gone))
        lines = []
        if gone:
            lines.append(_(FILE_GONE_MESSAGE))
        if missing:
            size = describe_size(sum(f.size for f in missing))
            if bundle.pinned(material):
                lines.append(
                    _("Kept offline: {size} will arrive with the next sync.").format(size=size)
                )
            else:
                lines.append(
                    _("Not on this computer ({size}). Downloading it needs a connection.").format(
                        size=size
                    )
                )
        if material.pinned and not bundle.pinned(material):
            lines.append(_("The group recommends keeping this material offline."))
        self.file_status.setText(" ".join(lines))

    # --- materials ----------------------------------------------------------------------------

    def _material_labels(self) -> dict[str, str]:
        return {"title": _("Title"), "material_type": _("Type of material")}

    def _choose_file(self) -> None:
        if not self.new_type.currentData():
            # Nothing chosen for the person: said before a file is asked for, not after.
            self._say_problems(
                [FieldError("material_type", "required", _("Choose a value from the list."))]
            )
            self.new_type.setFocus()
            return
        path, _filter = QFileDialog.getOpenFileName(self, _("Import a material"))
        if path:
            self.import_path(Path(path))

    def import_path(self, path: Path) -> None:
        """Seal the file at ``path`` into the vault as a new material of this group."""
        if self.bundle is None:
            return
        reason = self.reason
        if reason is not None:
            self.message.say(reason)
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
            self._say_problems(errors)
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

    def _say_problems(self, errors: list[FieldError]) -> None:
        self.message.say(problems_text(errors, self._material_labels()))
        self._form_problem = True

    def _material_edited(self) -> None:
        # What was said about the new material's title or type no longer describes them.
        if self._form_problem:
            self._form_problem = False
            self.message.clear_message()

    # --- offline, download, search --------------------------------------------------------------

    def _keep_group(self, checked: bool) -> None:
        materials, group_id = self.materials_store, self.group_id

        def change(_state: JobState) -> None:
            if checked:
                materials.pin_group(group_id)
            else:
                materials.unpin_group(group_id)

        self._change_pins(change, fetch=checked)

    def _keep_material(self, checked: bool) -> None:
        material = self.current_material()
        if material is None:
            return
        materials, material_id = self.materials_store, material.id

        def change(_state: JobState) -> None:
            if checked:
                materials.pin_material(material_id)
            else:
                materials.unpin_material(material_id)

        self._change_pins(change, fetch=checked)

    def _change_pins(self, change: Callable[[JobState], None], *, fetch: bool) -> None:
        def changed(_none: object) -> None:
            self.reload()
            if fetch and self.scheduler is not None:
                self.scheduler.sync_now()  # the files come in the background

        run_job(self, change, on_success=changed, on_failure=self._failed, writes=True)

    def _download_current(self) -> None:
        material = self.current_material()
        if material is None or self.bundle is None:
            return
        missing = [f.file for f in self.bundle.missing(material)]
        # Asked for too: a mark set on a server's false answer is undone if the bytes come.
        gone = [f.file for f in self.bundle.gone(material)]
        if self.scheduler is None:
            self.message.say(
                _("This computer has not joined a network: there is no server to download from.")
            )
            self.downloaded.emit()
            return
        link = self.scheduler.link
        self.download_button.setEnabled(False)
        # Said as the download's own: its end takes back only this (or its failure), not what
        # the person met meanwhile (a refused import, a note not saved).
        self.message.say(_("Downloading…"), "hint", source=DOWNLOAD_SOURCE)

        def fetch(_state: JobState) -> tuple[int, int, bool]:
            fetched = sum(1 for file in missing if link.download(file))
            still_gone = sum(1 for file in gone if not link.download(file)) > 0
            return fetched, len(missing), still_gone

        run_job(
            self,
            fetch,
            on_success=self._downloaded,
            on_failure=self._download_failed,
            writes=True,
        )

    def _downloaded(self, outcome: object) -> None:
        """The download ended: said when a file did not come (before, it ended without a
        word), withdrawn when every file came."""
        fetched, asked, gone = outcome if isinstance(outcome, tuple) else (0, 0, False)
        self.download_button.setEnabled(True)
        if gone:
            self.message.say(_(FILE_GONE_MESSAGE), source=DOWNLOAD_SOURCE)
        elif fetched < asked:
            self.message.say(
                _("The file could not be downloaded now. Sync, then try again."),
                source=DOWNLOAD_SOURCE,
            )
        else:
            self.message.withdraw(DOWNLOAD_SOURCE)
        self.reload()
        self.downloaded.emit()

    def _download_failed(self, error: BaseException) -> None:
        from desktop.ui.sync_messages import sync_error_message  # sync loads at unlock
        from sync.client.transport import Offline

        self.download_button.setEnabled(True)
        if isinstance(error, Offline):
            self.message.say(
                _(
                    "This file needs a connection: the server cannot be reached now. "
                    "Try again when you are online."
                ),
                source=DOWNLOAD_SOURCE,
            )
        else:
            self.message.say(sync_error_message(error), source=DOWNLOAD_SOURCE)
        self.downloaded.emit()

    def _search(self, query: str) -> None:
        if not query.strip():
            self.matches = None
            self._fill()
            self.searched.emit()
            return
        materials, group_id = self.materials_store, self.group_id

        def found(ids: list[str]) -> None:
            if self.search.text() != query:
                return  # typed on meanwhile: a newer search follows
            self.matches = ids
            self._fill()
            self.searched.emit()

        run_job(
            self,
            lambda _state: materials.search(query, group_id),
            on_success=found,
            on_failure=self._failed,
        )

    def _material_activated(self, item: QListWidgetItem) -> None:
        self.open_material(str(item.data(_ID)))

    def _open_current(self) -> None:
        item = self.materials.currentItem()
        if item is not None:
            self.open_material(str(item.data(_ID)))

    def open_material(self, material_id: str) -> None:
        """Decrypt the material's first file in memory and show it where the person left off."""
        profile = self.profile
        run_job(
            self,
            lambda _state: open_material(profile, material_id),
            on_success=self._show_material,
            on_failure=self._open_failed,
        )

    def _open_failed(self, error: BaseException) -> None:
        if isinstance(error, MaterialFileGone):
            self.message.say(_(FILE_GONE_MESSAGE), source=DOWNLOAD_SOURCE)
        elif isinstance(error, MaterialFileMissing):
            self.message.say(
                _(
                    "This file is not on this computer: it needs a connection. Download it, "
                    "or keep the material offline, while connected to the server."
                ),
                source=DOWNLOAD_SOURCE,  # a download answers it: its end takes it back
            )
        else:
            self._failed(error)

    def _show_material(self, found: OpenedMaterial) -> None:
        if found.opened is None:
            self.message.say(_("This material has no file to read yet."))
            return
        self.message.clear_message()
        dialog = MaterialDialog(self.profile, found, self)
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
        reason = self.reason
        if reason is not None and not personal:
            self.message.say(reason)
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
        self.download_button.setText(_("Download"))
        self.keep_material.setText(_("Keep offline"))
        self.keep_group.setText(_("Keep this group's materials offline"))
        self.search.setPlaceholderText(_("Search titles, notes and the text of PDFs"))
        self.search.setMinimumWidth(
            self.search.fontMetrics().horizontalAdvance(self.search.placeholderText()) + 48
        )
        self.new_title.setPlaceholderText(_("Title of the new material"))
        self.import_button.setText(_("Import a file…"))
        self.notes_box.setTitle(_("Group notes"))
        fill_codes(self.new_type, MATERIAL_TYPES, prompt=_("Choose the type…"))
        self.title_hint.retranslate()
        self._fill()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


#: The groups' list: their names.
GROUP_LIST = ListSpec((NAME,))


class WorkingGroupsPage(ListDetailPage):
    """The groups (a lazy list) and the chosen group's page beside it.

    Signals:
        group_opened(object): the :class:`GroupView` just shown.
    """

    group_opened = Signal(object)

    def __init__(self, profile: Profile, parent: QWidget | None = None) -> None:
        model = RecordListModel(
            RecordStore(profile.engine), GROUP_LIST, RecordQuery("working_group")
        )
        super().__init__(model, parent, stretch=(1, 3), share=1.0)
        self.profile = profile
        self.scheduler: SyncScheduler | None = None
        self.group: GroupView | None = None
        self.objectives: ObjectivesView | None = None
        self._group_scroll: QScrollArea | None = None
        self._objectives_scroll: QScrollArea | None = None
        self.objectives_button = QPushButton(self)
        self.objectives_button.clicked.connect(self.show_objectives)
        self.add_action(self.objectives_button)
        self.view.open_requested.connect(self._activated)
        self.view.clicked.connect(self._activated)
        self.retranslate()
        self.model.refresh()

    def count_text(self, total: int) -> str:
        return ngettext("{count} working group", "{count} working groups", total).format(
            count=format_number(total)
        )

    def closing(self) -> bool:
        return self.profile.closed

    def attach(self, scheduler: SyncScheduler) -> None:
        """The window's sync scheduler: downloads go through its link, and a group's page
        is read again after each sync (new materials, files arrived)."""
        self.scheduler = scheduler
        if self.group is not None:
            self.group.scheduler = scheduler
        scheduler.synced.connect(self._synced)

    def _synced(self, _report: object) -> None:
        if self.group is not None:
            self.group.reload()

    def _activated(self, index: QModelIndex) -> None:
        group_id = index.data(ID_ROLE)
        if group_id:
            self.open_group(str(group_id))

    def open_group(self, group_id: str) -> None:
        assert self.side is not None
        # Scrolls rather than squeezes: at 1024×680 members, materials and notes together are
        # taller than the window, and squeezed below their minimums the rows overlapped.
        scroll = QScrollArea(self.side)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        view = GroupView(self.profile, group_id, scroll, self.scheduler)
        scroll.setWidget(view)
        if self.group is not None:
            self.group.clear()
        self.group = view
        self._group_scroll = scroll
        self.show_detail(scroll, keep=(self._objectives_scroll,) if self._objectives_scroll else ())
        row = self.model.row_of(group_id)
        if row >= 0:
            select_row(self.view, row)
        self.group_opened.emit(view)

    def show_objectives(self) -> None:
        """The counts and chart of what the network tagged with each shared objective."""
        assert self.side is not None
        if self.objectives is None or self._objectives_scroll is None:
            # Scrolls too: the chart is as tall as its wrapped axis labels need, which at
            # 1024×680 is more than the page has (squeezed, every label read "…").
            scroll = UpDownScroll(self.side)
            self.objectives = ObjectivesView(self.profile.engine, scroll)
            scroll.setWidget(self.objectives)
            self._objectives_scroll = scroll
        else:
            self.objectives.refresh()
        # The group's page (its scroll area) stays, to come back to.
        keep = (self._group_scroll,) if self._group_scroll is not None else ()
        self.show_detail(self._objectives_scroll, keep=keep)

    def tear_down(self) -> None:
        """At lock: forget every row, close the reader, drop what was decrypted."""
        self.model.clear()
        if self.group is not None:
            self.group.clear()

    def retranslate(self) -> None:
        self.heading.setText(_("Working groups"))
        self.objectives_button.setText(_("Shared objectives"))
        self.placeholder.setText(_("Choose a working group to see its members and materials."))
        self.empty.title.setText(_("No working group yet"))
        self.empty.text.setText(
            _(
                "Working groups are created in the Directory, under Working groups. Once you "
                "belong to one, its members and materials appear here; groups of the network "
                "arrive at your first sync."
            )
        )
        super().retranslate()
