"""A number beside a noun takes that number's plural form, in every language: a courier bundle's
summaries ("1 record", not "1 records"), and an import's records older than those held here.

Runs against the compiled catalogues in ``i18n/``, as the app does.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from desktop.commands.bundle import export_summary, import_summary
from desktop.domain.translation import set_language
from sync.client.bundles import ExportReport, ImportReport


@pytest.fixture(autouse=True)
def english_after() -> Iterator[None]:
    yield
    set_language("en")


@pytest.mark.parametrize(
    ("language", "one", "many"),
    [
        (
            "en",
            "1 record and 1 change in 1 byte (bundle 0a1b2c3d)",
            "2 records and 11 changes in 12,345 bytes (bundle 0a1b2c3d)",
        ),
        (
            "es",
            "1 registro y 1 cambio en 1 byte (paquete 0a1b2c3d)",
            "2 registros y 11 cambios en 12.345 bytes (paquete 0a1b2c3d)",
        ),
        (
            "fr",
            "1 fiche et 1 modification en 1 octet (paquet 0a1b2c3d)",
            "2 fiches et 11 modifications en 12\u202f345 octets (paquet 0a1b2c3d)",
        ),
        (
            "ar",
            "سجل واحد (1) وتغيير واحد (1) في بايت واحد (الحزمة 0a1b2c3d)",
            "سجلان (2) و11 تغييرًا في 12,345 بايتًا (الحزمة 0a1b2c3d)",
        ),
    ],
)
def test_a_written_bundle_counts_in_the_right_plural(language: str, one: str, many: str) -> None:
    """What "Bundle written:" is followed by; it said "1 records and 1 changes in 1 bytes"."""
    set_language(language)
    single = ExportReport(bundle_id="0a1b2c3d4e5f", bytes=1, records=1, mutations=1)
    assert export_summary(single) == one
    several = ExportReport(bundle_id="0a1b2c3d4e5f", bytes=12_345, records=2, mutations=11)
    assert export_summary(several) == many


@pytest.mark.parametrize(
    ("language", "one", "three"),
    [
        (
            "en",
            "1 record older than the copy on this computer, left as it was",
            "3 records older than the copies on this computer, left as they were",
        ),
        (
            "es",
            "1 registro más antiguo que la copia en esta computadora, dejado como estaba",
            "3 registros más antiguos que las copias en esta computadora, dejados como estaban",
        ),
        (
            "fr",
            "1 fiche plus ancienne que la copie sur cet ordinateur, laissée telle quelle",
            "3 fiches plus anciennes que les copies sur cet ordinateur, laissées telles quelles",
        ),
        (
            "ar",
            "سجل واحد (1) أقدم من النسخة التي على هذا الحاسوب، تُرك كما كان",
            "3 سجلات أقدم من النسخ التي على هذا الحاسوب، تُركت كما كانت",
        ),
    ],
)
def test_an_import_says_how_many_records_were_older_than_held(
    language: str, one: str, three: str
) -> None:
    """Fewer records changed than the bundle held: the summary says why (and says nothing of
    older records when there were none)."""
    set_language(language)
    assert import_summary(ImportReport(records=2, older=1)).endswith(one)
    assert import_summary(ImportReport(records=2, older=3)).endswith(three)
    separator = {"fr": "\u202f; ", "ar": "؛ "}.get(language, "; ")
    assert len(import_summary(ImportReport(records=2)).split(separator)) == 4  # none older: unsaid


@pytest.mark.parametrize(
    ("language", "separator"),
    [("en", "; "), ("es", "; "), ("fr", "\u202f; "), ("ar", "؛ ")],
)
def test_an_import_summary_joins_its_parts_as_the_language_does(
    language: str, separator: str
) -> None:
    """French sets a narrow no-break space before its semicolon and Arabic writes «؛»: a
    literal "; " between the parts read as a misprint in both."""
    set_language(language)
    summary = import_summary(ImportReport(records=2, older=1))
    assert summary.count(separator) == 4
    if language == "ar":
        assert ";" not in summary
    if language == "fr":
        assert " ;" not in summary and "e;" not in summary
