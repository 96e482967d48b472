"""``minga bundle export|import``: courier bundles from the command line (sync/client/bundles.py).

``export --profile-dir DIR --to FILE [--space S]… [--for DEVICE]`` writes this device's unsent
changes, the mutations it carries and the sealed records of the chosen spaces; ``import FILE
--profile-dir DIR`` verifies and merges one. Nothing here opens a network connection.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from desktop.commands import CommandError
from desktop.commands.passphrase import add_passphrase_arguments, read_passphrase
from desktop.domain.translation import _, format_number, ngettext, pgettext
from desktop.store.profile import Profile, ProfileError, unlock
from desktop.store.sync_state import ProfileSyncState
from sync.client.bundle_format import BundleProblem
from sync.client.bundles import (
    AUTHOR_RIGHTS_ENDED,
    MAX_BUNDLE_BATCHES,
    TOO_MANY_BATCHES,
    ExportReport,
    ImportReport,
    export_bundle,
    export_for,
    import_bundle,
)
from sync.client.engine import NotEnrolled, SyncEngine
from sync.client.transport import ConnectionSettings, Transport

#: Where an engine that never connects points (bundles need no server).
_NO_SERVER = "http://127.0.0.1:9"


def problem_message(problem: BundleProblem, item: int) -> str:
    """What a person reads for a refused bundle: the problem by name, and that nothing of the
    damaged part was applied."""
    texts = {
        BundleProblem.NOT_A_BUNDLE: _("This file is not a Minga bundle."),
        BundleProblem.UNSUPPORTED_VERSION: _(
            "This bundle was made by a newer Minga; update Minga to read it."
        ),
        BundleProblem.TRUNCATED: _(
            "The bundle is cut short (truncated) after item {item}: nothing after that point "
            "was applied. Ask for a complete copy."
        ),
        BundleProblem.REORDERED: _(
            "The bundle's parts are out of order (reordered) at item {item}: nothing from "
            "that point was applied."
        ),
        BundleProblem.SPLICED: _(
            "The bundle holds parts of another bundle (spliced) at item {item}: nothing from "
            "that point was applied."
        ),
        BundleProblem.DAMAGED: _(
            "The bundle was altered or damaged (its signature does not match) at item {item}: "
            "nothing from that point was applied."
        ),
        BundleProblem.REPLAYED: _(
            "This bundle was imported before (replayed); importing it again changes nothing."
        ),
    }
    return texts[problem].format(item=item)


def import_summary(report: ImportReport) -> str:
    parts = [
        ngettext("{count} record received", "{count} records received", report.records).format(
            count=format_number(report.records)
        ),
        ngettext(
            "{count} change from another device merged",
            "{count} changes from other devices merged",
            report.merged,
        ).format(count=format_number(report.merged)),
        ngettext(
            "{count} change carried for the server",
            "{count} changes carried for the server",
            report.carried,
        ).format(count=format_number(report.carried)),
        ngettext(
            "{count} conflict kept for you", "{count} conflicts kept for you", report.conflicts
        ).format(count=format_number(report.conflicts)),
    ]
    if report.older:
        # Why fewer records changed than the bundle held: this computer already had newer
        # versions of these (an older bundle, or one that crossed a sync); none was rolled back.
        parts.append(
            ngettext(
                "{count} record older than the copy on this computer, left as it was",
                "{count} records older than the copies on this computer, left as they were",
                report.older,
            ).format(count=format_number(report.older))
        )
    if report.refused:
        parts.append(
            ngettext(
                "{count} item refused (not verified)",
                "{count} items refused (not verified)",
                len(report.refused),
            ).format(count=format_number(len(report.refused)))
        )
    parts.extend(left_out_notes(report))
    # The separator is the language's own: French spaces its semicolon, Arabic writes «؛».
    return pgettext("between the parts of a summary", "; ").join(parts)


def left_out_notes(report: ImportReport) -> list[str]:
    """Why verified versions were not taken, in words: neither is an attack for certain (a
    genuine version of an author removed since looks exactly like a forged one), so neither is
    counted among the refused."""
    notes = []
    rights = report.left_out_count(AUTHOR_RIGHTS_ENDED)
    if rights:
        notes.append(
            ngettext(
                "{count} record left out: its author may no longer write in that space, and a "
                "bundle cannot show that the server accepted it (if genuine, it comes with the "
                "next sync with the server)",
                "{count} records left out: their authors may no longer write in that space, and "
                "a bundle cannot show that the server accepted them (the genuine ones come with "
                "the next sync with the server)",
                rights,
            ).format(count=rights)
        )
    parts = report.left_out_count(TOO_MANY_BATCHES)
    if parts:
        notes.append(
            ngettext(
                "{count} group of records left out: a bundle holds at most {limit} groups (it "
                "comes with another bundle or the next sync with the server)",
                "{count} groups of records left out: a bundle holds at most {limit} groups (they "
                "come with another bundle or the next sync with the server)",
                parts,
            ).format(count=parts, limit=MAX_BUNDLE_BATCHES)
        )
    return notes


def export_summary(report: ExportReport) -> str:
    """What a written bundle holds; each count with its own plural form ("1 record")."""
    records = ngettext("{count} record", "{count} records", report.records).format(
        count=format_number(report.records)
    )
    changes = ngettext("{count} change", "{count} changes", report.mutations).format(
        count=format_number(report.mutations)
    )
    size = ngettext("{count} byte", "{count} bytes", report.bytes).format(
        count=format_number(report.bytes)
    )
    return _("{records} and {changes} in {size} (bundle {bundle})").format(
        records=records, changes=changes, size=size, bundle=report.bundle_id[:8]
    )


def uncarriable_note(report: ExportReport) -> str:
    """Says which records the bundle left out, so the person carrying it knows (empty: none)."""
    if report.past_cap:
        later = ngettext(
            "{count} record did not fit in this bundle (at most {limit} groups of records): "
            "the next bundle for that computer brings it.",
            "{count} records did not fit in this bundle (at most {limit} groups of records): "
            "the next bundle for that computer brings them.",
            report.past_cap,
        ).format(count=report.past_cap, limit=MAX_BUNDLE_BATCHES)
        rest = uncarriable_note(replace(report, past_cap=0))
        return f"{rest}\n{later}" if rest else later
    if not report.uncarriable:
        return ""
    # Left out: versions with neither an envelope nor a kept batch here (pulled before this
    # version kept batches, or their batch dropped once it held content deleted or replaced since).
    return ngettext(
        "{count} record could not be put in this bundle: this computer has no sealed copy of "
        "it to hand on. The recipient will receive it at their next sync with the server.",
        "{count} records could not be put in this bundle: this computer has no sealed copy of "
        "them to hand on. The recipient will receive them at their next sync with the server.",
        report.uncarriable,
    ).format(count=format_number(report.uncarriable))


def bundle_engine(profile: Profile) -> SyncEngine:
    """An engine over the profile's store. Export and import never send a request; only a
    courier's export ``--for`` a device asks the server (with the profile's proxy and pin)."""
    state = ProfileSyncState(profile.engine, profile.attachments)
    proxy = str(profile.settings.get("sync_proxy") or "").strip() or None
    pin = str(profile.settings.get("sync_certificate_pin") or "").replace(":", "").replace(" ", "")
    connection = ConnectionSettings(proxy=proxy, pinned_sha256=pin.lower() or None)
    url = state.server_url() or _NO_SERVER
    return SyncEngine(state, Transport(url, connection), fetch_attachments=False)


def download_note(reason: str | None) -> str | None:
    """Why a courier's bundle came from its own store instead of the server (or None)."""
    if reason is None or reason == "no_grant":
        return None
    if reason == "offline":
        return _(
            "The server could not be reached: the bundle holds what this computer has, "
            "without new keys for that device."
        )
    return _(
        "The server refused to download for that device ({code}): the bundle holds what "
        "this computer has."
    ).format(code=reason)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar=_("ACTION"))
    export = actions.add_parser("export", help=_("write a bundle for a device without internet"))
    export.add_argument("--profile-dir", type=Path, required=True, metavar=_("DIR"))
    export.add_argument("--to", type=Path, required=True, metavar=_("FILE"))
    export.add_argument(
        "--space",
        action="append",
        metavar=_("SPACE"),
        help=_("only this space's records (repeat for more; default: every space)"),
    )
    export.add_argument(
        "--for",
        dest="for_device",
        metavar=_("DEVICE"),
        help=_(
            "for this device: with its grant, downloaded for it from the server when online; "
            "else only what its last bundle did not say it holds"
        ),
    )
    export.add_argument(
        "--files",
        action="store_true",
        help=_("also the sealed files the records name (larger; your own new files always go)"),
    )
    add_passphrase_arguments(export)
    load = actions.add_parser("import", help=_("verify and merge a bundle"))
    load.add_argument("file", type=Path, metavar=_("FILE"))
    load.add_argument("--profile-dir", type=Path, required=True, metavar=_("DIR"))
    add_passphrase_arguments(load)


