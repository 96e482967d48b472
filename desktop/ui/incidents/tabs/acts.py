"""The Acts tab: who suffered what, and by whom, one card per act."""

from __future__ import annotations

from typing import Any

from desktop.domain.records import Act
from desktop.domain.translation import N_, _
from desktop.domain.validation import FieldError
from desktop.store.records import RecordStore
from desktop.ui.incidents.bundle import IncidentBundle
from desktop.ui.incidents.fields import Party
from desktop.ui.incidents.parts import ActCard, Card
from desktop.ui.incidents.tab_parts import CardList, kept_codes, kept_text


class ActsTab(CardList):
    """The incident's acts; errors are named ``acts[index].field``."""

    def __init__(self, store: RecordStore, bundle: IncidentBundle, known: dict[str, Party]) -> None:
        super().__init__("acts", N_("Add an act"), store, bundle, known)
        self.add_button.clicked.connect(lambda: self.add_act())

    def load(self) -> None:
        for act in self.bundle.acts:
            self.add_act(act)

    def add_act(self, act: Act | None = None) -> ActCard:
        incident = self.bundle.incident
        card = ActCard(self.store, incident.id, incident.space_id, act, self.known)
        self.add(card)
        card.victim.party_changed.connect(self.people_changed)
        if act is None:
            card.add_perpetrator()
            card.victim.setFocus()
        return card

    def explained(self, card: Card, errors: list[FieldError]) -> list[FieldError]:
        if not isinstance(card, ActCard) or card.victim.party is not None:
            return errors
        return [
            FieldError("victim_id", e.code, _("Name the victim or choose a person."))
            if e.field == "victim_id"
            else e
            for e in errors
        ]

    def kept(self) -> list[dict[str, Any]]:
        """Every card as typed, for a draft."""
        acts = []
        for card in self.cards:
            assert isinstance(card, ActCard)
            acts.append(
                {
                    "original": card.original.id if card.original is not None else None,
                    "victim": card.victim.kept(),
                    "act_type": card.act_type.code(),
                    "start": card.start.text(),
                    "end": card.end.text(),
                    "notes": card.notes.toPlainText(),
                    "involvements": [
                        {
                            "perpetrator": row.perpetrator.kept(),
                            "perpetrator_type": row.perpetrator_type.code(),
                            "degree": row.degree.code(),
                        }
                        for row in card.involvements
                    ],
                }
            )
        return acts

    def restore(self, kept: Any, removed: Any) -> None:
        """Show the cards ``kept()`` returned before the lock, and what was removed."""
        originals = {act.id: act for act in self.bundle.acts}
        self.clear()
        for card_state in kept if isinstance(kept, list) else []:
            if not isinstance(card_state, dict):
                continue
            card = self.add_act(originals.get(str(card_state.get("original"))))
            card.victim.restore_kept(card_state.get("victim"))
            card.act_type.set_code(kept_text(card_state, "act_type"))
            card.start.setText(kept_text(card_state, "start"))
            card.end.setText(kept_text(card_state, "end"))
            card.notes.setPlainText(kept_text(card_state, "notes"))
            rows = [r for r in card_state.get("involvements") or [] if isinstance(r, dict)]
            while len(card.involvements) < len(rows):
                card.add_perpetrator()
            for extra in card.involvements[len(rows) :]:
                extra.remove_requested.emit()
            for row, row_state in zip(card.involvements, rows, strict=False):
                row.perpetrator.restore_kept(row_state.get("perpetrator"))
                row.perpetrator_type.set_code(kept_text(row_state, "perpetrator_type"))
                row.degree.set_code(kept_text(row_state, "degree"))
        self.removed = [i for i in kept_codes(removed) if i in originals]

    def retranslate(self) -> None:
        self.relabel()
        self.empty.setText(_("No act recorded yet: who suffered what, and by whom."))
