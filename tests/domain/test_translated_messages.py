"""Validation speaks the person's language: the same mistakes, in Spanish, French and Arabic.

Runs against the compiled catalogues in ``i18n/``, as the app does.
"""

from __future__ import annotations

import pytest
from babel.messages.pofile import read_po

from desktop.domain.dates import InvalidDate, PartialDate
from desktop.domain.records import Incident, Organization, Person, PersonKind
from desktop.domain.translation import catalogue_dir, set_language
from desktop.domain.validation import check_max_length

from .conftest import TODAY

NB = "\u202f"  # French typography: a narrow no-break space before ; : ? ! and inside « »


def _latitude_error(space_id: str) -> str:
    [error] = Incident(space_id=space_id, title="x", latitude=95.5, longitude=0.0).validate(
        today=TODAY
    )
    return error.message


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Latitude must be between -90 and 90; got 95.5."),
        ("es", "La latitud debe estar entre -90 y 90; se indicó 95,5."),
        ("fr", f"La latitude doit être comprise entre -90 et 90{NB}; valeur saisie{NB}: 95,5."),
        ("ar", "يجب أن يكون خط العرض بين \u200e-90 و90؛ القيمة المدخلة: \u206695.5\u2069."),
    ],
)
def test_a_coordinate_error_in_each_language(space_id: str, language: str, expected: str) -> None:
    set_language(language)
    assert _latitude_error(space_id) == expected


def test_required_and_date_messages_switch_with_the_language(space_id: str) -> None:
    set_language("es")
    assert Organization(space_id=space_id).validate()[0].message == "Este campo es obligatorio."
    with pytest.raises(InvalidDate) as caught:
        PartialDate.parse("2023-02-29")
    assert caught.value.message == "El mes 2023-02 no tiene día 29."
    set_language("fr")
    with pytest.raises(InvalidDate) as caught:
        PartialDate.parse("le 3 mars")
    assert caught.value.message.startswith(f"«{NB}le 3 mars{NB}» n’est pas une date")
    set_language("ar")
    group = Person(space_id=space_id, kind=PersonKind.GROUP, name="عائلات الحي")
    assert group.validate()[0].message == "أدخل عدد أفراد المجموعة؛ يكفي رقم تقديري."


@pytest.mark.parametrize(
    ("limit", "noun"),
    [(1, "حرف واحد"), (2, "حرفان"), (3, "أحرف"), (10, "أحرف"), (11, "حرفًا"), (200, "حرف؛")],
)
def test_arabic_plurals_agree_with_the_number(limit: int, noun: str) -> None:
    set_language("ar")
    [error] = check_max_length("title", "x" * (limit + 1), limit)
    if limit > 2:
        assert f"{limit} {noun}" in error.message
    else:
        # Arabic says "one letter" / "two letters" by the noun's own number (حرف واحد, حرفان);
        # the figure follows in brackets so the limit is still read as a number.
        assert noun in error.message and f"({limit})" in error.message


def test_spanish_and_french_plurals(space_id: str) -> None:
    set_language("es")
    [error] = check_max_length("title", "xx", 1)
    assert error.message == "Esto puede tener como máximo 1 carácter; tiene 2."
    set_language("fr")
    [error] = check_max_length("title", "x" * 1201, 1200)
    assert (
        error.message
        == f"Ce texte peut compter au plus 1\u202f200 caractères{NB}; il en compte 1\u202f201."
    )


DOMAIN_SOURCES = ("dates.py", "validation.py", "records.py", "vocabularies.py", "fields.py")


@pytest.mark.parametrize("language", ["es", "fr", "ar"])
def test_every_domain_message_is_translated(language: str) -> None:
    # The messages the domain modules mark are read from the catalogue itself, so a new
    # message without a translation fails here, not in front of a person.
    from babel.messages.extract import extract_from_file

    root = catalogue_dir().parent / "desktop" / "domain"
    ids: set[str] = set()
    for name in DOMAIN_SOURCES:
        for _line, marked, _comments, _context in extract_from_file(
            "python", str(root / name), keywords={"_": None, "ngettext": (1, 2)}
        ):
            ids.add(marked[0] if isinstance(marked, tuple) else marked)
    assert len(ids) > 40
    with (catalogue_dir() / language / "LC_MESSAGES" / "minga.po").open("rb") as f:
        catalog = read_po(f, locale=language)
    untranslated = []
    for message in catalog:
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        if key in ids:
            ids.discard(key)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if not all(strings) or message.fuzzy:
                untranslated.append(key)
    assert untranslated == [] and ids == set()