def _open(options: argparse.Namespace) -> Profile:
    folder = options.profile_dir.expanduser()
    try:
        return unlock(folder, read_passphrase(options))
    except ProfileError as error:
        raise CommandError(error.user_message()) from error


def _check_spaces(engine: SyncEngine, chosen: list[str] | None) -> None:
    """A ``--space`` this profile does not hold (a typo, another network's) is refused: it would
    otherwise give a bundle without that space's records and exit 0."""
    held = engine.verified_view()[0].logs
    for space in chosen or []:
        if space not in held:
            raise CommandError(_("this profile holds no space {space}").format(space=space))


def run(options: argparse.Namespace) -> int:
    if options.action == "import" and not options.file.is_file():
        raise CommandError(_("no such file: {path}").format(path=options.file))
    profile = _open(options)
    try:
        engine = bundle_engine(profile)
        try:
            if options.action == "export":
                _check_spaces(engine, options.space)
                note = None
                if options.for_device:
                    report, reason = export_for(
                        engine,
                        options.to.expanduser(),
                        options.for_device,
                        spaces=options.space,
                        files=options.files,
                    )
                    note = download_note(reason)
                else:
                    report = export_bundle(
                        engine, options.to.expanduser(), spaces=options.space, files=options.files
                    )
                print(export_summary(report))
                if uncarriable_note(report):
                    print(uncarriable_note(report))
                if note:
                    print(note)
                return 0
            result = import_bundle(engine, options.file.expanduser())
        except NotEnrolled:
            raise CommandError(
                _("this profile is not part of a network yet: join one from the Sync page")
            ) from None
        except OSError as error:
            raise CommandError(
                _("cannot use the file: {reason}").format(reason=error.strerror or error)
            ) from error
        finally:
            engine.transport.close()
        print(import_summary(result))
        if result.problem is not None:
            raise CommandError(problem_message(result.problem, result.problem_item))
        return 0
    finally:
        profile.close()
