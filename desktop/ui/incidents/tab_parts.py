"""What the incident editor's tabs share: a scrolling page, a column of cards (acts or sources),
and reading back what a draft kept whatever its JSON holds."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from desktop.domain.records import Record
from desktop.domain.validation import FieldError
from desktop.store.records import RecordStore
from desktop.ui.incidents.bundle import IncidentBundle
from desktop.ui.incidents.fields import Party
from desktop.ui.incidents.parts import ActCard, Card, Labelled, SourceCard


def scroll_over(area: QScrollArea) -> QWidget:
    """Make ``area`` a frameless scrolling tab; returns the page inside it to build on."""
    page = QWidget()
    area.setWidget(page)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    return page


def kept_text(state: dict[str, Any], key: str) -> str:
    value = state.get(key, "")
    return value if isinstance(value, str) else ""


def kept_codes(value: Any) -> tuple[str, ...]:
    return tuple(str(code) for code in value) if isinstance(value, list | tuple) else ()


class CardList(QScrollArea, Labelled):
    """A scrolling column of cards (acts or sources) with an "add" button under them.

    Errors of the card at ``index`` are named ``{prefix}[{index}].{field}``.

    Signals:
        changed(): a card was added, removed or edited.
        people_changed(): the person or organization named in a card changed.
    """

    changed = Signal()
    people_changed = Signal()

    def __init__(
        self,
        prefix: str,
        add_label: str,
        store: RecordStore,
        bundle: IncidentBundle,
        known: dict[str, Party],
    ) -> None:
        QScrollArea.__init__(self)
        Labelled.__init__(self)
        self.prefix = prefix
        self.store = store
        self.bundle = bundle
        self.known = known  # the parties already recorded, by id, to show in the cards
        page = scroll_over(self)
        self.cards: list[Card] = []
        self.removed: list[str] = []  # ids of saved records the person removed
        self.column = QVBoxLayout()
        self.add_button = QPushButton(page)
        self.tr_(self.add_button, add_label)
        self.empty = QLabel(page)
        self.empty.setProperty("role", "hint")
        layout = QVBoxLayout(page)
        layout.addWidget(self.empty)
        layout.addLayout(self.column)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addStretch(1)

    def add(self, card: Card) -> Card:
        card.remove_requested.connect(lambda: self.remove(card))
        card.changed.connect(self.changed)
        self.column.addWidget(card)
        self.cards.append(card)
        self.empty.setVisible(False)
        self.changed.emit()
        return card

    def remove(self, card: Card) -> None:
        original = getattr(card, "original", None)
        if isinstance(original, Record):
            self.removed.append(original.id)
        self._drop(card)

    def _drop(self, card: Card) -> None:
        self.cards.remove(card)
        card.hide()
        card.deleteLater()
        self.empty.setVisible(not self.cards)
        self.changed.emit()

    def clear(self) -> None:
        """Take every card away without counting any as removed (a draft brings its own)."""
        for card in list(self.cards):
            self._drop(card)
        self.removed = []

    def named(self, card: ActCard | SourceCard) -> Party | None:
        """The person or organization ``card`` is about (the victim, who told of it)."""
        return card.victim.party if isinstance(card, ActCard) else card.who.party

    def people(self) -> list[Party]:
        """The people named in the cards, in order (organizations need no consent)."""
        found = []
        for card in self.cards:
            assert isinstance(card, ActCard | SourceCard)
            party = self.named(card)
            if party is not None and party.record_type == "person":
                found.append(party)
        return found

    def explained(self, card: Card, errors: list[FieldError]) -> list[FieldError]:
        """``errors`` of ``card`` said the way this list's cards need (as found, here)."""
        del card
        return errors

    def build(self, errors: list[FieldError]) -> tuple[list[Record], list[Party]]:
        """Each card's record and the parties they name; each card's problems into ``errors``."""
        records: list[Record] = []
        parties: list[Party] = []
        for index, card in enumerate(self.cards):
            assert isinstance(card, ActCard | SourceCard)
            card_errors: list[FieldError] = []
            record = card.build(card_errors)
            seen = {e.field for e in card_errors}
            card_errors += [e for e in record.validate() if e.field not in seen]
            errors += [
                FieldError(f"{self.prefix}[{index}].{e.field}", e.code, e.message)
                for e in self.explained(card, card_errors)
            ]
            records.append(record)
            parties += card.parties()
        return records, parties

    def show_errors(self, errors: list[FieldError]) -> None:
        """Under each card, its own problems among ``errors`` (any tab's)."""
        for index, card in enumerate(self.cards):
            start = f"{self.prefix}[{index}]."
            mine = [
                FieldError(e.field[len(start) :], e.code, e.message)
                for e in errors
                if e.field.startswith(start)
            ]
            assert isinstance(card, ActCard | SourceCard)
            card.show_errors(mine)
