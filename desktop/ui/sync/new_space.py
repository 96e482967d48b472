"""A new space: the network's first one, or later an organization's or a working group's, linked
to that record. The ``Space`` record is built and checked here before anything goes to the server,
so a space is never created there without a valid name record."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from desktop.domain.records import Space, SpaceKind, new_id
from desktop.domain.translation import _
from desktop.store.records import RecordQuery, RecordStore
from desktop.ui.forms import MessageLabel, hold_window_size_hints

#: What a space after the network's first can belong to, and the record type it links.
LINKED_KINDS: dict[SpaceKind, str] = {
    SpaceKind.ORGANIZATION: "organization",
    SpaceKind.WORKING_GROUP: "working_group",
}


@dataclass(frozen=True)
class SpaceOwners:
    """The records a new space can belong to, as (id, label), read on a worker."""

    organizations: tuple[tuple[str, str], ...] = ()
    working_groups: tuple[tuple[str, str], ...] = ()

    def of(self, kind: SpaceKind) -> tuple[tuple[str, str], ...]:
        return self.organizations if kind is SpaceKind.ORGANIZATION else self.working_groups


def read_owners(store: RecordStore) -> SpaceOwners:
    def rows(record_type: str) -> tuple[tuple[str, str], ...]:
        return tuple((row.id, row.label) for row in store.page(RecordQuery(record_type), 0, 500))

    return SpaceOwners(rows("organization"), rows("working_group"))


def space_record(name: str, kind: SpaceKind, owner: str | None) -> Space:
    """The new space's own record, with a fresh id that becomes the server's space id."""
    space = new_id()
    return Space(
        id=space,
        space_id=space,
        name=name,
        kind=kind,
        organization_id=owner if kind is SpaceKind.ORGANIZATION else None,
        working_group_id=owner if kind is SpaceKind.WORKING_GROUP else None,
    )


class NewSpaceDialog(QDialog):
    """Name the space and, unless it is the network's first, choose whose it is.

    Accepted only with a record that validates: ``record`` then holds it.
    """

    def __init__(self, first: bool, owners: SpaceOwners, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("newSpaceDialog")
        self.setModal(True)
        self.first = first
        self.owners = owners
        self.record: Space | None = None
        self.intro = QLabel(self)
        self.intro.setWordWrap(True)
        self.name = QLineEdit(self)
        self.name.setObjectName("newSpaceName")
        self.name_label = QLabel(self)
        self.name_label.setBuddy(self.name)
        self.kind = QComboBox(self)
        self.kind.setObjectName("newSpaceKind")
        for kind in LINKED_KINDS:
            self.kind.addItem("", kind)
        self.kind_label = QLabel(self)
        self.kind_label.setBuddy(self.kind)
        self.owner = QComboBox(self)
        self.owner.setObjectName("newSpaceOwner")
        self.owner_label = QLabel(self)
        self.owner_label.setBuddy(self.owner)
        self.kind.currentIndexChanged.connect(lambda _i: self._fill_owners())
        self.owner.currentIndexChanged.connect(lambda _i: self._suggest_name())
        self.message = MessageLabel(self)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow(self.kind_label, self.kind)
        form.addRow(self.owner_label, self.owner)
        form.addRow(self.name_label, self.name)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        for widget in (self.kind, self.kind_label, self.owner, self.owner_label):
            widget.setVisible(not first)
        self._suggested = ""
        self.retranslate()
        self._fill_owners()
        hold_window_size_hints(self, minimum_width=520)

    @property
    def chosen_kind(self) -> SpaceKind:
        return SpaceKind.NETWORK if self.first else SpaceKind(self.kind.currentData())

    def _fill_owners(self) -> None:
        self.owner.blockSignals(True)
        self.owner.clear()
        if not self.first:
            for record_id, label in self.owners.of(self.chosen_kind):
                self.owner.addItem(label, record_id)
        self.owner.blockSignals(False)
        self.owner.setEnabled(self.owner.count() > 0)
        self._suggest_name()
        self._explain_missing()

    def _suggest_name(self) -> None:
        # The space is usually called after whose it is; a name the person typed stays.
        label = self.owner.currentText()
        if label and self.name.text() in ("", self._suggested):
            self.name.setText(label)
            self._suggested = label

    def _explain_missing(self) -> None:
        if self.first or self.owner.count():
            self.message.clear_message()
        elif self.chosen_kind is SpaceKind.ORGANIZATION:
            self.message.say(_("Add the organization in the Directory first."))
        else:
            self.message.say(_("Add the working group first."))

    def accept(self) -> None:
        owner = None if self.first else self.owner.currentData()
        if not self.first and owner is None:
            self._explain_missing()  # says what to add first, more useful than "choose"
            return
        record = space_record(self.name.text().strip(), self.chosen_kind, owner)
        errors = record.validate()
        if errors:
            self.message.say(errors[0].message)
            return
        self.record = record
        super().accept()

    def retranslate(self) -> None:
        self.setWindowTitle(_("New space"))
        self.intro.setText(
            _("The network's first space, shared with all its members.")
            if self.first
            else _(
                "A space is shared only with the members you admit to it. Choose the "
                "organization or working group it belongs to."
            )
        )
        self.name_label.setText(_("&Name of the new space:"))
        self.kind_label.setText(_("&Belongs to:"))
        self.owner_label.setText(_("&Which one:"))
        names = {
            SpaceKind.ORGANIZATION: _("An organization's space"),
            SpaceKind.WORKING_GROUP: _("A working group's space"),
        }
        for index in range(self.kind.count()):
            self.kind.setItemText(index, names[SpaceKind(self.kind.itemData(index))])
        self._explain_missing()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


__all__ = ["LINKED_KINDS", "NewSpaceDialog", "SpaceOwners", "read_owners", "space_record"]
