"""What a person reads when talking to the server did not work: one sentence per failure.

Shared by the Sync section and every section that syncs on demand (downloading a material).
"""

from __future__ import annotations

import math

from desktop.domain.translation import _, format_number, ngettext
from desktop.ui.forms import failure_message
from sync.client.engine import NotEnrolled, SpaceNotReady
from sync.client.transport import CertificateMismatch, Offline, ProtocolViolation, ServerRefused
from sync.protocol import ErrorCode


def sync_error_message(error: BaseException) -> str:
    """What a person reads when joining, syncing or managing members did not work."""
    if isinstance(error, Offline):
        return _(
            "The server could not be reached. Check the address and your connection; "
            "nothing is lost, Minga will try again."
        )
    if isinstance(error, CertificateMismatch):
        return _(
            "The server's certificate is not the one pinned in the settings. Someone may be "
            "intercepting the connection: Minga will not connect. Check the pin with your "
            "network's administrator."
        )
    if isinstance(error, ServerRefused):
        if error.code == ErrorCode.INVITE_INVALID:
            return _(
                "This invite code is not valid: it may be mistyped, already used or expired. "
                "Ask your network's administrator for a new one."
            )
        if error.code == ErrorCode.DEVICE_REVOKED:
            return _("The server no longer accepts this device. Contact your administrator.")
        if error.code == ErrorCode.RATE_LIMITED:
            # Whole minutes, rounded up: trying again when told finds the server willing.
            minutes = math.ceil((error.retry_after or 0) / 60)
            if minutes <= 1:
                return _("The server asks to wait a little. Try again in a minute.")
            # A hostile or misconfigured server may say a year: past a day, a count of
            # minutes or hours helps nobody, and the administrator is who can tell why.
            if minutes > 24 * 60:
                return _(
                    "The server asks to wait more than a day. Try again later, or ask your "
                    "network's administrator why."
                )
            if minutes > 120:
                hours = math.ceil(minutes / 60)
                return ngettext(
                    "The server asks to wait. Try again in {count} hour.",
                    "The server asks to wait. Try again in {count} hours.",
                    hours,
                ).format(count=format_number(hours))
            return ngettext(
                "The server asks to wait. Try again in {count} minute.",
                "The server asks to wait. Try again in {count} minutes.",
                minutes,
            ).format(count=format_number(minutes))
        if error.code == ErrorCode.ROLE_FORBIDDEN:
            return _("Your role in this space does not allow this.")
        if error.code == ErrorCode.LAST_ADMIN:
            return _("A space must keep at least one administrator.")
        return _("The server refused the request ({code}).").format(code=error.code)
    if isinstance(error, ProtocolViolation):
        return _(
            "The server's answer was not understood. Is this address a Minga server? "
            "Check it with your administrator."
        )
    if isinstance(error, NotEnrolled):
        return _("This computer has not joined a network yet.")
    if isinstance(error, SpaceNotReady):
        return _("This space's keys are not on this computer yet. Sync first, then try again.")
    if isinstance(error, ValueError):
        return _("The sync settings are not valid: {reason}").format(reason=error)
    return failure_message(error)
