"""The one declared settings schema: every setting's type, default, bounds and description.

The store persists values inside the encrypted profile; the settings dialog is built from this
list, so a setting added here appears in both places with no other change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from desktop.domain.translation import LANGUAGES, N_, _

#: Bumped when a setting is renamed or its meaning changes; the store migrates old values.
SCHEMA_VERSION = 1


class SettingError(ValueError):
    """A value that does not fit its setting; the message is translated and names the setting."""


@dataclass(frozen=True)
class Setting:
    """One setting.

    Attributes:
        key: stable identifier used in storage.
        kind: ``"int"``, ``"bool"``, ``"str"`` or ``"choice"``.
        default: value used when nothing is stored.
        label: short translatable label (marked with ``N_``, translated when shown).
        description: translatable sentence shown as help.
        choices: allowed values for ``"choice"``.
        minimum, maximum: bounds for ``"int"``.
        device_hint: also mirrored outside the encrypted store so the unlock screen can use it
            before any key exists. Only settings that reveal nothing about the person may be
            hints: the interface language, and the quick delete shortcut and threshold, which
            must work on the unlock screen.
    """

    key: str
    kind: str
    default: Any
    label: str
    description: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    device_hint: bool = False
    section: str = field(default=N_("General"))
    #: For ``"str"``: a regular expression a non-empty value must match in full, and the
    #: translatable sentence that says what is expected when it does not.
    pattern: str = ""
    pattern_hint: str = ""
    #: Offered in the Settings dialog; False for what the window remembers by itself.
    shown: bool = True

    def coerce(self, value: Any) -> Any:
        """Return ``value`` as this setting's type, or raise :class:`SettingError`."""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            raise SettingError(_("“{setting}” must be on or off.").format(setting=_(self.label)))
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise SettingError(
                    _("“{setting}” must be a whole number.").format(setting=_(self.label))
                )
            if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum
            ):
                raise SettingError(
                    _("“{setting}” must be between {minimum} and {maximum}.").format(
                        setting=_(self.label), minimum=self.minimum, maximum=self.maximum
                    )
                )
            return value
        if self.kind == "choice":
            if value not in self.choices:
                raise SettingError(
                    _("“{setting}” cannot be “{value}”.").format(setting=_(self.label), value=value)
                )
            return value
        if not isinstance(value, str):
            raise SettingError(_("“{setting}” must be text.").format(setting=_(self.label)))
        value = value.strip()
        if self.pattern and value and re.fullmatch(self.pattern, value) is None:
            raise SettingError(_(self.pattern_hint))
        return value


