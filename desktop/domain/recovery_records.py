"""``recovery_share``: one share of a person's shared recovery, sealed to a trusted member's device.

The record travels by sync like any other in the space the person chose; every member of that
space receives it, and only the holder's device can open ``sealed`` (HPKE to its X25519 key,
``desktop.store.shared_recovery``). Deleting the record retires the share on every computer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from desktop.domain.fields import INT, TEXT, FieldSpec
from desktop.domain.record_base import Record, RecordType
from desktop.domain.translation import _
from desktop.domain.validation import FieldError, check_required_text
from desktop.domain.vocabularies import VocabularySet


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoveryShare(Record):
    """Who the share helps (``owner``: a name the holder recognises; ``owner_profile``: their
    profile id, so a re-issue retires its own), for which device it is
    sealed, which set it belongs to (SLIP-39 identifier, k of n) and the sealed words."""

    owner: str = ""
    owner_profile: str = ""
    holder_device: str = ""
    set_identifier: int = 0
    threshold: int = 0
    share_count: int = 0
    sealed: str = ""

    def _content_errors(self, vocabularies: VocabularySet, today: date | None) -> list[FieldError]:
        errors = check_required_text("owner", self.owner)
        errors += check_required_text("holder_device", self.holder_device)
        errors += check_required_text("sealed", self.sealed)
        if not 2 <= self.threshold <= self.share_count:
            errors.append(
                FieldError("threshold", "out_of_range", _("A share set needs at least two shares."))
            )
        return errors


RECOVERY_RECORD_TYPES = (
    RecordType(
        "recovery_share",
        RecoveryShare,
        1,
        (
            FieldSpec("owner", TEXT),
            FieldSpec("owner_profile", TEXT),
            FieldSpec("holder_device", TEXT),
            FieldSpec("set_identifier", INT),
            FieldSpec("threshold", INT),
            FieldSpec("share_count", INT),
            FieldSpec("sealed", TEXT),
        ),
    ),
)
