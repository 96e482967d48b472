"""``minga <command>``: scriptable commands beside the app (backup, restore, bundles, quick delete).

Each command is a module of this package named in ``COMMANDS``, with ``add_arguments(parser)``
and ``run(options) -> int``; none of them imports Qt. A refusal is a ``CommandError``: one line
on standard error, exit status 2, nothing half-done.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Protocol, cast

from desktop.domain.translation import _

#: command name → (module, one-line help, translated lazily). Add a line here for a new command.
COMMANDS: dict[str, tuple[str, Callable[[], str]]] = {
    "backup": ("desktop.commands.backup", lambda: _("write or check an encrypted backup")),
    "restore": ("desktop.commands.restore", lambda: _("restore a backup into an empty folder")),
    "bundle": (
        "desktop.commands.bundle",
        lambda: _("courier bundles: carry the network's changes without the internet"),
    ),
    "quick-delete": (
        "desktop.commands.quick_delete",
        lambda: _("delete this computer's Minga profile for good, keys first (no passphrase)"),
    ),
}


class CommandError(Exception):
    """A refusal the person can act on; its text is the one line printed."""


class CommandModule(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, options: argparse.Namespace) -> int: ...


def is_command(argv: Sequence[str]) -> bool:
    """Whether ``argv`` (without the program name) names one of the commands."""
    return bool(argv) and argv[0] in COMMANDS


def command_names() -> list[str]:
    return sorted(COMMANDS)


def run_command(argv: Sequence[str]) -> int:
    """Parse ``argv`` for the command it names and run it; usage errors exit 2 (argparse)."""
    name = argv[0]
    module_name, summary = COMMANDS[name]
    module = cast(CommandModule, importlib.import_module(module_name))
    parser = argparse.ArgumentParser(prog=f"minga {name}", description=summary())
    module.add_arguments(parser)
    options = parser.parse_args(list(argv[1:]))
    try:
        return module.run(options)
    except CommandError as refusal:
        print(f"minga {name}: {refusal}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        interrupted = _("interrupted")
        print(f"minga {name}: {interrupted}", file=sys.stderr)
        return 130
