"""A recovery key typed with Arabic-Indic or Persian digits (an Arabic keyboard) is read as the
same key; anything that is not a digit stays refused."""

from __future__ import annotations

import pytest

from desktop.domain.digits import ascii_digits
from desktop.store.errors import MistypedRecoveryKey
from desktop.store.keys import format_recovery_key, new_recovery_secret, parse_recovery_key

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def test_digits_of_any_script_read_as_ascii() -> None:
    assert ascii_digits("٢٠٢٥-۰٦ ５") == "2025-06 5"
    assert ascii_digits("Año ٣") == "Año 3"  # letters as typed


@pytest.mark.parametrize("table", [ARABIC_INDIC, PERSIAN])
def test_a_recovery_key_typed_with_arabic_digits_opens(table: dict[int, str]) -> None:
    for _attempt in range(20):  # keys with several digits among their letters
        secret = new_recovery_secret()
        key = format_recovery_key(secret)
        if sum(ch.isdigit() for ch in key) >= 3:
            break
    typed = key.translate(table).lower()
    assert typed != key.lower()
    assert parse_recovery_key(typed) == secret


def test_a_wrong_character_is_still_refused() -> None:
    key = format_recovery_key(new_recovery_secret())
    with pytest.raises(MistypedRecoveryKey):
        parse_recovery_key(key[:-1] + "ß")
