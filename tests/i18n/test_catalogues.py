"""The four catalogues against the sources: complete, current, not fuzzy, placeholders intact.

Extraction here uses Babel's API with the same keywords as ``make i18n``; run that to fix drift.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterable
from pathlib import Path
from string import Formatter

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
I18N = ROOT / "i18n"
SOURCE_DIRS = ("desktop", "sync")
#: The same keywords as the Makefile's `pybabel extract -k N_ -k ngettext:1,2 -k pgettext:1c,2`.
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
TRANSLATED = ("es", "fr", "ar")
ALL_LANGUAGES = ("en", *TRANSLATED)

MessageKey = tuple[str | None, str]  # (context, msgid)


def extract_from_sources(root: Path = ROOT) -> set[MessageKey]:
    """Every translatable msgid in the sources, as ``make i18n`` would extract it."""
    with (root / "i18n" / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: set[MessageKey] = set()
    for directory in SOURCE_DIRS:
        for _file, _line, message, _comments, context in extract_from_dir(
            root / directory, method_map, options_map, keywords=KEYWORDS
        ):
            msgid = message if isinstance(message, str) else message[0]
            if msgid:
                found.add((context, msgid))
    return found


def read_catalogue(path: Path, language: str) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=language)


def catalogue_path(language: str) -> Path:
    return I18N / language / "LC_MESSAGES" / "minga.po"


def placeholders(text: str) -> set[str]:
    """The ``{name}`` fields of a ``str.format`` template (``{{`` is a literal brace)."""
    names = set()
    for _literal, field, _spec, _conversion in Formatter().parse(text):
        if field is not None:
            names.add(field)
    return names


def problems_in(catalogue: Catalog, *, translated: bool, expected: set[MessageKey]) -> list[str]:
    """Everything wrong with one catalogue, each as a sentence naming the msgid."""
    problems: list[str] = []
    present: set[MessageKey] = set()
    plural_index = gettext.c2py(catalogue.plural_expr) if translated else None
    single_number_forms: set[int] = set()
    if plural_index is not None:
        uses: dict[int, set[int]] = {}
        for n in range(201):
            uses.setdefault(plural_index(n), set()).add(n)
        single_number_forms = {index for index, numbers in uses.items() if len(numbers) == 1}
    for message in catalogue:
        if not message.id:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        present.add((message.context, msgid))
        if message.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        if not translated:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            problems.append(f"untranslated: {msgid!r}")
            continue
        try:
            if isinstance(message.id, tuple):
                wanted = placeholders(message.id[0]) | placeholders(message.id[1])
                if len(strings) != catalogue.num_plurals:
                    problems.append(
                        f"{len(strings)} plural forms, not {catalogue.num_plurals}: {msgid!r}"
                    )
                for index, text in enumerate(strings):
                    got = placeholders(text)
                    # A form used for one number only ("one", "two") may say the number in
                    # words and drop {count}; nothing else may go missing or appear.
                    allowed = [wanted]
                    if index in single_number_forms:
                        allowed.append(wanted - {"count"})
                    if got not in allowed:
                        problems.append(
                            f"placeholders {sorted(got)} in form {index} instead of "
                            f"{sorted(wanted)}: {msgid!r}"
                        )
            else:
                wanted, got = placeholders(message.id), placeholders(message.string)
                if got != wanted:
                    problems.append(
                        f"placeholders {sorted(got)} instead of {sorted(wanted)}: {msgid!r}"
                    )
        except ValueError as error:  # an unbalanced brace in msgid or msgstr
            problems.append(f"broken placeholder ({error}): {msgid!r}")
    for _context, msgid in sorted(expected - present, key=lambda key: key[1]):
        problems.append(f"missing (run `make i18n`): {msgid!r}")
    for _context, msgid in sorted(present - expected, key=lambda key: key[1]):
        problems.append(f"no longer in the sources (run `make i18n`): {msgid!r}")
    return problems


@pytest.fixture(scope="module")
def source_messages() -> set[MessageKey]:
    return extract_from_sources()


def _report(problems: Iterable[str]) -> str:
    return "\n".join(problems)


@pytest.mark.parametrize("language", ALL_LANGUAGES)
def test_catalogue_is_complete_and_current(language: str, source_messages: set[MessageKey]):
    catalogue = read_catalogue(catalogue_path(language), language)
    problems = problems_in(catalogue, translated=language in TRANSLATED, expected=source_messages)
    assert not problems, f"{language}:\n{_report(problems)}"


def test_arabic_has_six_plural_forms_in_every_plural_entry() -> None:
    catalogue = read_catalogue(catalogue_path("ar"), "ar")
    assert catalogue.num_plurals == 6
    index = gettext.c2py(catalogue.plural_expr)
    assert {index(n) for n in (0, 1, 2, 3, 11, 100)} == set(range(6))
    plural_entries = [m for m in catalogue if m.id and isinstance(m.id, tuple)]
    assert plural_entries, "no plural message in the catalogue to check"
    for message in plural_entries:
        assert len(message.string) == 6, message.id


#: Words only the familiar "tú" uses (pronouns, possessives, verb forms no "usted" sentence has).
_TUTEO = re.compile(
    r"\b(tú|tu|tus|te|ti|contigo|quieres|tienes|puedes|debes|eres|estás|unieras|editabas|"
    r"escribes|indicas|léela|compruébalo|inténtalo|déjalo|entrégaselo|eliminaste|estabais|decidas)\b",
    re.IGNORECASE,
)


def test_spanish_addresses_the_person_as_usted() -> None:
    """A person under threat is addressed with respect, in one voice across the app."""
    catalogue = read_catalogue(catalogue_path("es"), "es")
    familiar = []
    for message in catalogue:
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        familiar += [form for form in forms if form and _TUTEO.search(form)]
    assert familiar == []
    assert _TUTEO.search("Pide uno nuevo a la administración de tu red.")


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalogue_matches_its_po(language: str) -> None:
    mo = I18N / language / "LC_MESSAGES" / "minga.mo"
    assert mo.is_file(), f"{mo} is missing: run `make i18n`"
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    catalogue = read_catalogue(catalogue_path(language), language)
    stale = []
    plural_index = gettext.c2py(catalogue.plural_expr)
    for message in catalogue:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple):
            if all(message.string):
                singular, plural = message.id
                for n in (0, 1, 2, 3, 11, 100):
                    if compiled.ngettext(singular, plural, n) != message.string[plural_index(n)]:
                        stale.append(singular)
                        break
        elif message.string:
            # A message with a context is looked up under it, as pgettext does.
            if message.context:
                found = compiled.pgettext(message.context, message.id)
            else:
                found = compiled.gettext(message.id)
            if found != message.string:
                stale.append(message.id)
    assert not stale, f"{language}.mo is older than its .po (run `make i18n`): {stale[:5]}"


def test_the_checks_find_planted_mistakes(tmp_path: Path) -> None:
    # A check that never finds anything would pass vacuously: plant one of each mistake.
    po = tmp_path / "minga.po"
    po.write_text(
        """msgid ""
msgstr ""
"Language: es\\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\\n"
"Content-Type: text/plain; charset=utf-8\\n"

msgid "Empty"
msgstr ""

#, fuzzy
msgid "Fuzzy"
msgstr "Borroso"

msgid "Hello {name}"
msgstr "Hola {nombre}"

msgid "Unbalanced {name}"
msgstr "Desequilibrado {name"

msgid "{count} file"
msgid_plural "{count} files"
msgstr[0] "un archivo"
msgstr[1] "archivos"

msgid "Gone from the sources"
msgstr "Ya no está"
""",
        encoding="utf-8",
    )
    expected = {
        (None, "Empty"),
        (None, "Fuzzy"),
        (None, "Hello {name}"),
        (None, "Unbalanced {name}"),
        (None, "{count} file"),
        (None, "New in the sources"),
    }
    problems = problems_in(read_catalogue(po, "es"), translated=True, expected=expected)
    found = "\n".join(problems)
    assert "untranslated: 'Empty'" in found
    assert "fuzzy: 'Fuzzy'" in found
    assert "['nombre'] instead of ['name']: 'Hello {name}'" in found
    assert "broken placeholder" in found and "'Unbalanced {name}'" in found
    # Spanish "one" may say the number in words; "other" may not drop {count}.
    assert "form 0" not in found
    assert "in form 1 instead of ['count']: '{count} file'" in found
    assert "missing (run `make i18n`): 'New in the sources'" in found
    assert "no longer in the sources (run `make i18n`): 'Gone from the sources'" in found
    assert len(problems) == 7


def test_extraction_sees_every_keyword(tmp_path: Path) -> None:
    # The extractor must see _, N_, ngettext and pgettext, as `make i18n` does.
    (tmp_path / "i18n").mkdir()
    (tmp_path / "i18n" / "babel.cfg").write_text("[python: **.py]\n", encoding="utf-8")
    for directory in SOURCE_DIRS:
        (tmp_path / directory).mkdir()
    (tmp_path / "desktop" / "sample.py").write_text(
        "_('plain')\nN_('marked')\nngettext('{count} one', '{count} many', 2)\n"
        "pgettext('menu', 'Open')\n",
        encoding="utf-8",
    )
    assert extract_from_sources(tmp_path) == {
        (None, "plain"),
        (None, "marked"),
        (None, "{count} one"),
        ("menu", "Open"),
    }
