"""Languages are known by CLDR's names, not only by the locales Babel ships data for."""

from __future__ import annotations

import pytest

from desktop.domain.validation import check_language, known_language


@pytest.mark.parametrize("code", ["es", "ar", "qu", "ay", "gn", "wo", "pt"])
def test_languages_people_document_in_are_known(code: str) -> None:
    assert known_language(code)
    assert check_language("language", code, required=True) == []


@pytest.mark.parametrize("code", ["zz", "xx-nonsense", "123", "english"])
def test_made_up_codes_are_refused_with_a_message(code: str) -> None:
    [error] = check_language("language", code, required=False)
    assert error.code == "unknown_language" and code in error.message
