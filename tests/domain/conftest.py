"""Shared fixtures for the domain tests: a fixed "today", valid ids, and English by default.

Every test leaves the language as it found it, so message assertions never leak between tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from desktop.domain.records import new_id
from desktop.domain.translation import set_language

TODAY = date(2025, 6, 15)


@pytest.fixture(autouse=True)
def _english_after_each_test() -> Iterator[None]:
    set_language("en")
    yield
    set_language("en")


@pytest.fixture
def space_id() -> str:
    return new_id()
