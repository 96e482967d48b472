"""Keys and codes typed on any keyboard: Arabic-Indic (٠١٢…), Persian (۰۱۲…) and full-width
digits read as the ASCII digits they are, so a recovery key or an invite code typed in Arabic
works. Only digits and compatibility forms change; letters stay as typed."""

from __future__ import annotations

import unicodedata


def ascii_digits(text: str) -> str:
    """``text`` with every decimal digit of any script as its ASCII digit, NFKC-normalized."""
    normalized = unicodedata.normalize("NFKC", text)
    return "".join(
        str(unicodedata.decimal(ch)) if ch.isdecimal() and not ch.isascii() else ch
        for ch in normalized
    )
