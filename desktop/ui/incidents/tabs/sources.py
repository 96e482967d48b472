"""The Sources tab: who told of the incident, how, and how reliable, one card per source."""

from __future__ import annotations

from typing import Any

from desktop.domain.records import Source
from desktop.domain.translation import N_, _
from desktop.store.records import RecordStore
from desktop.ui.incidents.bundle import IncidentBundle
from desktop.ui.incidents.fields import Party
from desktop.ui.incidents.parts import SourceCard
from desktop.ui.incidents.tab_parts import CardList, kept_codes, kept_text


class SourcesTab(CardList):
    """The incident's sources; errors are named ``sources[index].field``."""

    def __init__(self, store: RecordStore, bundle: IncidentBundle, known: dict[str, Party]) -> None:
        super().__init__("sources", N_("Add a source"), store, bundle, known)
        self.add_button.clicked.connect(lambda: self.add_source())

    def load(self) -> None:
        for source in self.bundle.sources:
            self.add_source(source)

    def add_source(self, source: Source | None = None) -> SourceCard:
        incident = self.bundle.incident
        card = SourceCard(self.store, incident.id, incident.space_id, source, self.known)
        self.add(card)
        card.who.party_changed.connect(self.people_changed)
        if source is None:
            card.who.setFocus()
        return card

    def kept(self) -> list[dict[str, Any]]:
        """Every card as typed, for a draft."""
        sources = []
        for card in self.cards:
            assert isinstance(card, SourceCard)
            sources.append(
                {
                    "original": card.original.id if card.original is not None else None,
                    "who": card.who.kept(),
                    "source_type": card.source_type.code(),
                    "reliability": card.reliability.code(),
                    "reported_on": card.reported_on.text(),
                    "language": card.language.code(),
                    "summary": card.summary.toPlainText(),
                }
            )
        return sources

    def restore(self, kept: Any, removed: Any) -> None:
        """Show the cards ``kept()`` returned before the lock, and what was removed."""
        originals = {source.id: source for source in self.bundle.sources}
        self.clear()
        for card_state in kept if isinstance(kept, list) else []:
            if not isinstance(card_state, dict):
                continue
            card = self.add_source(originals.get(str(card_state.get("original"))))
            card.who.restore_kept(card_state.get("who"))
            card.source_type.set_code(kept_text(card_state, "source_type"))
            card.reliability.set_code(kept_text(card_state, "reliability"))
            card.reported_on.setText(kept_text(card_state, "reported_on"))
            card.language.set_code(kept_text(card_state, "language"))
            card.summary.setPlainText(kept_text(card_state, "summary"))
        self.removed = [i for i in kept_codes(removed) if i in originals]

    def retranslate(self) -> None:
        self.relabel()
        self.empty.setText(_("No source recorded yet: who told of this incident."))
