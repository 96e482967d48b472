"""The words for sync state: one place, so the status bar and the Sync page say the same thing.

Every sentence is whole and translated first, then formatted with Babel numbers and times.
"""

from __future__ import annotations

from datetime import datetime

from desktop.domain.translation import _, format_clock, format_moment, format_number, ngettext
from desktop.ui.sync.scheduler import SyncPhase, SyncScheduler
from sync.client.engine import SyncReport


def phase_text(scheduler: SyncScheduler) -> str:
    """A short state for the status bar: syncing, offline, up to date, N conflicts..."""
    phase = scheduler.phase
    if phase is SyncPhase.NOT_JOINED:
        return _("Not joined to a network")
    if phase is SyncPhase.SYNCING:
        return _("Syncing…")
    if phase is SyncPhase.OFFLINE:
        return _("Server unreachable")
    if phase is SyncPhase.BLOCKED:
        return _("Sync stopped: certificate mismatch")
    if phase is SyncPhase.FAILED:
        return _("Sync failed")
    if scheduler.conflicts:
        return ngettext(
            "{count} conflict to resolve", "{count} conflicts to resolve", scheduler.conflicts
        ).format(count=format_number(scheduler.conflicts))
    if phase is SyncPhase.UP_TO_DATE and not scheduler.pending:
        # "Up to date" only when nothing is waiting here either.
        return _("Up to date")
    if scheduler.pending:
        return pending_text(scheduler.pending)
    return _("Waiting to sync")


def phase_tone(scheduler: SyncScheduler) -> str:
    """How the state reads at a glance: ``success``, ``warning``, ``error`` or ``info``.

    The status bar and the Sync page style their state line with it, so a failure is never
    shown as calmly as a success, nor a success in the error's red.
    """
    phase = scheduler.phase
    if phase in (SyncPhase.BLOCKED, SyncPhase.FAILED):
        return "error"
    if phase is SyncPhase.OFFLINE or scheduler.conflicts:
        return "warning"
    if phase is SyncPhase.UP_TO_DATE and not scheduler.pending:
        return "success"
    return "info"


def state_line(scheduler: SyncScheduler) -> str:
    """The one line both the status bar and the Sync page show: state, then what waits."""
    parts = [phase_text(scheduler)]
    if scheduler.phase is not SyncPhase.NOT_JOINED:
        parts.append(last_sync_text(scheduler.last_sync_at))
    shown = pending_text(scheduler.pending)
    if scheduler.pending and shown not in parts:
        parts.append(shown)
    return " · ".join(parts)


def last_sync_text(when: datetime | None) -> str:
    if when is None:
        return _("Never synced")
    local = when.astimezone()
    if local.date() == datetime.now().astimezone().date():
        return _("Last sync at {time}").format(time=format_clock(local))
    return _("Last sync on {moment}").format(moment=format_moment(local))


def pending_text(count: int) -> str:
    if count == 0:
        return _("Nothing waiting to be sent")
    return ngettext(
        "{count} change waiting to be sent", "{count} changes waiting to be sent", count
    ).format(count=format_number(count))


def size_text(size: int) -> str:
    if size < 1024:
        return ngettext("{count} byte", "{count} bytes", size).format(count=format_number(size))
    if size < 1024 * 1024:
        return _("{size} KB").format(size=format_number(round(size / 1024, 1)))
    return _("{size} MB").format(size=format_number(round(size / (1024 * 1024), 1)))


def report_lines(report: SyncReport) -> list[str]:
    """The last sync in plain words: what moved, what it cost, anything not applied."""
    lines = [
        ngettext("{count} change sent", "{count} changes sent", report.pushed).format(
            count=format_number(report.pushed)
        ),
        ngettext("{count} change received", "{count} changes received", report.pulled).format(
            count=format_number(report.pulled)
        ),
        ngettext(
            "{up} sent and {down} received in {count} request",
            "{up} sent and {down} received in {count} requests",
            report.requests,
        ).format(
            up=size_text(report.bytes_up),
            down=size_text(report.bytes_down),
            count=format_number(report.requests),
        ),
    ]
    if report.refused:
        count = len(report.refused)
        lines.append(
            ngettext(
                "{count} item from the server failed a security check and was not applied.",
                "{count} items from the server failed a security check and were not applied.",
                count,
            ).format(count=format_number(count))
        )
    if report.rejected:
        count = len(report.rejected)
        lines.append(
            ngettext(
                "The server refused {count} of your changes; it stays on this computer.",
                "The server refused {count} of your changes; they stay on this computer.",
                count,
            ).format(count=format_number(count))
        )
    if report.set_aside:
        lines.append(
            ngettext(
                "The server kept failing on {count} of your changes sent together; it stays "
                "on this computer and is now sent on its own.",
                "The server kept failing on {count} of your changes sent together; they stay "
                "on this computer and are now sent one by one.",
                report.set_aside,
            ).format(count=format_number(report.set_aside))
        )
    if report.push_failed:
        lines.append(
            ngettext(
                "The server failed on {count} of your changes; it stays on this computer and "
                "goes again at the next sync. Changes from others were still received.",
                "The server failed on {count} of your changes; they stay on this computer and "
                "go again at the next sync. Changes from others were still received.",
                report.push_failed,
            ).format(count=format_number(report.push_failed))
        )
    if report.unreadable:
        lines.append(
            ngettext(
                "{count} record was shared before you joined and cannot be read here yet.",
                "{count} records were shared before you joined and cannot be read here yet.",
                report.unreadable,
            ).format(count=format_number(report.unreadable))
        )
    if report.needs_newer:
        count = len(report.needs_newer)
        lines.append(
            ngettext(
                "Changes from others in {count} space need a newer Minga: update Minga to "
                "receive them. Nothing is lost meanwhile.",
                "Changes from others in {count} spaces need a newer Minga: update Minga to "
                "receive them. Nothing is lost meanwhile.",
                count,
            ).format(count=format_number(count))
        )
    if report.lost_spaces:
        count = len(report.lost_spaces)
        lines.append(
            ngettext(
                "You no longer have access to {count} space.",
                "You no longer have access to {count} spaces.",
                count,
            ).format(count=format_number(count))
        )
    if report.unsent_lost:
        count = len(report.unsent_lost)
        lines.append(
            ngettext(
                "Your changes in {count} space you no longer have access to stay on this "
                "computer; they are no longer sent.",
                "Your changes in {count} spaces you no longer have access to stay on this "
                "computer; they are no longer sent.",
                count,
            ).format(count=format_number(count))
        )
    if report.awaiting_key:
        count = len(report.awaiting_key)
        lines.append(
            ngettext(
                "{count} space is waiting for its administrator to admit this computer.",
                "{count} spaces are waiting for their administrators to admit this computer.",
                count,
            ).format(count=format_number(count))
        )
    return lines


def fingerprint_text(groups: tuple[str, ...]) -> str:
    """Six groups of five digits on two lines, to read aloud three groups at a time."""
    return "\n".join("   ".join(groups[i : i + 3]) for i in range(0, len(groups), 3))