SETTINGS: tuple[Setting, ...] = (
    Setting(
        key="language",
        kind="choice",
        default="en",
        choices=LANGUAGES,
        label=N_("Language"),
        description=N_("The language of every screen, date and number."),
        device_hint=True,
    ),
    Setting(
        key="auto_lock_minutes",
        kind="int",
        default=10,
        minimum=1,
        maximum=240,
        label=N_("Lock after idle minutes"),
        description=N_(
            "Minga locks itself after this many minutes without keyboard or mouse activity."
        ),
        section=N_("Security"),
    ),
    Setting(
        key="quick_delete_shortcut",
        kind="str",
        default="Ctrl+Shift+Del",
        label=N_("Quick delete shortcut"),
        description=N_(
            "The keys that open the quick delete confirmation, also on the unlock screen. "
            "Leave empty for none."
        ),
        section=N_("Security"),
        # Read before unlocking, to work on the unlock screen: only the keys, nothing else.
        device_hint=True,
        pattern=r"((Ctrl|Alt|Shift|Meta)\+){1,3}([A-Za-z0-9]|F[1-9][0-2]?|Del|Backspace|Pause|Home|End)",
        pattern_hint=N_(
            "The shortcut must be one to three of Ctrl, Alt, Shift, Meta joined by +, then a "
            "letter, a digit, F1–F12, Del, Backspace, Pause, Home or End (e.g. Ctrl+Shift+Del)."
        ),
    ),
    Setting(
        key="quick_delete_after_wrong_passphrases",
        kind="int",
        default=0,
        minimum=0,
        maximum=50,
        label=N_("Quick delete after wrong passphrases"),
        description=N_(
            "0 means never. Otherwise, after this many wrong passphrases in a row at the unlock "
            "screen Minga deletes this profile from this computer, as Quick delete does, and "
            "what has not reached the server is lost."
        ),
        section=N_("Security"),
        # The unlock screen needs it before any key exists.
        device_hint=True,
    ),
    Setting(
        key="sync_interval_minutes",
        kind="int",
        default=5,
        minimum=1,
        maximum=240,
        label=N_("Sync every (minutes)"),
        description=N_(
            "How often Minga checks the server for changes while unlocked. It also syncs "
            "shortly after you save and when a connection appears."
        ),
        section=N_("Sync"),
    ),
    Setting(
        key="sync_proxy",
        kind="str",
        default="",
        label=N_("Proxy"),
        description=N_(
            "Optional. An HTTPS proxy (https://host:port) or SOCKS5, such as Tor "
            "(socks5h://127.0.0.1:9050). Leave empty to connect directly."
        ),
        section=N_("Sync"),
        # socks5h only: with socks5:// the server's name would be resolved here, a DNS query in
        # the clear that a Tor user must not make.
        pattern=r"(https?|socks5h)://[^\s/:]+(:\d{1,5})?/?",
        pattern_hint=N_("The proxy must look like https://host:port or socks5h://host:port."),
    ),
    Setting(
        key="sync_certificate_pin",
        kind="str",
        default="",
        label=N_("Server certificate (SHA-256)"),
        description=N_(
            "Optional. The fingerprint of the server's certificate, from your administrator. "
            "When set, Minga connects only if the server shows exactly this certificate."
        ),
        section=N_("Sync"),
        pattern=r"([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}",
        pattern_hint=N_(
            "The certificate fingerprint must be 64 hexadecimal digits (colons allowed)."
        ),
    ),
    Setting(
        key="backup_folder",
        kind="str",
        default="",
        label=N_("Automatic backups to folder"),
        description=N_(
            "Optional. A folder (a USB stick, for instance) where Minga writes an encrypted "
            "backup on its own while you work, whenever the folder is there. Leave empty for "
            "no automatic backups."
        ),
        section=N_("Backups"),
    ),
    Setting(
        key="backup_every_hours",
        kind="int",
        default=24,
        minimum=1,
        maximum=720,
        label=N_("Back up every (hours)"),
        description=N_("How old the newest automatic backup may get before Minga writes another."),
        section=N_("Backups"),
    ),
    Setting(
        key="backup_keep",
        kind="int",
        default=5,
        minimum=1,
        maximum=50,
        label=N_("Automatic backups to keep"),
        description=N_(
            "Minga keeps this many of its newest automatic backups in the folder and deletes "
            "older ones. Other files there are never touched."
        ),
        section=N_("Backups"),
    ),
)

SETTINGS += (
    # Remembered by the window, not chosen in a dialog; inside the encrypted profile like the
    # rest, so they are restored at unlock (the locked window opens at the default size).
    Setting(
        key="window_size",
        kind="str",
        default="",
        label=N_("Window size"),
        description=N_("The size of the window when it was last changed."),
        pattern=r"\d{3,5}x\d{3,5}",
        pattern_hint=N_("A size is written as width x height, such as 1024x680."),
        shown=False,
    ),
    Setting(
        key="last_section",
        kind="choice",
        default="directory",
        choices=("directory", "incidents", "working_groups", "alerts", "sync"),
        label=N_("Section"),
        description=N_("The section shown when Minga was last unlocked."),
        shown=False,
    ),
)

#: What the Settings dialog offers.
SHOWN_SETTINGS: tuple[Setting, ...] = tuple(s for s in SETTINGS if s.shown)

BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}


def setting(key: str) -> Setting:
    """The declared setting named ``key``; an unknown key is a programming error."""
    return BY_KEY[key]


def defaults() -> dict[str, Any]:
    return {s.key: s.default for s in SETTINGS}
