"""Write translations into the catalogues: ``python i18n/fill.py FILE.json`` after ``make i18n``.

FILE.json maps a msgid (or ``"context\\u0004msgid"``) to ``{"es": …, "fr": …, "ar": …}``; a
plural entry gives a list per language in the order of the catalogue's CLDR rule: es/fr 3 forms
(one, many = exact millions, "1 000 000 de archivos", other; 2 forms [one, other] are accepted and
the "many" form then repeats "other"), ar 6 (zero, one, two, 3–10, 11–99 "تغييرًا", 100–102
"تغيير"). Entries are matched exactly; an msgid the catalogue lacks is reported, so a typo is
not silently dropped. The English catalogue is filled with the msgid itself. French gets its
typography (U+202F before ``: ; ? !`` and inside « », the apostrophe ’) and Arabic the app's name
in Arabic script, as ``i18n/GLOSSARY.*.md`` ask. Then run ``make i18n`` again to compile.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

I18N = Path(__file__).resolve().parent


_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
#: ``: ; ? !`` ending a word, with the spaces (or none) before it; not inside a token such as
#: https://, host:port, 12:30 or the ";;" of a Qt file filter.
_FRENCH_MARK = re.compile(r"([^\s;?!])[ \u00a0]*([;:?!])(?=$|[\s»)\"’.,?!])")


def french_typography(text: str) -> str:
    """A narrow no-break space before ``: ; ? !`` and inside « », and ’ for the apostrophe."""
    hidden: list[str] = []

    def hide(match: re.Match[str]) -> str:
        hidden.append(match.group(0))
        return chr(0xE000 + len(hidden) - 1)  # a placeholder reads as one word

    text = _PLACEHOLDER.sub(hide, text).replace("'", "’")
    text = _FRENCH_MARK.sub("\\1\u202f\\2", text)
    text = re.sub("«[ \u00a0\u202f]*", "«\u202f", text)
    text = re.sub("[ \u00a0\u202f]*»", "\u202f»", text)
    return re.sub("[\ue000-\ue0ff]", lambda m: hidden[ord(m.group(0)) - 0xE000], text)


def arabic_name(text: str) -> str:
    """«مينغا» in Arabic script; the lower-case ``minga`` of a command line stays."""
    return re.sub(r"\bMinga\b", "مينغا", re.sub(r"لـ ?Minga\b", "لمينغا", text))


_HOUSE_STYLE = {"fr": french_typography, "ar": arabic_name}


def _key(raw: str) -> tuple[str, str | None]:
    context, _sep, msgid = raw.rpartition("\u0004")
    return msgid, (context or None)


def fill(entries: dict[str, dict[str, str | list[str]]]) -> list[str]:
    missing: list[str] = []
    for language in ("en", "es", "fr", "ar"):
        path = I18N / language / "LC_MESSAGES" / "minga.po"
        with path.open("rb") as handle:
            catalogue = read_po(handle, locale=language)
        for raw, translations in entries.items():
            msgid, context = _key(raw)
            message = next(
                (
                    m
                    for m in catalogue
                    if m.context == context
                    and (m.id == msgid or (isinstance(m.id, tuple) and m.id[0] == msgid))
                ),
                None,
            )
            if message is None:
                if language == "en":
                    missing.append(raw)
                continue
            if language == "en":
                message.string = (
                    message.id
                    if isinstance(message.id, str)
                    else tuple(
                        message.id[0] if i == 0 else message.id[1]
                        for i in range(catalogue.num_plurals)
                    )
                )
                continue
            text = translations.get(language)
            if text is None:
                continue
            if isinstance(text, list) and len(text) == 2 and catalogue.num_plurals == 3:
                text = [text[0], text[1], text[1]]
            style = _HOUSE_STYLE.get(language)
            if style is not None:
                text = [style(form) for form in text] if isinstance(text, list) else style(text)
            message.string = tuple(text) if isinstance(text, list) else text
            message.flags.discard("fuzzy")
        with path.open("wb") as handle:
            write_po(
                handle,
                catalogue,
                width=76,  # as pybabel update wraps, so `make i18n` leaves the file alone
                sort_output=True,
                omit_header=False,
                include_previous=False,
            )
    return missing


if __name__ == "__main__":
    data = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    for raw in fill(data):
        print(f"not in the catalogues: {raw!r}", file=sys.stderr)
