"""What a native reader expects of each catalogue beyond completeness: the right plural rule,
forms in its order, and each language's typography and terms (see ``i18n/GLOSSARY.*.md``)."""

from __future__ import annotations

import gettext
import importlib.util
import re
from types import ModuleType

import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.plurals import get_plural

from tests.i18n.test_catalogues import ALL_LANGUAGES, I18N, catalogue_path, read_catalogue

#: Fathatan: Arabic counts 11–99 with an accusative singular ("١١ تغييرًا"), 100 and up with a
#: genitive one ("١٠٠ تغيير").
TANWEEN = "\u064b"


def catalogue(language: str) -> Catalog:
    return read_catalogue(catalogue_path(language), language)


def forms(message: Message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


@pytest.mark.parametrize("language", ALL_LANGUAGES)
def test_plural_rule_is_babels_cldr_rule(language: str) -> None:
    """A hand-edited Arabic rule once said "أُرسل 11 تغيير" and "100 تغييرًا"."""
    found = catalogue(language)
    rule = get_plural(language)
    assert (found.num_plurals, found.plural_expr) == (rule.num_plurals, rule.plural_expr)
    # The rule gives each CLDR category one form of its own, for every number tried.
    category = Locale.parse(language).plural_form
    index = gettext.c2py(found.plural_expr)
    forms_of: dict[str, set[int]] = {}
    for n in [*range(1201), 1_000_000, 2_000_000, 1_000_001, 3_000_100]:
        forms_of.setdefault(category(n), set()).add(index(n))
    assert all(len(indexes) == 1 for indexes in forms_of.values()), forms_of
    assert len(forms_of) == found.num_plurals


@pytest.mark.parametrize("language", ALL_LANGUAGES)
def test_every_plural_entry_has_the_rules_number_of_forms(language: str) -> None:
    found = catalogue(language)
    entries = [m for m in found if m.id and isinstance(m.id, tuple)]
    assert entries
    wrong = [m.id[0] for m in entries if len(forms(m)) != found.num_plurals]
    assert wrong == []


def test_arabic_forms_are_in_cldr_order() -> None:
    """Form 4 is 11–99 (accusative, with tanween), form 5 is 100–102 (genitive, without)."""
    plural = [m for m in catalogue("ar") if m.id and isinstance(m.id, tuple)]
    swapped = [m.id[0] for m in plural if TANWEEN in m.string[5] and TANWEEN not in m.string[4]]
    assert swapped == []


NARROW_NO_BREAK_SPACE = "\u202f"
#: ``: ; ? !`` ending a word (not inside a token such as https://, hôte:port, 12:30 or the ";;"
#: of a Qt file filter), and what precedes it.
_FRENCH_MARK = re.compile(r"(?P<before>.?)(?P<mark>(?<!;)[:;?!](?!;))(?=$|[\s»)\"’.,?!])")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def french_punctuation_problems(text: str) -> list[str]:
    """Each ``: ; ? !`` not preceded by U+202F, and each « » without it inside."""
    text = _PLACEHOLDER.sub("\ue000", text)  # a placeholder reads as a word
    problems = [
        f"{m.group('before')!r} before {m.group('mark')!r}"
        for m in _FRENCH_MARK.finditer(text)
        if m.group("before") not in (NARROW_NO_BREAK_SPACE, "?", "!", "")
    ]
    if re.search("«(?!\u202f)|(?<!\u202f)»", text):
        problems.append("« » without U+202F inside")
    return problems


def test_french_punctuation_uses_the_narrow_no_break_space() -> None:
    wrong = {
        form: problems
        for message in catalogue("fr")
        if message.id
        for form in forms(message)
        if form and (problems := french_punctuation_problems(form))
    }
    assert wrong == {}


def test_the_french_punctuation_check_sees_a_plain_space() -> None:
    nnbsp = NARROW_NO_BREAK_SPACE
    assert french_punctuation_problems("Adresse :") == ["' ' before ':'"]
    assert french_punctuation_problems("Supprimer\u00a0?") == ["'\\xa0' before '?'"]
    assert french_punctuation_problems("Erreur: {reason}") == ["'r' before ':'"]
    assert french_punctuation_problems("{title}; suite") == ["'\\ue000' before ';'"]
    assert french_punctuation_problems("« {name} »") == ["« » without U+202F inside"]
    fine = f"Proxy https://hôte:port, 12:30, (*.csv);;Tous{nnbsp}: «{nnbsp}x{nnbsp}»{nnbsp}?!"
    assert french_punctuation_problems(fine) == []


def test_french_uses_one_apostrophe() -> None:
    typewriter = [
        form
        for message in catalogue("fr")
        if message.id
        for form in forms(message)
        if "'" in _PLACEHOLDER.sub("", form)
    ]
    assert typewriter == []


def words_in(language: str, pattern: str) -> list[str]:
    """Every translated form of ``language`` in which ``pattern`` (a regex) occurs."""
    found = re.compile(pattern)
    return [
        form
        for message in catalogue(language)
        if message.id
        for form in forms(message)
        if found.search(_PLACEHOLDER.sub("", form))
    ]


def test_spanish_says_computadora_and_digitos() -> None:
    """Latin American Spanish, and one word for the digits on the same fingerprint screen."""
    assert words_in("es", r"(?i)\bordenador") == []
    assert words_in("es", r"(?i)\bcifras\b|\b(una|la|cada) cifra\b") == []  # not the verb
    assert words_in("es", r"\bcomputadora") and words_in("es", r"\bdígitos\b")


def test_the_apps_name_is_written_one_way() -> None:
    """Arabic writes «مينغا» in Arabic script (no Latin run for the bidi algorithm to move);
    French and Spanish keep "Minga". The lower-case ``minga`` of a command line stays."""
    assert words_in("ar", r"Minga|(?<![\u0600-\u06ff])(?:منغا|مينجا|مينقا)") == []
    assert words_in("ar", "مينغا")
    for language in ("es", "fr"):
        assert words_in(language, r"\bminga\b(?! COMMAND| ORDEN| COMMANDE)|\bMINGA\b") == []


#: Renderings the glossaries (i18n/GLOSSARY.*.md) retired, each beside the term that replaced it.
RETIRED = {
    "es": {
        r"\bla administración\b|\bpersona administradora\b": "el administrador",
        r"\b(?:este|ese|un) equipo\b": "computadora",
    },
    "fr": {
        r"(?i)\bcoordonnées\b(?! géographiques)": "coordonnées géographiques",
        r"\bFormes de capture\b": "formes de captation",
    },
    "ar": {
        r"فريق عمل|الأفرقة العاملة": "مجموعة عمل",
        r"سلسلة العهدة": "سلسلة الحيازة",
        r"استحواذ الشركات|أشكال الالتقاط": "استيلاء الشركات",
        r"ملف الدليل|ملفات الأدلة": "ملف إثبات (الدليل is the Directory)",
    },
}


@pytest.mark.parametrize("language", sorted(RETIRED))
def test_one_term_per_concept(language: str) -> None:
    found = {
        wanted: hits
        for pattern, wanted in RETIRED[language].items()
        if (hits := words_in(language, pattern))
    }
    assert found == {}


@pytest.mark.parametrize("language", ["es", "fr", "ar"])
def test_each_language_has_its_glossary(language: str) -> None:
    glossary = I18N / f"GLOSSARY.{language}.md"
    text = glossary.read_text(encoding="utf-8")
    for term in ("passphrase", "working group", "custody", "corporate capture", "administrator"):
        assert term in text, f"{glossary.name} does not say how to write {term!r}"


def _fill_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("i18n_fill", I18N / "fill.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fill_writes_each_languages_house_style() -> None:
    """What others fill in lands in the glossaries' style, so the checks above stay green."""
    fill = _fill_module()
    nnbsp = NARROW_NO_BREAK_SPACE
    typed = "L'adresse : {url}; voir « https://hôte:port » (*.csv);;Tous? Oui!"
    styled = fill.french_typography(typed)
    assert styled == (
        f"L’adresse{nnbsp}: {{url}}{nnbsp}; voir «{nnbsp}https://hôte:port{nnbsp}» "
        f"(*.csv);;Tous{nnbsp}? Oui{nnbsp}!"
    )
    assert french_punctuation_problems(styled) == []
    assert fill.french_typography(styled) == styled
    assert fill.arabic_name("حول Minga ولـ Minga: ‎'minga COMMAND'") == (
        "حول مينغا ولمينغا: ‎'minga COMMAND'"
    )


# The in-app guide (resources/guide/*.md, Help ▸ Guide, F1) is read beside the catalogues: the
# same conventions hold there, else the guide contradicts the screen it explains.
GUIDES = I18N.parent / "resources" / "guide"


def guide_lines(language: str) -> list[str]:
    text = (GUIDES / f"{language}.md").read_text(encoding="utf-8")
    # Markdown's emphasis marks are not words: "**Annuaire** :" reads as "Annuaire :".
    return [re.sub(r"[*_`]", "", line) for line in text.splitlines() if line.strip()]


def test_the_guides_write_the_apps_name_as_the_catalogues_do() -> None:
    assert [line for line in guide_lines("ar") if "Minga" in line] == []
    assert any("مينغا" in line for line in guide_lines("ar"))


def test_the_french_guide_uses_the_narrow_no_break_space() -> None:
    wrong = {
        line: problems
        for line in guide_lines("fr")
        if (problems := french_punctuation_problems(line))
    }
    assert wrong == {}
    assert [line for line in guide_lines("fr") if "'" in line] == []


@pytest.mark.parametrize("language", sorted(RETIRED))
def test_the_guides_use_the_glossarys_terms(language: str) -> None:
    found = [
        line
        for line in guide_lines(language)
        for pattern in RETIRED[language]
        if re.search(pattern, line)
    ]
    assert found == []


def test_the_arabic_guide_calls_itself_the_guide_not_the_directory() -> None:
    # الدليل is the Directory; the guide is دليل الاستخدام (GLOSSARY.ar.md).
    keys = [line for line in guide_lines("ar") if "F1" in line]
    assert keys and all("دليل الاستخدام" in line for line in keys)


def test_arabic_counts_agree_with_their_number() -> None:
    """Arabic's noun changes with the count: dual for 2 ("سجلان", not "2 سجل"), plural for
    3–10, accusative singular for 11–99. An entry whose forms do not change is wrong unless it
    states the number apart ("عددها 5", "أي 3 من الأجزاء الـ5"), where no noun follows it."""
    wrong = []
    for message in catalogue("ar"):
        if not (message.id and isinstance(message.id, tuple)):
            continue
        zero, one, two, few, many, other = message.string
        if len({zero, one, two, few, many, other}) == 1:
            if not re.search(r"عدد|أي \{", few):
                wrong.append(f"one form for every count: {few}")
        elif two == other:
            wrong.append(f"2 and 100 read alike: {two}")
    assert wrong == []
