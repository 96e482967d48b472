"""The Directory section: a tab each for organizations, people and working groups.

Each tab is a searchable, filtered lazy list with the chosen record's detail beside it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QItemSelection, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLayout,
    QLineEdit,
    QMenu,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from desktop.domain import vocabularies as vocab
from desktop.domain.records import Membership, WorkingGroup
from desktop.domain.translation import _, format_number, ngettext
from desktop.store.exchange import ImportReport
from desktop.store.materials import MaterialStore
from desktop.store.profile import Profile
from desktop.store.records import RecordQuery, RecordStore
from desktop.store.spaces import LocalSpaces, local_spaces
from desktop.store.sync_state import SpaceAccess, space_access
from desktop.ui.access import held_note, read_only_reason
from desktop.ui.bidi import left_to_right
from desktop.ui.directory.detail import DetailPanel
from desktop.ui.directory.exchange import (
    ImportReportDialog,
    export_file,
    import_file,
)
from desktop.ui.directory.forms import (
    FORMS,
    SEARCH_DELAY_MS,
    MembershipDialog,
    MessageDialog,
    PersonForm,
    RecordForm,
    confirm_text,
    fill_country_combo,
    fill_vocabulary_combo,
)
from desktop.ui.directory.links import Link, RecordDetail
from desktop.ui.directory.model import DIRECTORY_LISTS
from desktop.ui.flow import FlowLayout
from desktop.ui.forms import (
    MessageLabel,
    failure_message,
    fit_combo_to_text,
    fit_placeholder,
    heading,
    keep_combo_fitted,
    paragraph,
)
from desktop.ui.jobs import JobState, run_job
from desktop.ui.list_page import ListDetailPage
from desktop.ui.lists import RecordListModel, select_row

RECORD_TYPES = ("organization", "person", "working_group")
IMPORTABLE = ("organization", "person")


def count_text(record_type: str, count: int) -> str:
    if record_type == "organization":
        text = ngettext("{count} organization", "{count} organizations", count)
    elif record_type == "person":
        text = ngettext("{count} person or group", "{count} people and groups", count)
    else:
        text = ngettext("{count} working group", "{count} working groups", count)
    return text.format(count=format_number(count))


class DirectoryList(ListDetailPage):
    """One record type's list, its search and filters, its detail panel and its actions.

    Signals:
        changed(): a record of the directory was created, edited, linked or deleted here.
    """

    changed = Signal()

    def __init__(self, profile: Profile, record_type: str, parent: QWidget | None = None):
        model = RecordListModel(
            RecordStore(profile.engine), DIRECTORY_LISTS[record_type], RecordQuery(record_type)
        )
        super().__init__(model, parent, share=0.45, stretch=(3, 2))
        self.heading.hide()  # the tab names the list
        self.layout().setContentsMargins(0, 8, 0, 0)
        self._profile = profile
        self.record_type = record_type
        self.space_id: str | None = None
        #: Why new records cannot be saved in ``space_id`` (this device only reads it), if so.
        self.read_only_reason: str | None = None
        #: Shown in every form while the network is not confirmed: saved, but not sent.
        self.held_note: str | None = None
        self._select_after_load: str | None = None
        # Open dialogs, kept so they stay alive (and tests can reach them).
        self.form: RecordForm | None = None
        self.membership_dialog: MembershipDialog | None = None
        self.confirmation: MessageDialog | None = None
        self.notice: MessageDialog | None = None
        self.report_dialog: ImportReportDialog | None = None

        self.search = QLineEdit(self)
        self.search.setClearButtonEnabled(True)
        self.search.setObjectName("directorySearch")
        self.country = QComboBox(self) if record_type != "working_group" else None
        self.kind = QComboBox(self) if record_type == "person" else None
        self.objective = QComboBox(self) if record_type != "person" else None
        self.new_button = QPushButton(self)
        self.import_button = QPushButton(self) if record_type in IMPORTABLE else None
        self.export_button = QToolButton(self)
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.export_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        export_menu = QMenu(self.export_button)
        self.export_csv_action = export_menu.addAction("")
        self.export_json_action = export_menu.addAction("")
        self.export_csv_action.triggered.connect(lambda: self.choose_export_path("csv"))
        self.export_json_action.triggered.connect(lambda: self.choose_export_path("json"))
        self.export_button.setMenu(export_menu)

        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.view.open_requested.connect(lambda _index: self.edit_selected())

        assert self.side is not None
        self.detail = DetailPanel(profile, record_type, self.side)
        self.show_detail(self.detail)
        self.detail.edit_requested.connect(self.open_form)
        self.detail.delete_requested.connect(self.confirm_delete)
        self.detail.add_membership_requested.connect(self.open_membership_dialog)
        self.detail.remove_membership_requested.connect(self.remove_membership)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DELAY_MS)
        self._debounce.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda _text: self._debounce.start())
        self.search.returnPressed.connect(self._search_now)
        for combo in (self.country, self.kind, self.objective):
            if combo is not None:
                combo.currentIndexChanged.connect(lambda _index: self.apply_filters())
        self.new_button.clicked.connect(lambda: self.open_form(None))
        if self.import_button is not None:
            self.import_button.clicked.connect(self.choose_import_path)
        self.model.arrived.connect(self._loaded)

        self._add_shortcut(QKeySequence.StandardKey.Find, self._focus_search)
        self._add_shortcut(QKeySequence.StandardKey.New, lambda: self.open_form(None))
        self._add_shortcut(QKeySequence.StandardKey.Delete, self.delete_selected)

        self.add_action(self.new_button)
        if self.import_button is not None:
            self.add_action(self.import_button)
        self.add_action(self.export_button)
        # Wraps rather than squeezes: search first, then each filter at its own width.
        tools = FlowLayout()
        tools.add_widget(self.search, stretch=True)
        for combo in (self.country, self.kind, self.objective):
            if combo is not None:
                combo.setSizeAdjustPolicy(
                    QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
                )
                combo.setMinimumContentsLength(12)
                keep_combo_fitted(combo)
                tools.add_widget(combo)
        self.filter_area.addLayout(tools)
        self.setTabOrder(self.search, self.view)
        self.retranslate()
        self.set_actions_enabled(False)

    def _add_shortcut(self, keys: QKeySequence.StandardKey, slot: object) -> None:
        action = QAction(self)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)

    def set_space(
        self, space_id: str, read_only_reason: str | None = None, held: str | None = None
    ) -> None:
        self.space_id = space_id
        self.read_only_reason = read_only_reason
        self.held_note = held
        self.set_actions_enabled(True)

    def set_actions_enabled(self, enabled: bool) -> None:
        """New and import need the space to save into; they wait until it is known, and stay
        off (with the reason) where this device only reads that space."""
        reason = self.read_only_reason
        buttons = [self.new_button, self.import_button]
        for button in buttons:
            if button is not None:
                button.setEnabled(enabled and reason is None)
                button.setToolTip(reason or "")

    # --- list, search and filters -------------------------------------------------------------

    def query(self) -> RecordQuery:
        """The list as filtered now; also what an export writes."""
        country = self.country.currentData() if self.country is not None else ""
        kind = self.kind.currentData() if self.kind is not None else ""
        objective = self.objective.currentData() if self.objective is not None else ""
        return RecordQuery(
            self.record_type,
            text=self.search.text(),
            countries=[country] if country else [],
            kinds=[kind] if kind else [],
            codes={"objectives": [objective]} if objective else {},
        )

    def apply_filters(self) -> None:
        self._debounce.stop()
        self.model.set_query(self.query())

    def _search_now(self) -> None:
        self.apply_filters()
        self.view.setFocus()

    def refresh(self) -> None:
        selected = self.selected_id()
        self._select_after_load = selected
        self.model.set_query(self.query())
        if selected is None:
            self.detail.show_nothing()

    def _focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def count_text(self, total: int) -> str:
        return count_text(self.record_type, total)

    def filtering(self) -> bool:
        return self.query() != RecordQuery(self.record_type)

    def _loaded(self, _count: int) -> None:
        wanted = self._select_after_load
        if wanted is None:
            return
        row = self.model.row_of(wanted)
        if row >= 0:
            self._select_after_load = None
            select_row(self.view, row)
            self.view.scrollTo(self.model.index(row, 0))
            self.detail.show_record(wanted)
        elif not self.model.canFetchMore():
            self._select_after_load = None
            self.detail.show_nothing()

    def selected_id(self) -> str | None:
        rows = self.view.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()).id if rows else None

    def select_record(self, record_id: str) -> None:
        """Show ``record_id`` once the list has it (it may still be loading)."""
        self._select_after_load = record_id
        self._loaded(self.model.rowCount())

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        record_id = self.selected_id()
        if record_id is None:
            self.detail.show_nothing()
        else:
            self.detail.show_record(record_id)

    # --- create, edit, delete -----------------------------------------------------------------

    def open_form(self, detail: RecordDetail | None) -> RecordForm | None:
        if self.space_id is None:
            return None
        reason = self.read_only_reason if detail is None else read_only_reason(detail.access)
        if reason is not None:
            self.message.say(reason)
            return None
        form_class = FORMS[self.record_type]
        if detail is None:
            form = form_class(self._profile, self.space_id, None, self)
        elif form_class is PersonForm:
            organization = detail.organization
            form = PersonForm(
                self._profile,
                detail.record.space_id,
                detail.record,
                self,
                organization=(organization.record_id, organization.label) if organization else None,
            )
        else:
            form = form_class(self._profile, detail.record.space_id, detail.record, self)
        return self.show_form(form)

    def show_form(self, form: RecordForm) -> RecordForm:
        """Open ``form`` (made here, or for a draft reopened after unlock) over this list."""
        form.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        form.saved.connect(self._saved)
        self.form = form
        if self.held_note is not None and form.read_only_reason is None:
            form.message.say(self.held_note)
        form.open()
        return form

    def edit_selected(self) -> None:
        if self.detail.detail is not None and self.detail.detail.record.id == self.selected_id():
            self.open_form(self.detail.detail)

    def _saved(self, record: object) -> None:
        record_id = getattr(record, "id", None)
        self._select_after_load = record_id if isinstance(record_id, str) else None
        self.model.set_query(self.query())
        self.changed.emit()

    def delete_selected(self) -> None:
        if self.detail.detail is not None and self.detail.detail.record.id == self.selected_id():
            self.confirm_delete(self.detail.detail)

    def confirm_delete(self, detail: RecordDetail) -> MessageDialog:
        record = detail.record
        name = str(getattr(record, "name", "") or getattr(record, "alias", ""))
        group = isinstance(record, WorkingGroup)
        # What the deletion takes (``CASCADES``), as the detail panel lists it: a group's
        # members, or the groups a person or an organization belongs to.
        memberships = (
            len(detail.people) + len(detail.organizations) if group else len(detail.groups)
        )
        materials, files, notes = 0, 0, 0
        if group:
            records = RecordStore(self._profile.engine)
            taken = records.children(record.id, "material")
            store = MaterialStore.of(self._profile)
            materials = len(taken)
            files = sum(len(store.files(material.id)) for material in taken)
            # The notes on it and on its materials, shared or the person's own (rev-nest).
            notes = sum(
                len(records.children(parent, "note"))
                for parent in (record.id, *(material.id for material in taken))
            )
        box = MessageDialog(
            _("Delete from the directory"),
            confirm_text(
                name,
                group=group,
                memberships=memberships,
                materials=materials,
                files=files,
                notes=notes,
            ),
            action_text=_("Delete"),
            parent=self,
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.confirmed.connect(lambda: self.delete_record(record.id))
        self.confirmation = box
        box.open()
        return box

    def delete_record(self, record_id: str) -> None:
        profile = self._profile

        def remove(_state: JobState) -> None:
            # One transaction (``CASCADES``): the memberships naming it, and a working group's
            # materials and their files, whose keys and sealed bytes are then erased.
            MaterialStore.of(profile).delete_with_files(record_id)

        def removed(_result: object) -> None:
            self.detail.show_nothing()
            self.model.set_query(self.query())
            self.changed.emit()

        run_job(
            self,
            remove,
            on_success=removed,
            on_failure=lambda error: self.message.say(failure_message(error)),
            writes=True,
        )

    # --- memberships --------------------------------------------------------------------------

    def open_membership_dialog(self, pick: str) -> MembershipDialog | None:
        detail = self.detail.detail
        if detail is None:
            return None
        record = detail.record
        if pick == "working_group":
            dialog = MembershipDialog(
                self._profile,
                record.space_id,
                pick,
                member=(self.record_type, record.id),
                parent=self,
            )
        else:
            dialog = MembershipDialog(
                self._profile, record.space_id, pick, working_group_id=record.id, parent=self
            )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._membership_changed)
        self.membership_dialog = dialog
        dialog.open()
        return dialog

    def remove_membership(self, link: Link) -> None:
        membership_id = link.membership_id
        if membership_id is None:
            return
        engine = self._profile.engine

        def remove(_state: JobState) -> None:
            store = RecordStore(engine)
            if isinstance(store.get(membership_id), Membership):
                store.delete(membership_id)

        run_job(
            self,
            remove,
            on_success=self._membership_changed,
            on_failure=lambda error: self.message.say(failure_message(error)),
            writes=True,
        )

    def _membership_changed(self, _result: object = None) -> None:
        self.detail.reload()
        self.changed.emit()

    # --- import and export --------------------------------------------------------------------

    def choose_import_path(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, self._import_title(), "", _("CSV tables (*.csv *.txt);;All files (*)")
        )
        if path:
            self.import_from(Path(path))

    def _import_title(self) -> str:
        if self.record_type == "organization":
            return _("Import organizations from CSV")
        return _("Import people from CSV")

    def import_from(self, path: Path) -> None:
        """Import ``path`` on the write worker, then show the report (or why nothing was read)."""
        if self.space_id is None:
            return
        profile, record_type, space_id = self._profile, self.record_type, self.space_id
        self.set_actions_enabled(False)
        self.message.clear_message()

        def work(_state: JobState) -> ImportReport:
            return import_file(profile, record_type, path, space_id)

        run_job(self, work, on_success=self._imported, on_failure=self._import_failed, writes=True)

    def _imported(self, report: ImportReport) -> None:
        self.set_actions_enabled(True)
        dialog = ImportReportDialog(self.record_type, report, self)
        self.report_dialog = dialog
        dialog.open()
        self.model.set_query(self.query())
        self.changed.emit()

    def _import_failed(self, error: BaseException) -> None:
        self.set_actions_enabled(True)
        if isinstance(error, OSError):
            message = _("This file could not be read: {reason}").format(
                reason=error.strerror or str(error)
            )
        else:
            message = failure_message(error)
        self.notice = MessageDialog(self._import_title(), message, parent=self)
        self.notice.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.notice.open()

    def choose_export_path(self, file_format: str) -> None:
        name = {"organization": "organizations", "person": "people"}.get(
            self.record_type, "working-groups"
        )
        file_filter = _("CSV tables (*.csv)") if file_format == "csv" else _("JSON files (*.json)")
        path, _chosen = QFileDialog.getSaveFileName(
            self, _("Export the list"), f"{name}.{file_format}", file_filter
        )
        if path:
            self.export_to(Path(path), file_format)

    def export_to(self, path: Path, file_format: str) -> None:
        """Write the list as filtered now to ``path`` on a worker, then say how many went."""
        profile, query = self._profile, self.query()
        self.export_button.setEnabled(False)

        def work(_state: JobState) -> int:
            return export_file(profile, query, path, file_format)

        def done(count: int) -> None:
            self.export_button.setEnabled(True)
            self.count_label.setText(
                ngettext(
                    "{count} record exported to {path}",
                    "{count} records exported to {path}",
                    count,
                ).format(count=format_number(count), path=left_to_right(str(path)))
            )

        def failed(error: BaseException) -> None:
            self.export_button.setEnabled(True)
            if isinstance(error, OSError):
                self.message.say(
                    _("The file could not be written: {reason}").format(
                        reason=error.strerror or str(error)
                    )
                )
            else:
                self.message.say(failure_message(error))

        run_job(self, work, on_success=done, on_failure=failed)

    # --- language -----------------------------------------------------------------------------

    def retranslate(self) -> None:
        placeholders = {
            "organization": _("Search organizations by name, acronym, e-mail…"),
            "person": _("Search people and groups by name, alias, occupation…"),
            "working_group": _("Search working groups…"),
        }
        self.search.setPlaceholderText(placeholders[self.record_type])
        fit_placeholder(self.search, 240)
        self.search.setAccessibleName(_("Search"))
        if self.country is not None:
            fill_country_combo(self.country, _("All countries"))
            self.country.setAccessibleName(_("Country"))
        if self.kind is not None:
            fill_vocabulary_combo(self.kind, vocab.PERSON_KINDS, _("People and groups"))
            self.kind.setAccessibleName(_("Kind"))
        if self.objective is not None:
            fill_vocabulary_combo(self.objective, vocab.OBJECTIVES, _("All objectives"))
            self.objective.setAccessibleName(_("Objectives"))
        self.new_button.setText(
            {
                "organization": _("New organization…"),
                "person": _("New person or group…"),
                "working_group": _("New working group…"),
            }[self.record_type]
        )
        if self.import_button is not None:
            self.import_button.setText(_("Import from CSV…"))
        self.export_button.setText(_("Export"))
        self.export_csv_action.setText(_("Export as CSV…"))
        self.export_json_action.setText(_("Export as JSON…"))
        for combo in (self.country, self.kind, self.objective):
            if combo is not None:
                fit_combo_to_text(combo)  # refilled in the new language, with signals held
        self.view.setAccessibleName(_("Directory list"))
        self.no_matches.setText(_("Nothing matches this search. Clear it to see the whole list."))
        self.empty.title.setText(
            {
                "organization": _("No organization yet"),
                "person": _("No person or group yet"),
                "working_group": _("No working group yet"),
            }[self.record_type]
        )
        self.empty.text.setText(
            _(
                "Add the first one with the button above; entries shared by the network "
                "arrive at each sync."
            )
        )
        super().retranslate()


class DirectoryPage(QWidget):
    """The Directory section of the workspace for one unlocked profile.

    While the directory holds nothing at all it says so, with the two ways to start (a new
    organization, an import); the lists take over from the first record on.

    Signals:
        spaces_ready(object): the profile's ``LocalSpaces``, once found or created.
    """

    spaces_ready = Signal(object)

    def __init__(self, profile: Profile, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("directoryPage")
        self._profile = profile
        self.spaces: LocalSpaces | None = None
        self.is_empty: bool | None = None  # None until counted
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.lists: dict[str, DirectoryList] = {}
        for record_type in RECORD_TYPES:
            directory_list = DirectoryList(profile, record_type, self.tabs)
            directory_list.changed.connect(
                lambda source=directory_list: self._refresh_others(source)
            )
            directory_list.changed.connect(self.check_empty)
            self.tabs.addTab(directory_list, "")
            self.lists[record_type] = directory_list
        self.empty_state = QWidget(self)
        self.title = heading(self.empty_state)
        self.title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.text = paragraph(self.empty_state)
        self.text.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.text.setProperty("role", "empty")
        self.start_button = QPushButton(self.empty_state)
        self.start_import_button = QPushButton(self.empty_state)
        organizations = self.lists["organization"]
        self.start_button.clicked.connect(lambda: organizations.open_form(None))
        self.start_import_button.clicked.connect(organizations.choose_import_path)
        column = QWidget(self.empty_state)
        column.setMaximumWidth(560)
        column_layout = QVBoxLayout(column)
        column_layout.addWidget(self.title)
        column_layout.addSpacing(8)
        column_layout.addWidget(self.text)
        column_layout.addSpacing(12)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.start_import_button)
        buttons.addStretch(1)
        column_layout.addLayout(buttons)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(column, 4)
        row.addStretch(1)
        empty_layout = QVBoxLayout(self.empty_state)
        empty_layout.addStretch(1)
        empty_layout.addLayout(row)
        empty_layout.addStretch(2)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.tabs)
        self.stack.addWidget(self.empty_state)
        self.message = MessageLabel(self)
        layout = QVBoxLayout(self)
        # Shown on its own (a screenshot, a test) the page is a window; text changing in it
        # must not re-constrain that window, which offscreen platforms warn about.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        layout.addWidget(self.message)
        layout.addWidget(self.stack, 1)
        self.retranslate()
        self._set_starting_enabled(False)
        for directory_list in self.lists.values():
            directory_list.apply_filters()
        self.check_empty()
        engine = profile.engine

        def find_spaces(_state: JobState) -> tuple[LocalSpaces, SpaceAccess]:
            spaces = local_spaces(RecordStore(engine))
            return spaces, space_access(engine, spaces.network.id)

        # It may create the spaces, so it queues with the other writes.
        run_job(
            self,
            find_spaces,
            on_success=self._spaces_found,
            on_failure=lambda error: self.message.say(failure_message(error)),
            writes=True,
        )

    def check_empty(self) -> None:
        """Count the whole directory (not the filtered lists) and show the lists or the start."""
        engine = self._profile.engine

        def count(_state: JobState) -> int:
            store = RecordStore(engine)
            return sum(store.count(RecordQuery(t)) for t in RECORD_TYPES)

        run_job(
            self,
            count,
            on_success=self._counted,
            on_failure=lambda error: self.message.say(failure_message(error)),
        )

    def _counted(self, total: int) -> None:
        self.is_empty = total == 0
        self.stack.setCurrentWidget(self.empty_state if self.is_empty else self.tabs)

    def _set_starting_enabled(self, enabled: bool) -> None:
        self.start_button.setEnabled(enabled)
        self.start_import_button.setEnabled(enabled)

    def _spaces_found(self, found: tuple[LocalSpaces, SpaceAccess]) -> None:
        spaces, access = found
        self.spaces = spaces
        for directory_list in self.lists.values():
            directory_list.set_space(spaces.network.id, read_only_reason(access), held_note(access))
        self._set_starting_enabled(True)
        self.spaces_ready.emit(spaces)

    def _refresh_others(self, source: DirectoryList) -> None:
        # Links show on both sides: a new member appears in the other tab's detail too.
        for directory_list in self.lists.values():
            if directory_list is not source:
                directory_list.refresh()

    def tear_down(self) -> None:
        """At lock: close this page's dialogs and drop every row and detail it shows."""
        for directory_list in self.lists.values():
            for dialog in (
                directory_list.form,
                directory_list.membership_dialog,
                directory_list.confirmation,
                directory_list.notice,
                directory_list.report_dialog,
            ):
                if dialog is not None and isValid(dialog):  # closed ones delete themselves
                    dialog.close()
            directory_list.model.clear()
            directory_list.detail.show_nothing()
            directory_list.search.blockSignals(True)  # no search may start on a locked profile
            directory_list.search.clear()

    def show_list(self, record_type: str) -> DirectoryList:
        directory_list = self.lists[record_type]
        self.stack.setCurrentWidget(self.tabs)
        self.tabs.setCurrentWidget(directory_list)
        return directory_list

    def retranslate(self) -> None:
        titles = {
            "organization": _("Organizations"),
            "person": _("People"),
            "working_group": _("Working groups"),
        }
        for record_type, directory_list in self.lists.items():
            self.tabs.setTabText(self.tabs.indexOf(directory_list), titles[record_type])
        # The same heading as the workspace's placeholder for this section had.
        self.title.setText(_("The network's directory"))
        self.text.setText(
            _(
                "Nothing is in the directory on this computer yet. It fills in at your first "
                "sync with the network; you can also add organizations yourself, or import "
                "them from a CSV table."
            )
        )
        self.start_button.setText(_("New organization…"))
        self.start_import_button.setText(_("Import organizations from CSV…"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


__all__ = ["DirectoryList", "DirectoryPage"]
