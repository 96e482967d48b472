"""The sync engine: seal the outbox, push it with the cursors in one round trip, verify and merge.

Attachment chunks go up before the records naming them and come down after (chunks.py).
Design, failure cases and limits: sync/ENGINE.md.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar

from sync.client.batches import BatchPath, Delivered, open_delivery
from sync.client.chunks import AttachmentState, ChunkTransfer, Progress, referenced_chunks
from sync.client.merge import FieldConflict, MergeFlag, merge
from sync.client.pages import PagesAhead, expired
from sync.client.state import (
    Accepted,
    Content,
    FirstUse,
    LocalInvite,
    LocalRecord,
    MergeRules,
    OutboxEntry,
    PendingChange,
    RemoteRecord,
    Settlement,
    StoredWrap,
    SyncState,
)
from sync.client.transport import ProtocolViolation, ServerRefused, Transport, TransportError
from sync.crypto.batch import MAGIC as BATCH_MAGIC
from sync.crypto.batch import VERSION as BATCH_VERSION
from sync.crypto.envelope import (
    OpenedRecord,
    open_record,
    read_header,
    seal_record,
    seal_tombstone,
)
from sync.crypto.errors import CryptoError, CryptoErrorCode
from sync.crypto.keys import DeviceKeys, DevicePublicKeys, Fingerprint, KeyPins
from sync.crypto.spaces import MembershipLog, SpaceKeyring, change_members, loses_rights
from sync.crypto.spaces import create_space as create_space_statement
from sync.protocol import (
    LIMITS,
    BatchDelivery,
    Change,
    EnrollRequest,
    ErrorCode,
    Mutation,
    MutationStatus,
    Role,
    SpacePage,
    SyncRequest,
    SyncResponse,
    TokenRequest,
    challenge_statement,
    enroll_statement,
    format_invite,
    normalize_invite,
)

#: Tokens live 15 minutes on the server; renewing a little early saves a refused round trip.
TOKEN_LIFETIME_SECONDS = 12 * 60
#: A bound on pages per sync so a server that always says ``more`` cannot hold the engine.
MAX_PAGES_PER_SYNC = 10_000
#: Push rounds per sync: the first, and one to send merges back (more only for a huge outbox).
MAX_ROUNDS_PER_SYNC = 10
_T = TypeVar("_T")
#: Least privileged first: with invites of several roles open, a newcomer gets the least.
_ROLE_RANK = {Role.READER: 0, Role.EDITOR: 1, Role.ADMIN: 2}
#: Bytes of a statement's hash an invite carries (16 base32 letters): a server would have
#: to find a second chain whose statement matches 80 bits of SHA-256.
ANCHOR_BYTES = 10


def anchor_text(statement_hash: bytes) -> str:
    """The letters appended to an invite code: a commitment to the space's statement."""
    return base64.b32encode(statement_hash[:ANCHOR_BYTES]).decode("ascii")


def split_invite(typed: str) -> tuple[str, bytes | None]:
    """The server's code and the statement commitment an invite carries (None for an
    operator's invite, which has none). Case, spaces and dashes do not matter."""
    code = normalize_invite(typed)
    if len(code) != INVITE_LETTERS + ANCHOR_LETTERS:
        return code, None
    try:
        anchor = base64.b32decode(code[INVITE_LETTERS:])
    except ValueError:
        return code, None
    return code[:INVITE_LETTERS], anchor


INVITE_LETTERS = 32
ANCHOR_LETTERS = 16


class NotEnrolled(Exception):
    """This profile has no device keys for a server yet: ``enroll`` first."""


class SpaceNotReady(Exception):
    """An admin operation on a space this device holds no verified statement or key for."""


class LastAdmin(Exception):
    """Demoting this member would leave the space without an administrator: promote another
    member first. Raised before anything is sent."""


class OwnRole(Exception):
    """An administrator cannot change its own role: a demotion starts a new epoch whose key
    must be wrapped by someone who stays an administrator. Another admin does it."""


class NotAMember(Exception):
    """The device is not a member of the space in its latest signed statement."""


@dataclass(frozen=True)
class Refusal:
    """Something the server delivered that was not applied, and why (a ``CryptoErrorCode``
    value, ``rolled_back``, ``unsigned_tombstone``, ``content_mismatch``, or a membership code).
    ``record`` is empty for a space's membership or keys."""

    space: str
    record: str
    revision: int
    code: str
    detail: str = ""


@dataclass(frozen=True)
class Rejection:
    """A mutation the server refused (``space_not_found``, ``role_forbidden``...)."""

    space: str
    record: str
    code: str


@dataclass
class SyncReport:
    """What one ``sync_once`` did; the UI shows it, tests assert on it."""

    pushed: int = 0
    pulled: int = 0
    conflicts: int = 0
    flags: int = 0
    requests: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    refused: list[Refusal] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    #: Records delivered under an epoch this device never held a key for (not an attack:
    #: it joined later); they stay unread until someone edits them under a newer key.
    unreadable: int = 0
    #: Records a newer Minga wrote that this version kept sealed and could open now.
    reopened: int = 0
    #: Records brought back because a deletion and everything it took are one decision
    #: (an edit under a deleted incident, or an edit that won over its deletion).
    restored: int = 0
    #: Records of a batch the server kept failing on, set aside in this sync: they stay
    #: local edits here and go one by one (ENGINE.md, "A batch that keeps failing").
    set_aside: int = 0
    #: Records of batches the server failed on (5xx) in this sync: they stay kept on this
    #: computer and go again next sync; the pulls went on meanwhile.
    push_failed: int = 0
    #: Spaces the server no longer lets this device read (removed from them).
    lost_spaces: list[str] = field(default_factory=list)
    #: Of those, the spaces where edits made here stay on this computer, no longer sent (the
    #: server would refuse them: ENGINE.md, "A space left or removed").
    unsent_lost: list[str] = field(default_factory=list)
    #: Spaces joined on the server whose admin has not yet issued this device a key.
    awaiting_key: list[str] = field(default_factory=list)
    #: Attachment chunks sent and received, and their body bytes (also in bytes_up/down).
    chunks_up: int = 0
    chunks_down: int = 0
    chunk_bytes_up: int = 0
    chunk_bytes_down: int = 0
    #: Files assembled, verified and stored in the vault.
    files_received: int = 0
    #: Records whose file's chunks the server no longer holds and this vault did not either:
    #: sent marked gone, without them (ENGINE.md, "A file whose bytes are gone").
    files_gone: int = 0
    #: Records marked gone elsewhere whose file this vault holds: sent again with its chunks.
    files_put_back: int = 0
    #: (record, code) of files not stored: a chunk not matching its address, a file altered.
    attachments_refused: list[tuple[str, str]] = field(default_factory=list)
    #: Mutations other devices sealed offline that this device carried and handed in (as a
    #: courier, PROTOCOL.md §12): accepted, conflicting (their authors merge), refused.
    relayed: int = 0
    relay_conflicts: int = 0
    relay_rejected: list[Rejection] = field(default_factory=list)
    #: This device's own changes taken from bundles (PROTOCOL.md §12.3) that the server now
    #: answered: accepted, or not taken and sent again merged (``own_reopened``).
    own_confirmed: int = 0
    own_reopened: int = 0
    #: Spaces whose genesis statement this sync trusted on first use, with the creating
    #: admin's fingerprint: the person compares it out of band (also kept in the store,
    #: ``state.spaces_to_confirm()``, until confirmed or refused).
    trusted_spaces: list[FirstUse] = field(default_factory=list)
    #: Spaces whose outbox was held this sync: not confirmed yet, or a fork was seen. Edits
    #: there stay on this computer, unsealed, until the person confirms the network.
    held_spaces: list[str] = field(default_factory=list)
    #: Spaces where this sync met two different statements for one place in the membership
    #: history (a statement, or a member's record sealed under another statement): someone
    #: is shown a fork. Kept (``state.forked_spaces()``) and held until the person acts.
    forked_spaces: list[str] = field(default_factory=list)
    #: Records re-sealed by compacting this device's stale batches (CRYPTO.md §5).
    compacted: int = 0
    #: Spaces whose pull stopped before a batch of a format version this app does not open
    #: (PROTOCOL.md §13 "Batch versions"): "needs a newer Minga". The cursor stays before it,
    #: so an upgraded app gets those records from there.
    needs_newer: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Enrollment:
    device: str
    fingerprint: Fingerprint
    spaces: tuple[tuple[str, Role], ...]


@dataclass(frozen=True)
class PendingMember:
    """A device the server lists in a space that no signed statement admits yet.

    An admin compares ``fingerprint`` with the person out of band, then calls ``admit``.
    """

    space: str
    device: str
    role: Role
    keys: DevicePublicKeys

    @property
    def fingerprint(self) -> Fingerprint:
        return self.keys.fingerprint


def canonical(content: Content | None) -> str:
    """One text per content, to compare versions (no clock, no dict order involved)."""
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def settle(local: LocalRecord | None, remote: RemoteRecord, rules: MergeRules) -> Settlement:
    """Decide what a record becomes when ``remote`` arrives; pure, so both paths share it.

    A clean local record simply takes the remote version. A dirty one is merged three ways
    against its base; what cannot merge is kept as conflicts with mine in place meanwhile.
    """
    if local is None or not local.dirty:
        return Settlement(remote, remote.content, dirty=False)
    if local.content is None and remote.content is None and local.alone and not remote.alone:
        # Deleted on both sides, here by itself and there with its parent (rev-nest): ours
        # still goes out, over theirs, so every device learns the child was deleted alone and
        # an edit that beats its parent's deletion does not bring it back there.
        return Settlement(remote, None, dirty=True)
    base, mine, theirs = local.base, local.content, remote.content
    stamps = {name: _later(mine, theirs, name) for name in rules.stamps}
    # A mark about a side's whole content is no field: two sides' marks apart (two devices
    # brought one record back as each last had it) are nobody's values to choose between
    # (rev-back: a conflict on two digests was shown to the person).
    apart = (*rules.stamps, *rules.marks)
    result = merge(
        _without(base, apart),
        _without(mine, apart),
        _without(theirs, apart),
        rules.fields,
        rules.append_only,
        local.chosen,
    )
    if result.duplicate is not None:
        # Two entries under one id: the server's stays under it, ours is saved as a new one.
        return Settlement(remote, theirs, dirty=False, flags=result.flags, duplicate=mine)
    content = result.merged
    if content is not None:
        content.update({name: value for name, value in stamps.items() if value is not None})
        content.update(_marks_kept(content, (theirs, mine), apart, rules.marks))
    dirty = canonical(_without(content, rules.stamps)) != canonical(_without(theirs, rules.stamps))
    if not dirty:
        content = theirs
    return Settlement(
        remote,
        content,
        dirty=dirty,
        conflicts=tuple(result.conflicts),
        flags=result.flags,
    )


def _marks_kept(
    content: Content, sides: Iterable[Content | None], apart: Iterable[str], marks: Iterable[str]
) -> dict[str, Any]:
    """The marks of the first of ``sides`` whose content (without ``apart``) the merged
    ``content`` equals; none when it equals neither (merged from both, the marks vouch for
    neither)."""
    merged = canonical(_without(content, apart))
    for side in sides:
        if side is not None and canonical(_without(side, apart)) == merged:
            return {name: side[name] for name in marks if name in side}
    return {}


def _without(content: Content | None, names: Iterable[str]) -> Content | None:
    if content is None:
        return None
    dropped = set(names)
    return {k: v for k, v in content.items() if k not in dropped}


def _later(mine: Content | None, theirs: Content | None, name: str) -> Any:
    # A display stamp only: the later text is shown; it settles nothing else.
    values = [c[name] for c in (mine, theirs) if c is not None and isinstance(c.get(name), str)]
    return max(values) if values else None


class SyncEngine:
    """Reconciles one profile with one server. Not thread-safe: run it on one worker.

    Public calls: ``enroll``, ``sync_once``, ``create_space``, ``invite``, ``pending_members``,
    ``admit``, ``remove_member``, ``change_role``. Conflicts are read and settled through the state
    (``state.conflicts()``, ``state.resolve_conflict``), then pushed by the next sync.
    """

    def __init__(
        self,
        state: SyncState,
        transport: Transport,
        *,
        page_bytes: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        fetch_attachments: bool = True,
        progress: Progress | None = None,
    ) -> None:
        self.state = state
        self.transport = transport
        self.page_bytes = page_bytes
        #: Download files records name after each sync (off: the UI fetches on demand).
        self.fetch_attachments = fetch_attachments
        self.chunks = (
            ChunkTransfer(state, transport, self._authorized, progress)
            if isinstance(state, AttachmentState)
            else None
        )
        self._clock = clock
        self._token: str | None = None
        self._token_until = 0.0
        # Held around every request: the next page is fetched on a worker thread while this
        # one is applied, and a refresh of statements meanwhile waits for it (one session).
        self._wire = threading.RLock()
        self._discovered = False
        #: Many records at once go as sealed batches (PROTOCOL.md §13).
        self.batches = BatchPath(state, transport, self._authorized)
        #: The highest batch format version this app opens (CRYPTO.md §5), declared in every
        #: pull: the server holds the pull before a newer one (PROTOCOL.md §13).
        self.batch_version = BATCH_VERSION

    # --- enrollment and login -------------------------------------------------------------

    def enroll(self, invite_code: str) -> Enrollment:
        """Create this device's keys, register them with a one-time invite, keep them.

        The keys are saved only once the server accepted them, so a failed attempt leaves
        nothing behind and can be retried with the same code.
        """
        code, anchor = split_invite(invite_code)
        keys = DeviceKeys.generate()
        public = keys.public
        request = EnrollRequest(
            code,
            public.sign_key,
            public.box_key,
            keys.sign(enroll_statement(code, public.sign_key, public.box_key)),
        )
        device, spaces = self.transport.enroll(request)
        if device != keys.device_id:
            raise TransportError("the server named another device id than our key's")
        self.state.save_enrollment(self.transport.base_url, keys)
        if anchor is not None:
            self.state.add_anchor(anchor)
            # A space whose chain this profile already holds (a restored admin's hand-over)
            # settles it now: an anchor left waiting would refuse every later first chain.
            for space in self.state.spaces():
                self._anchored(space, MembershipLog.from_blobs(self.state.statements(space)))
        self._discovered = False
        return Enrollment(device, public.fingerprint, tuple(spaces))

    def _keys(self) -> DeviceKeys:
        keys = self.state.device_keys()
        if keys is None:
            raise NotEnrolled()
        return keys

    def _login(self) -> str:
        keys = self._keys()
        challenge = self.transport.challenge(keys.device_id)
        signature = keys.sign(challenge_statement(challenge, keys.device_id))
        self._token = self.transport.token(TokenRequest(keys.device_id, challenge, signature))
        self._token_until = self._clock() + TOKEN_LIFETIME_SECONDS
        return self._token

    def _authorized(self, call: Callable[[str], _T]) -> _T:
        """Run ``call`` with a cached token; log in again once if the server says it expired."""
        with self._wire:
            return self._authorized_now(call)

    def _authorized_now(self, call: Callable[[str], _T]) -> _T:
        token = self._token
        if token is None or self._clock() >= self._token_until:
            token = self._login()
        try:
            return call(token)
        except ServerRefused as refusal:
            if refusal.status != 401 or refusal.code not in (
                ErrorCode.TOKEN_EXPIRED,
                ErrorCode.TOKEN_INVALID,
            ):
                raise
        return call(self._login())

    # --- trust: statements and wraps -------------------------------------------------------

    def _keyring(self, report: SyncReport | None = None) -> tuple[SpaceKeyring, KeyPins]:
        """Rebuild the verified view from the store: every statement and wrap re-checked."""
        keys = self._keys()
        pins = self.state.pins()
        keyring = SpaceKeyring(keys)
        for space in self.state.spaces():
            blobs = self.state.statements(space)
            if blobs:
                keyring.add_log(MembershipLog.from_blobs(blobs, pins))
        for wrap in self.state.wraps():
            try:
                keyring.add_wrap(wrap.space, wrap.epoch, wrap.wrap, wrap.issuer)
            except CryptoError as error:
                if report is not None:
                    report.refused.append(Refusal(wrap.space, "", 0, error.code.value, "wrap"))
        return keyring, pins

    def _refresh_space(
        self, space: str, keyring: SpaceKeyring, pins: KeyPins, report: SyncReport
    ) -> None:
        """Fetch statements after the latest held, then this device's new wraps, verifying all."""
        log = keyring.logs.get(space)
        fresh = log is None
        since = log.latest.version if log is not None else 0
        accepted: list[bytes] = []
        first_use: FirstUse | None = None
        try:
            for _ in range(MAX_PAGES_PER_SYNC):
                page = self._authorized(partial(self.transport.statements, space, since))
                for stored in page.statements:
                    if log is None:
                        # Trust on first use: the genesis names the admin whose fingerprint
                        # members compare out of band.
                        log = MembershipLog(stored.statement, pins)
                        keyring.add_log(log)
                        accepted.append(stored.statement)
                        first_use = self._first_use(space, log)
                    elif log.accept(stored.statement):
                        accepted.append(stored.statement)
                    since = max(since, stored.version)
                if not page.more or not page.statements:
                    break
        except CryptoError as error:
            report.refused.append(Refusal(space, "", since, error.code.value, "statement"))
            if error.code is CryptoErrorCode.MEMBERSHIP_FORK:
                self._forked(space, report)
        finally:
            if log is not None and not self._anchored(space, log) and fresh:
                # The invite this device joined with commits to a statement this chain
                # lacks: another network than the one the admin invited us into (or a
                # truncated chain). Nothing of it is kept; the next sync asks again.
                report.refused.append(Refusal(space, "", since, "anchor_missing", "statement"))
                keyring.logs.pop(space, None)
                accepted, first_use, log = [], None, None
            if accepted:
                self.state.add_statements(space, accepted)
                self.state.save_pins(pins)
            if first_use is not None:
                self.state.trust_on_first_use(first_use)
                report.trusted_spaces.append(first_use)
        if log is None:
            return
        held = [epoch for (s, epoch) in keyring.keys if s == space]
        wraps = self._authorized(
            lambda token: self.transport.wraps(space, max(held, default=0), token)
        )
        for epoch, issuer, blob in wraps:
            try:
                keyring.add_wrap(space, epoch, blob, issuer)
            except CryptoError as error:
                report.refused.append(Refusal(space, "", epoch, error.code.value, "key wrap"))
                continue
            self.state.add_wrap(StoredWrap(space, epoch, issuer, blob))

    def _forked(self, space: str, report: SyncReport) -> None:
        """Two statements claim one place in ``space``'s history: hold its outbox (nothing
        more sealed with a key a removed admin may have chosen) and tell the person."""
        self.state.mark_forked(space)
        if space not in report.forked_spaces:
            report.forked_spaces.append(space)

    def keep_forked(self, space: str) -> None:
        """The person compared this space's safety number with an admin and the digits
        matched: the membership held here is the admin's, so its outbox is released. Records
        sealed under the other branch stay refused; a new one marks the space forked again."""
        self.state.keep_forked(space)

    def held_spaces(self) -> set[str]:
        """Spaces whose edits stay on this computer: first use not confirmed, or forked."""
        return {first.space for first in self.state.spaces_to_confirm()} | (
            self.state.forked_spaces()
        )

    def safety_number(self, space: str) -> tuple[int, str] | None:
        """The latest statement's version and safety number (30 digits): members who hold the
        same one see the same digits; different digits at one version mean a fork."""
        blobs = self.state.statements(space)
        if not blobs:
            return None
        latest = MembershipLog.from_blobs(blobs, self.state.pins()).latest
        return latest.version, str(latest.safety_number)

    def _anchored(self, space: str, log: MembershipLog) -> bool:
        """Whether a chain met for the first time may be kept: it contains the statement the
        invite this device joined with commits to, or every such commitment was already
        found in another space (or the invite carried none: an operator's). Called for every
        chain refreshed, so a commitment is settled by whichever chain holds it."""
        waiting = [anchor for anchor, found in self.state.anchors().items() if found is None]
        if not waiting:
            return True
        for statement in log.statements:
            for anchor in waiting:
                if statement.hash[: len(anchor)] == anchor:
                    self.state.settle_anchor(anchor, space)
                    return True
        return False

    def _first_use(self, space: str, log: MembershipLog) -> FirstUse | None:
        """What the person must compare for a genesis just trusted on first use: its issuing
        admin's fingerprint. A server could substitute a genesis signed by a key it made up;
        only this comparison tells. None when this device issued it (a retried setup)."""
        genesis = log.latest
        issuer = genesis.member(genesis.issuer)
        if issuer is None or issuer.device == self._keys().device_id:
            return None
        return FirstUse(space, issuer.device, str(issuer.keys.fingerprint))

    def spaces_to_confirm(self) -> list[FirstUse]:
        """Spaces trusted on first use whose admin fingerprint the person has not compared."""
        return self.state.spaces_to_confirm()

    def confirm_space(self, space: str) -> None:
        """The person compared the admin's fingerprint with the admin and it matched."""
        self.state.confirm_space(space)

    def refuse_space(self, space: str) -> None:
        """The admin's fingerprint did not match: the genesis may be the server's forgery.
        The space's statements, keys, cursor and unsent entries are forgotten here and the
        space is never discovered again; records already received stay, no longer synced."""
        self.state.refuse_space(space)

    def _discover(self, keyring: SpaceKeyring, pins: KeyPins, report: SyncReport) -> None:
        """Spaces joined on the server (by an invite, or added later) that are new here.

        A space this device administers on the server with no statement yet (an operator's
        ``invite --new-space``) is started here, so a setup cut off halfway — after joining,
        or by an earlier attempt — is finished by the next sync that discovers.
        """
        refused = self.state.refused_spaces()
        for entry in self._authorized(self.transport.spaces):
            space = entry.get("space")
            if space in refused:
                continue  # the person said its admin's fingerprint did not match
            if (
                isinstance(space, str)
                and space not in keyring.logs
                and entry.get("role") == Role.ADMIN.value
                and entry.get("statement") == 0
            ):
                try:
                    log, wrap = self._start_space(space, pins)
                except ServerRefused as refusal:
                    # Another admin of it issued the genesis first: trust theirs below.
                    if refusal.code != ErrorCode.STATEMENT_VERSION_INVALID:
                        raise
                else:
                    keyring.add_log(log)
                    keyring.add_wrap(space, 1, wrap, self._keys().device_id)
            if isinstance(space, str) and keyring.current_key(space) is None:
                self._refresh_space(space, keyring, pins, report)
                if keyring.current_key(space) is None:
                    report.awaiting_key.append(space)
        self._discovered = True

    # --- one sync ---------------------------------------------------------------------------

    def sync_once(self, *, discover: bool = False) -> SyncReport:
        """Push the outbox and pull every space until nothing more: one round trip when idle.

        ``discover`` also asks the server for spaces this device joined since (done anyway on
        the engine's first sync).

        Raises:
            NotEnrolled, Offline, ServerRefused, ProtocolViolation, CertificateMismatch: the
                sync stopped; everything applied so far is kept, the rest comes next time.
        """
        report = SyncReport()
        traffic = self.transport.traffic
        start = (traffic.requests, traffic.bytes_up, traffic.bytes_down)
        if self.chunks is not None:
            self.chunks.report = type(self.chunks.report)()
        # One sync's files share their lanes: each file would otherwise pay its window's
        # handshakes again (a round trip each; 1.2 s on a satellite link).
        kept = self.chunks.lanes_kept_open() if self.chunks is not None else nullcontext()
        try:
            with kept:
                self._sync(report, discover or not self._discovered)
                # Records first, files after: a record is useful at once, its file when it comes.
                if self.chunks is not None and self.fetch_attachments:
                    self.chunks.download_wanted()
        finally:
            if self.chunks is None:
                # The connections pages were asked ahead on (with chunks, their lanes close
                # when the sync's files are done).
                self.transport.close_lanes()
            report.requests = traffic.requests - start[0]
            report.bytes_up = traffic.bytes_up - start[1]
            report.bytes_down = traffic.bytes_down - start[2]
            if self.chunks is not None:
                moved = self.chunks.report
                report.chunks_up, report.chunks_down = moved.chunks_up, moved.chunks_down
                report.chunk_bytes_up, report.chunk_bytes_down = moved.bytes_up, moved.bytes_down
                report.files_received = moved.files_received
                report.attachments_refused = list(moved.refused)
        return report

    def _sync(self, report: SyncReport, discover: bool) -> None:
        keys = self._keys()
        self._confirm_returned(report)
        self._relay(report)
        keyring, pins = self._keyring(report)
        # After an upgrade, what an older version kept sealed opens from the store: the
        # cursor moved past it long ago and nothing needs fetching again.
        report.reopened += self.state.reopen_sealed()
        if discover:
            self._discover(keyring, pins, report)
        else:
            # A space joined but not yet keyed (the admin had not admitted us at discovery):
            # ask for its statements and our wrap each sync until the key comes.
            for space in sorted(keyring.logs):
                if keyring.current_key(space) is None:
                    self._refresh_space(space, keyring, pins, report)
                    if keyring.current_key(space) is None:
                        report.awaiting_key.append(space)
        self.batches.failing_spaces.clear()
        # space -> the newest epoch the server called stale in this sync: nothing is sealed
        # there again until a newer key is held, so a missing wrap cannot make a loop.
        stale: dict[str, int] = {}
        # Another round only when this one left something to push: a merge to send back
        # (so a conflict settles in one sync), a record to re-seal at a newer epoch, or an
        # outbox larger than one request.
        for _ in range(MAX_ROUNDS_PER_SYNC):
            if not self._round(keys, keyring, pins, report, stale):
                break
        for space in sorted(self.state.lost_spaces() & set(report.lost_spaces)):
            if self.state.pending_changes([space], 1) or any(
                entry.space == space for entry in self.state.outbox()
            ):
                report.unsent_lost.append(space)
        for space, epoch in sorted(stale.items()):
            current = keyring.current_key(space)
            if current is None or current[0] <= epoch:
                report.awaiting_key.append(space)
        # Our batches that hold a replaced or deleted version: re-sealed now, so members who
        # join later stop receiving it (CRYPTO.md §5, the bound). An admin's pages also count
        # due batches whose author is no longer a writer: the admin vouches for those in the
        # same look, or a departed author's deleted content would reach newcomers for ever.
        for space in sorted(self.batches.stale_spaces & set(keyring.logs)):
            report.compacted += self.batches.compact(keys, keyring, space, orphaned_too=True)
        self.batches.stale_spaces.clear()

    def compact_batches(self, space: str, *, as_admin: bool = False) -> int:
        """Re-seal the current entries of stale batches now: this device's own, or (an admin,
        ``as_admin``) those whose author is no longer a writer, which the admin then vouches
        for (CRYPTO.md §5). Returns how many records were re-sealed."""
        keyring, _pins = self._keyring()
        return self.batches.compact(self._keys(), keyring, space, as_admin=as_admin)

    def _round(
        self,
        keys: DeviceKeys,
        keyring: SpaceKeyring,
        pins: KeyPins,
        report: SyncReport,
        stale: dict[str, int],
    ) -> bool:
        """One push with the cursors, then pull pages until no space has more. True when a
        merge left a record to push again, a record must be re-sealed at a newer epoch, or the
        outbox did not fit in one request."""
        readable = {space for space in keyring.logs if keyring.current_key(space) is not None}
        # Pulled but never sealed to: a space nobody confirmed (the server may have made it
        # up) or one where a fork was seen (a removed admin may hold its key).
        held = self.held_spaces() & readable
        for space in sorted(held):
            if space not in report.held_spaces:
                report.held_spaces.append(space)
        # A space the server said this device was removed from: its edits stay here rather
        # than being sealed, sent and refused again on every sync.
        lost = self.state.lost_spaces()
        newer: set[str] = set()
        sealable = {
            space
            for space in readable - held - self.batches.failing_spaces - lost
            if (current := keyring.current_key(space)) is not None
            and current[0] > stale.get(space, 0)
        }
        # Many pending records of a space go as batches first (one request each); what is
        # left (few, with attachments) goes as single mutations below.
        outcome = self.batches.push(keys, keyring, sealable)
        if outcome.stale:
            # A batch sealed before the space's current epoch (the key changed while it was
            # kept, or before this device heard): fetch the new key first, then seal those
            # records again as a batch with it, rather than each alone with the old key.
            for space, epoch in outcome.stale.items():
                stale[space] = max(stale.get(space, 0), epoch)
                current = keyring.current_key(space)
                if current is None or current[0] <= epoch:
                    self._refresh_space(space, keyring, pins, report)
            sealable = {
                space
                for space in sealable - self.batches.failing_spaces
                if (current := keyring.current_key(space)) is not None
                and current[0] > stale.get(space, 0)
            }
            resealed = self.batches.push(keys, keyring, set(outcome.stale) & sealable)
            outcome.accepted += resealed.accepted
            outcome.conflicts += resealed.conflicts
            outcome.refused += resealed.refused
            outcome.set_aside += resealed.set_aside
            outcome.failed += resealed.failed
        report.pushed += outcome.accepted
        report.set_aside += outcome.set_aside
        report.push_failed += outcome.failed
        # A space whose batch the server failed on pushes nothing more this sync: its other
        # changes wait with the batch (never sealed around it), while every space is pulled.
        sealable -= self.batches.failing_spaces
        report.rejected.extend(Rejection(s, "", code) for s, code in outcome.refused)
        entries, resent = self._seal_outbox(keys, keyring, sealable)
        if self.chunks is not None:
            # A record that names chunks is pushed after them (else `chunk_missing`).
            for entry in entries:
                self.chunks.upload(entry.space, entry.content)
        cursors = self.state.cursors()
        pull = {space: cursors.get(space, 0) for space in sorted(readable)}
        request = SyncRequest(
            push=tuple(
                Mutation(
                    e.mutation_id,
                    e.space,
                    e.record,
                    e.base,
                    e.blob,
                    e.content is None,
                    referenced_chunks(e.content),
                    read_header(e.blob)[0].epoch,
                )
                for e in entries
            ),
            pull=pull,
            max_bytes=self.page_bytes,
            batches=True,
            batch_version=self.batch_version,
        )
        again = len(entries) >= LIMITS.max_mutations
        # The next page downloads while this one is verified and stored: asked for as soon as
        # an answer's header names its cursors (before its body is in, on another connection,
        # PROTOCOL.md §7 "Pages ahead"), else on a worker once the body says there is more.
        ahead: ThreadPoolExecutor | None = None
        pages = PagesAhead(self.transport, lambda: self._token, self.page_bytes, self.batch_version)
        watched, on_more = pages.watch(request)
        try:
            try:
                response = self._authorized(partial(self.transport.sync, request, on_more=on_more))
            except ServerRefused as refused:
                if refused.status < 500 or not request.push:
                    raise
                # The server (or a proxy) failed on this push: the pulls still go, alone. If it
                # failed after a commit, the pull brings these versions back and they settle
                # clean; otherwise the records, still dirty, are sealed anew next sync (the
                # entries go, as a refused one's do). A pull that fails too is an outage.
                alone = replace(request, push=())
                watched, on_more = pages.watch(alone)
                response = self._authorized(partial(self.transport.sync, alone, on_more=on_more))
                for entry in entries:
                    self.state.drop_outbox(entry.mutation_id)
                report.push_failed += len(entries)
                self.batches.failing_spaces.update(entry.space for entry in entries)
                entries, again = [], False
            for _ in range(MAX_PAGES_PER_SYNC):
                # A space held before a batch too new to open asks for no page after it in
                # this sync: one attempt per sync, never a loop of requests.
                newer.update(s for s, p in response.spaces.items() if self._too_new(p))
                more = {
                    space: page.cursor
                    for space, page in response.spaces.items()
                    if space in pull and page.error is None and page.more and space not in newer
                }
                following: Future[SyncResponse] | None = None
                early = False
                if more:
                    taken = pages.take(watched, more)
                    if taken is not None:
                        (following, watched), early = taken, True
                    else:
                        asked = pages.request(more)
                        watched, on_more = pages.watch(asked)
                        ahead = ahead or ThreadPoolExecutor(1, thread_name_prefix="minga-pull")
                        following = ahead.submit(
                            self._authorized, partial(self.transport.sync, asked, on_more=on_more)
                        )
                again |= self._apply_results(
                    entries, response, keyring, pins, report, stale, entries[:resent]
                )
                entries = []
                for space, page in response.spaces.items():
                    if space not in pull:
                        continue  # an answer for a space we did not ask about is ignored
                    if page.error is not None:
                        if page.error is ErrorCode.SPACE_NOT_FOUND:
                            if space not in report.lost_spaces:
                                report.lost_spaces.append(space)
                            if space not in lost:
                                self.state.mark_lost(space, True)
                                lost.add(space)
                        continue
                    if space in lost:
                        # Answered again (let back in): its edits go from the next round.
                        self.state.mark_lost(space, False)
                        lost.discard(space)
                    again |= self._apply_page(space, page, keyring, pins, report)
                if following is None:
                    break
                try:
                    response = following.result()
                except ServerRefused as refused:
                    if not (early and expired(refused)):
                        raise
                    # Asked ahead with a token that expired meanwhile: again, logging in.
                    asked = pages.request(more)
                    watched, on_more = pages.watch(asked)
                    response = self._authorized(
                        partial(self.transport.sync, asked, on_more=on_more)
                    )
                pull = more
        finally:
            if ahead is not None:
                # A failure while applying: the page fetched ahead is dropped (its cursor was
                # never stored), after its request ends.
                ahead.shutdown(wait=True, cancel_futures=True)
            pages.close()
        # Only once every page is in: a parent's deletion and its children's may come in
        # different pages, and what belongs together is judged on all of them.
        restored = self.state.keep_together()
        report.restored += restored
        put_back = 0
        if self.chunks is not None and isinstance(self.state, AttachmentState):
            # A file marked gone elsewhere that this vault holds goes up again with its record.
            put_back = self.state.put_back_gone()
            report.files_put_back += put_back
        return again or restored > 0 or put_back > 0

    def _apply_results(
        self,
        entries: list[OutboxEntry],
        response: SyncResponse,
        keyring: SpaceKeyring,
        pins: KeyPins,
        report: SyncReport,
        stale: dict[str, int],
        resent: Sequence[OutboxEntry] = (),
    ) -> bool:
        """The answers to one push: every accepted entry in one transaction, then the others
        one by one. True when a merge or a newer epoch left a record to push again, or an
        entry sent again (``resent``: unanswered before) was taken for a record changed or
        deleted here since."""
        answered = list(zip(entries, response.results, strict=True))
        accepted: list[Accepted] = []
        for entry, result in answered:
            if result.id != entry.mutation_id:
                raise TransportError("the server answered mutations out of order")
            if result.status is MutationStatus.ACCEPTED and result.code != ErrorCode.STALE_EPOCH:
                if result.revision is None:
                    raise ProtocolViolation("an accepted mutation without its revision")
                accepted.append(Accepted(entry, result.revision, result.seq or 0))
        if accepted:
            self.state.apply_accepted_all(accepted)
            report.pushed += len(accepted)
        again = self._changed_since_sealed(accepted, {e.mutation_id for e in resent})
        for entry, result in answered:
            if result.code == ErrorCode.STALE_EPOCH:
                again |= self._resealable(entry, keyring, pins, report, stale)
            elif result.status is not MutationStatus.ACCEPTED:
                again |= self._apply_result(entry, result, keyring, report, pins)
        return again

    def _changed_since_sealed(self, accepted: Sequence[Accepted], resent: set[str]) -> bool:
        """True when an entry sent again as it was sealed (after a lost answer or a crash) was
        taken for a record changed or deleted here since: the change goes in the next round of
        this sync, and with a child's deletion the incident's that waited for it (the store's
        ``pending_changes``: a deletion goes out whole)."""
        taken = [a.entry for a in accepted if a.entry.mutation_id in resent]
        for space in sorted({entry.space for entry in taken}):
            held = self.state.local_records(space, [e.record for e in taken if e.space == space])
            if any(record.dirty for record in held.values()):
                return True
        return False

    def _resealable(
        self,
        entry: OutboxEntry,
        keyring: SpaceKeyring,
        pins: KeyPins,
        report: SyncReport,
        stale: dict[str, int],
    ) -> bool:
        """The server says ``entry`` was sealed before the space's current epoch: a removed
        device may hold that key. Drop it (the record stays dirty, so a crash here loses
        nothing), fetch the new statements and wraps; True when the next round can re-seal it
        at the new epoch under a new mutation id."""
        self.state.drop_outbox(entry.mutation_id)
        sealed_at = read_header(entry.blob)[0].epoch
        stale[entry.space] = max(stale.get(entry.space, 0), sealed_at)
        current = keyring.current_key(entry.space)
        if current is None or current[0] <= sealed_at:
            self._refresh_space(entry.space, keyring, pins, report)
            current = keyring.current_key(entry.space)
        return current is not None and current[0] > sealed_at

    def _seal_outbox(
        self, keys: DeviceKeys, keyring: SpaceKeyring, readable: set[str]
    ) -> tuple[list[OutboxEntry], int]:
        """The sealed entries still unanswered, then new ones for every other pending change;
        and how many of them were unanswered."""
        entries = [e for e in self.state.outbox() if e.space in readable]
        room = LIMITS.max_mutations - len(entries)
        if room <= 0:
            return entries[: LIMITS.max_mutations], LIMITS.max_mutations
        sealed: list[OutboxEntry] = []
        for change in self.state.pending_changes(sorted(readable), room):
            current = keyring.current_key(change.space)
            if current is None:
                continue
            latest = keyring.logs[change.space].latest
            sealed.append(self._seal(change, keys, *current, (latest.version, latest.hash)))
        # Stored before anything is sent: after a crash or a lost answer the same ids go again.
        self.state.add_outbox(sealed)
        return entries + sealed, len(entries)

    @staticmethod
    def _seal(
        change: PendingChange,
        keys: DeviceKeys,
        epoch: int,
        space_key: bytes,
        statement: tuple[int, bytes],
    ) -> OutboxEntry:
        common: dict[str, Any] = {
            "space": change.space,
            "record": change.record,
            "revision": change.base + 1,
            "base": change.base,
            "epoch": epoch,
            "space_key": space_key,
            "author": keys,
            # Format 2: bound to the statement held, committed to the key (CRYPTO.md §2).
            "statement": statement,
        }
        blob = (
            # Every known fact, true or false: all tombstones the same length (CRYPTO.md §2).
            seal_tombstone(**common, facts={"alone": change.alone})
            if change.content is None
            else seal_record(change.content, **common)
        )
        return OutboxEntry(
            secrets.token_urlsafe(16),
            change.space,
            change.record,
            change.base,
            blob,
            change.content,
        )

    def _apply_result(
        self,
        entry: OutboxEntry,
        result: Any,
        keyring: SpaceKeyring,
        report: SyncReport,
        pins: KeyPins | None = None,
    ) -> bool:
        """Apply one answer other than accepted (``_apply_results`` stores those together);
        True when a merge left the record to push again."""
        if result.status is MutationStatus.CONFLICT:
            current = result.current
            if current is None or current.record != entry.record:
                if current is not None:
                    # Another record's state offered as this one's: never honest, reported.
                    report.refused.append(
                        Refusal(
                            entry.space,
                            entry.record,
                            current.revision,
                            CryptoErrorCode.WRONG_RECORD.value,
                            "conflict answer",
                        )
                    )
                # Nothing to merge with: drop the sealed entry; the pull brings the record.
                self.state.drop_outbox(entry.mutation_id)
                return False
            held = self.state.local_record(entry.space, entry.record)
            if current.revision <= max(entry.base, held.revision if held is not None else 0):
                # A compare-and-swap fails only against a newer revision: an older one offered
                # as "current" is a rollback. The edit stays dirty and goes again next sync.
                report.refused.append(
                    Refusal(entry.space, entry.record, current.revision, "rolled_back")
                )
                self.state.drop_outbox(entry.mutation_id)
                return False
            remote = self._verify(entry.space, current, keyring, report, pins)
            if remote is None:
                self.state.drop_outbox(entry.mutation_id)
                return False
            local = self.state.local_record(entry.space, entry.record)
            rules = self._rules(local, remote)
            settlement = settle(local, remote, rules)
            self.state.apply_conflict(entry, settlement)
            self._count(settlement, report)
            return settlement.dirty
        self.state.drop_outbox(entry.mutation_id)
        if result.code == ErrorCode.CHUNK_MISSING and isinstance(self.state, AttachmentState):
            # Collected since we saw them: the next sync asks about them again and re-sends.
            self.state.forget_held(entry.space, list(result.missing))
            # Only the chunks of a file this record claims: an answer naming none of them (a
            # record without a file, or one already marked gone) is a rejection like any
            # other, not a reason to mark anything gone (a server may answer falsely).
            claimed = set(referenced_chunks(entry.content)) & set(result.missing)
            if (
                claimed
                and self.chunks is not None
                and not self.chunks.can_send(entry.space, entry.content, result.missing)
            ):
                # Not in this vault either (a file brought back over its deletion, its bytes
                # erased where it was deleted): the record goes without them, marked gone, in
                # the next round, instead of being refused at every sync.
                self.state.mark_gone(entry.space, entry.record)
                report.files_gone += 1
                return True
        report.rejected.append(Rejection(entry.space, entry.record, str(result.code or "rejected")))
        return False

    def _rules(self, local: LocalRecord | None, remote: RemoteRecord) -> MergeRules:
        if local is not None:
            return local.rules
        return self.state.rules_for(remote.content) if remote.content else MergeRules()

    @staticmethod
    def _count(settlement: Settlement, report: SyncReport) -> None:
        report.pulled += 1
        report.conflicts += len(settlement.conflicts)
        report.flags += len(settlement.flags)

    def _apply_page(
        self,
        space: str,
        page: SpacePage,
        keyring: SpaceKeyring,
        pins: KeyPins,
        report: SyncReport,
    ) -> bool:
        """Verify, settle and store one page with its cursor; True if a merge left work."""
        log = keyring.logs[space]
        held_epoch = max((epoch for (s, epoch) in keyring.keys if s == space), default=0)
        if page.statement > log.latest.version or page.epoch > held_epoch:
            self._refresh_space(space, keyring, pins, report)
        if page.held and space not in report.needs_newer:
            # An honest server held this app before a batch too new for it: its person is
            # told to update (its edits of those records go unanswered until then).
            report.needs_newer.append(space)
        held_at = self._too_new(page)
        if held_at is not None:
            # A batch of a version this app does not open (a server that ignored the version
            # declared, or one older than it): everything before it is applied, and the cursor
            # stays before it, never past, so an upgraded app gets it from there.
            after = self.state.cursors().get(space, 0)
            page = replace(
                page,
                changes=tuple(c for c in page.changes if c.seq < held_at),
                cursor=max(after, min(page.cursor, held_at - 1)),
                more=False,
                batches=tuple(d for d in page.batches if not self._too_new_batch(d)),
            )
            if space not in report.needs_newer:
                report.needs_newer.append(space)
        settlements: list[Settlement] = []
        changes = list(page.changes)
        batched: dict[tuple[str, int], RemoteRecord] = {}
        if page.stale:
            self.batches.stale_spaces.add(space)
        if page.batches:
            after = self.state.cursors().get(space, 0)
            for delivery in page.batches:
                delivered = self._open_delivery(space, delivery, keyring, pins, report, after, page)
                if delivered is not None:
                    changes.extend(delivered.changes)
                    batched.update({(r.record, r.seq): r for r in delivered.records.values()})
            changes.sort(key=lambda c: c.seq)
        # One read for the page's records (the store remembers what it read, to notice an
        # edit saved here before the page is stored).
        held = self.state.local_records(space, [change.record for change in changes])
        # A page is stored at once: a record stated twice in it (a hostile server's older
        # batch entry after the newer version) must meet what the page already settled.
        settled: dict[str, int] = {}
        for change in changes:
            local = held.get(change.record)
            newest = max(local.revision if local is not None else 0, settled.get(change.record, 0))
            if newest and change.revision <= newest:
                if change.revision < newest:
                    # The server keeps only a record's newest state: an older one is a rollback.
                    report.refused.append(
                        Refusal(space, change.record, change.revision, "rolled_back")
                    )
                continue  # our own push echoed back, or a version already merged
            remote = batched.get((change.record, change.seq)) if change.blob is None else None
            if remote is None:
                remote = self._verify(space, change, keyring, report, pins)
            if remote is None:
                continue
            settlement = settle(local, remote, self._rules(local, remote))
            settlements.append(settlement)
            settled[change.record] = change.revision
            self._count(settlement, report)
        self.state.apply_page(space, page.cursor, settlements)
        return any(settlement.dirty for settlement in settlements)

    def _too_new_batch(self, delivery: BatchDelivery) -> bool:
        blob = delivery.batch
        return blob[: len(BATCH_MAGIC)] == BATCH_MAGIC and (
            len(blob) > len(BATCH_MAGIC) and blob[len(BATCH_MAGIC)] > self.batch_version
        )

    def _too_new(self, page: SpacePage) -> int | None:
        """The first seq of ``page`` held in a batch of a version this app does not open."""
        seqs = [
            seq
            for delivery in page.batches
            if self._too_new_batch(delivery)
            for _first, seq, _count in delivery.live
        ]
        return min(seqs) if seqs else None

    def _open_delivery(
        self,
        space: str,
        delivery: BatchDelivery,
        keyring: SpaceKeyring,
        pins: KeyPins,
        report: SyncReport,
        after: int,
        page: SpacePage,
    ) -> Delivered | None:
        """Verify a delivered batch (CRYPTO.md §5), or refuse it whole by name."""
        try:
            try:
                return open_delivery(space, delivery, keyring, after, page.cursor)
            except CryptoError as error:
                if error.code is not CryptoErrorCode.STATEMENT_UNKNOWN:
                    raise
                self._refresh_space(space, keyring, pins, report)
                return open_delivery(space, delivery, keyring, after, page.cursor)
        except CryptoError as error:
            if error.code is CryptoErrorCode.MEMBERSHIP_FORK:
                self._forked(space, report)
            if error.code is CryptoErrorCode.KEY_UNAVAILABLE:
                report.unreadable += sum(run[2] for run in delivery.live)
            else:
                report.refused.append(Refusal(space, "", 0, error.code.value, "batch"))
            return None

    def _verify(
        self,
        space: str,
        change: Change,
        keyring: SpaceKeyring,
        report: SyncReport,
        pins: KeyPins | None = None,
    ) -> RemoteRecord | None:
        """Open a delivered blob as exactly what the server says it is, or refuse it.

        A record sealed under a statement not held yet has the space's statements fetched
        once (``pins`` given) and is opened again; one sealed under another statement at a
        version held marks the space forked."""
        if change.blob is None:
            # Our clients always sign deletions; an unsigned one could come from anybody.
            report.refused.append(
                Refusal(space, change.record, change.revision, "unsigned_tombstone")
            )
            return None

        def opened_now() -> OpenedRecord:
            assert change.blob is not None
            return open_record(
                change.blob,
                space=space,
                record=change.record,
                revision=change.revision,
                keys=keyring,
                author=change.author,
            )

        try:
            try:
                opened = opened_now()
            except CryptoError as error:
                if error.code is not CryptoErrorCode.STATEMENT_UNKNOWN or pins is None:
                    raise
                self._refresh_space(space, keyring, pins, report)
                opened = opened_now()
        except CryptoError as error:
            if error.code is CryptoErrorCode.MEMBERSHIP_FORK:
                self._forked(space, report)
            if error.code is CryptoErrorCode.KEY_UNAVAILABLE:
                report.unreadable += 1
            else:
                report.refused.append(
                    Refusal(space, change.record, change.revision, error.code.value, error.detail)
                )
            return None
        if opened.deleted != change.deleted:
            report.refused.append(
                Refusal(space, change.record, change.revision, "content_mismatch", "deleted flag")
            )
            return None
        content = opened.content
        if content is not None and (
            content.get("id") != change.record or content.get("space_id") != space
        ):
            # Signed by a member, but claiming another identity inside: refuse, never guess.
            report.refused.append(
                Refusal(space, change.record, change.revision, "content_mismatch", "identity")
            )
            return None
        return RemoteRecord(
            space,
            change.record,
            change.revision,
            change.author,
            content,
            change.blob,
            change.seq,
            alone=opened.alone,
        )

    # --- for courier bundles (bundles.py): the same trust, sealing and checks, no network ----

    def authorized(self, call: Callable[[str], _T]) -> _T:
        """Run ``call`` with a token (logging in as needed), as every request of the engine."""
        return self._authorized(call)

    def _relay(self, report: SyncReport) -> None:
        """Carried mutations go first, before this device's own push: a merge of them made
        here then meets them on the server instead of racing them."""
        from sync.client.carry import CarryState
        from sync.client.courier import relay_carried

        if not isinstance(self.state, CarryState):
            return
        pending = self.state.carried(pending_only=True)
        if not pending:
            return
        if self.chunks is not None and isinstance(self.state, AttachmentState):
            # The files of carried edits first (they came in the bundle), as for our own.
            for carried in pending:
                if carried.mutation.chunks:
                    self._send_carried_chunks(carried.mutation.space, carried.mutation)
        relayed = relay_carried(self.state, self.transport, self._authorized)
        report.relayed = relayed.accepted
        report.relay_conflicts = relayed.conflicts
        report.relay_rejected = [Rejection(*item) for item in relayed.rejected]

    def _confirm_returned(self, report: SyncReport) -> None:
        """Own changes a bundle brought back, handed in as they were before anything else:
        only the server's answer confirms them (PROTOCOL.md §12.3). Accepted (also an id it
        took before, from a courier): their versions are the server's. Otherwise the server
        never took them and will not as they are: their records are reopened against the base
        they started from, so this sync's push merges them with the server's version."""
        from sync.client.carry import CarryState
        from sync.client.courier import push_own

        if not isinstance(self.state, CarryState):
            return
        returned = self.state.returned()
        if not returned:
            return
        confirmed: list[tuple[Mutation, int, int]] = []
        reopened: list[str] = []
        # A record's later change was sealed on its earlier one: it goes only once the earlier
        # is accepted. Sent where the earlier was not taken, its base could be another
        # device's version of that revision, which it would overwrite.
        chains: dict[str, list[Mutation]] = {}
        for mutation in returned:  # oldest first per record
            chains.setdefault(mutation.record, []).append(mutation)
        while chains:
            batch = [chain.pop(0) for chain in chains.values()]
            try:
                answered = push_own(batch, self.transport, self._authorized)
            except ServerRefused as refusal:
                if refusal.status == 429 or refusal.status >= 500:
                    raise  # busy or failing: asked again at the next sync, as any request
                # The route refused (a server from before couriers): the changes go as
                # ordinary unsent edits instead, judged by the same compare-and-swap.
                reopened.extend(m.id for m in batch)
                reopened.extend(m.id for chain in chains.values() for m in chain)
                break
            for mutation, result in answered:
                if result.status is MutationStatus.ACCEPTED and result.revision and result.seq:
                    confirmed.append((mutation, result.revision, result.seq))
                else:
                    reopened.append(mutation.id)
                    reopened.extend(m.id for m in chains[mutation.record])
                    chains[mutation.record] = []
            chains = {record: chain for record, chain in chains.items() if chain}
        self.state.confirm_returned(confirmed)
        self.state.reopen_returned(reopened)
        report.own_confirmed += len(confirmed)
        report.own_reopened += len(reopened)

    def verified_view(self, report: SyncReport | None = None) -> tuple[SpaceKeyring, KeyPins]:
        """The keyring and pins rebuilt from the store, every statement and wrap re-verified."""
        return self._keyring(report)

    def _send_carried_chunks(self, space: str, mutation: Mutation) -> None:
        """The chunks a carried mutation names, from the vault (its file was assembled here)
        or as received; a refusal (not a writer there) leaves the server to say chunk_missing."""
        assert self.chunks is not None and isinstance(self.state, AttachmentState)
        try:
            local = self.state.local_record(space, mutation.record)
            if local is not None and set(referenced_chunks(local.content)) == set(mutation.chunks):
                self.chunks.upload(space, local.content)
                return
            held = self.state.chunks_held(space)
            for address in mutation.chunks:
                received = self.state.received(space, address)
                if address not in held and received is not None and received[1]:
                    self.chunks.send(space, address, received[0])
        except ServerRefused:
            return

    def seal_all_pending(self, keyring: SpaceKeyring) -> list[OutboxEntry]:
        """Seal every dirty record of a space this device holds the current key for, exactly
        as a sync would (committed to the outbox first), and return the whole outbox."""
        keys = self._keys()
        # Nothing sealed into a space not confirmed yet, or forked (as in a sync), and what was
        # sealed there before is not handed to a courier either.
        held = self.held_spaces()
        sealable = sorted(
            s for s in keyring.logs if keyring.current_key(s) is not None and s not in held
        )
        while True:
            sealed = []
            for change in self.state.pending_changes(sealable, LIMITS.max_mutations):
                current = keyring.current_key(change.space)
                if current is not None:
                    latest = keyring.logs[change.space].latest
                    statement = (latest.version, latest.hash)
                    sealed.append(self._seal(change, keys, *current, statement))
            if not sealed:
                break
            self.state.add_outbox(sealed)
        return [entry for entry in self.state.outbox() if entry.space not in held]

    def verify_change(
        self, space: str, change: Change, keyring: SpaceKeyring, report: SyncReport
    ) -> RemoteRecord | None:
        """Open a change exactly as a pulled one is opened, or report why not (None)."""
        return self._verify(space, change, keyring, report)

    def merge_rules(self, local: LocalRecord | None, remote: RemoteRecord) -> MergeRules:
        return self._rules(local, remote)

    # --- travel mode (issue 16) ------------------------------------------------------------

    def leave_spaces(self, spaces: list[str], verifier: bytes) -> None:
        """Ask the server to answer this device as an outsider in ``spaces`` until it returns
        with the token whose SHA-256 is ``verifier``. The local forgetting is the store's:
        with no statement or key held here, no sync asks for them, and discovery never lists
        them, so the engine needs no list of them (a list would name them)."""
        self._authorized(lambda token: self.transport.leave_spaces(spaces, verifier, token))

    def return_to_spaces(self, return_token: bytes) -> list[str]:
        """Lift the away marks; the next sync with ``discover`` brings the spaces back."""
        spaces = self._authorized(
            lambda token: self.transport.return_to_spaces(return_token, token)
        )
        self._discovered = False
        return spaces

    # --- admin operations ------------------------------------------------------------------

    def create_space(self, space: str | None = None) -> str:
        """Create a space on the server with this device as its admin: genesis statement,
        first key, own wrap. ``space`` may be chosen offline (record envelopes bind it)."""
        self._keys()  # NotEnrolled before anything is sent
        space = space or secrets.token_hex(16)
        try:
            self._authorized(lambda token: self.transport.create_space(space, token))
        except ServerRefused as refusal:
            # An operator may have created it (`minga-server invite --new-space`) for us.
            if refusal.code != ErrorCode.SPACE_EXISTS or not self._is_admin_on_server(space):
                raise
        self._start_space(space, self.state.pins())
        return space

    def _start_space(self, space: str, pins: KeyPins) -> tuple[MembershipLog, bytes]:
        """The genesis statement, the first key and this device's wrap, sent and kept.

        The wrap goes first: cut off before the statement, the next attempt issues a new
        genesis and key and replaces the wrap (the server takes epoch 1 again while no
        statement exists); the other way round the key would be lost with a statement stored.
        """
        keys = self._keys()
        change = create_space_statement(space, keys)
        log = MembershipLog(change.statement.blob, pins)
        version = change.statement.version
        wrap = change.wraps[keys.device_id]
        self._authorized(lambda token: self.transport.put_wraps(space, 1, change.wraps, token))
        self._authorized(
            lambda token: self.transport.put_statement(space, version, change.statement.blob, token)
        )
        self.state.add_statements(space, [change.statement.blob])
        self.state.add_wrap(StoredWrap(space, 1, keys.device_id, wrap))
        self.state.save_pins(pins)
        return log, wrap

    def _is_admin_on_server(self, space: str) -> bool:
        return any(
            entry.get("space") == space and entry.get("role") == Role.ADMIN.value
            for entry in self._authorized(self.transport.spaces)
        )

    def invite(self, space: str, role: Role = Role.EDITOR, ttl: int = 7 * 86400) -> str:
        """A one-time invite code into ``space``; the new device is admitted with ``admit``.

        The code the person hands over is the server's code followed by a commitment to the
        space's current statement (CRYPTO.md §4, "Invites"): the newcomer refuses a chain
        without that statement. The role chosen here is kept on this device and is the role
        the newcomer is admitted with, whatever the server lists.
        """
        _keys, log, _key = self._admin_view(space)
        code = normalize_invite(
            self._authorized(lambda token: self.transport.create_invite(space, role, ttl, token))
        )
        self.state.add_invite(LocalInvite(code, space, role, log.latest.hash))
        return format_invite(code + anchor_text(log.latest.hash))

    def pending_members(self, space: str) -> list[PendingMember]:
        """Devices the server lists in ``space`` that no statement admits yet."""
        keyring, _pins = self._keyring()
        log = keyring.logs.get(space)
        if log is None:
            raise SpaceNotReady(space)
        found = []
        for entry in self._authorized(lambda token: self.transport.members(space, token)):
            device = entry.get("device")
            if not isinstance(device, str) or log.latest.member(device) is not None:
                continue
            keys = DevicePublicKeys.claimed_by(device, entry["sign_key"], entry["box_key"])
            found.append(PendingMember(space, device, self._invited_role(space), keys))
        return found

    def _invited_role(self, space: str) -> Role:
        """The role a newcomer is admitted with: the one this admin chose when inviting, never
        the one the server lists (a server could turn an invited editor into an admin behind
        the same "digits match" button). Which invite a device used only the server knows, so
        with invites of several roles open the least of them is offered; the admin raises it
        after admission. No invite made here (an operator's): reader."""
        roles = {invite.role for invite in self.state.invites(space)}
        return min(roles, key=_ROLE_RANK.__getitem__, default=Role.READER)

    def admit(
        self, space: str, members: Iterable[PendingMember], *, new_epoch: bool = False
    ) -> int:
        """Issue a statement adding ``members`` (fingerprints compared) and wrap them the key.

        ``new_epoch``: start a new key with the admission, wrapped to everyone, so the
        newcomers read nothing sealed before they came (records not edited since stay
        unreadable to them)."""
        keys = self._keys()
        keyring, pins = self._keyring()
        log = keyring.logs.get(space)
        current = keyring.current_key(space)
        if log is None or current is None:
            raise SpaceNotReady(space)
        add = {m.device: (m.keys, m.role) for m in members}
        if not add:
            return 0
        for public, _role in add.values():
            pins.check(public)
        change = change_members(log, keys, space_key=current[1], add=add, rotate=new_epoch)
        self._publish(space, log, change.statement.blob, change.statement.epoch, change.wraps)
        self.state.save_pins(pins)
        open_invites = self.state.invites(space)
        for member in members:
            # One invite of that role is spent: the roles left are those still to come.
            spent = next((i for i in open_invites if i.role is member.role), None)
            if spent is not None:
                open_invites.remove(spent)
                self.state.drop_invite(spent.code)
        return len(add)

    def remove_member(self, space: str, device: str) -> int:
        """Remove ``device`` and start a new epoch wrapped only to those who stay.

        Returns the new epoch. The removed device keeps what it could read before; nothing
        sealed after this (by members who synced since) opens with its keys.
        """
        keys, log, space_key = self._admin_view(space)
        try:
            self._authorized(lambda token: self.transport.remove_member(space, device, token))
        except ServerRefused as refusal:
            if refusal.code != ErrorCode.MEMBER_NOT_FOUND:
                raise
        if log.latest.member(device) is None:
            return log.latest.epoch  # a retry after the statement went out: nothing more to do
        change = change_members(log, keys, space_key=space_key, remove=[device])
        self._publish(space, log, change.statement.blob, change.statement.epoch, change.wraps)
        return change.statement.epoch

    def _admin_view(self, space: str) -> tuple[DeviceKeys, MembershipLog, bytes]:
        """This device's keys, the space's verified log and current key, after reading what
        the server holds: a retry after a lost answer then sees its own statement and wraps
        instead of building a fork of them."""
        keys = self._keys()
        keyring, pins = self._keyring()
        if space in keyring.logs:
            self._refresh_space(space, keyring, pins, SyncReport())
        log = keyring.logs.get(space)
        current = keyring.current_key(space)
        if log is None or current is None:
            raise SpaceNotReady(space)
        return keys, log, current[1]

    def change_role(self, space: str, device: str, role: Role) -> int:
        """Give ``device`` another role in ``space``: a signed statement and the server's role.

        A promotion keeps the epoch; a demotion (losing write or admin) starts a new one,
        wrapped to every member, the demoted one included (readers read), because authority
        is per epoch. Whatever grants a right goes second and whatever takes one away goes
        first, so a failure halfway leaves the server stricter than the statements and never
        the reverse; calling again finishes the change. Returns the epoch now current.

        Raises:
            LastAdmin: ``device`` is the only admin and ``role`` is not admin (nothing sent).
            OwnRole: ``device`` is this device (nothing sent).
            NotAMember: ``device`` is not in the latest statement.
            SpaceNotReady, ServerRefused, Offline.
        """
        keys, log, space_key = self._admin_view(space)
        member = log.latest.member(device)
        if member is None:
            raise NotAMember(device)
        admins = {m.device for m in log.latest.members if m.role is Role.ADMIN}
        if role is not Role.ADMIN and admins == {device}:
            raise LastAdmin(device)
        if device == keys.device_id:
            raise OwnRole(device)

        def on_server() -> None:
            self._authorized(lambda token: self.transport.put_member(space, device, role, token))

        if member.role is role:
            on_server()  # a retry after the statement went out: finish the server's side
            return log.latest.epoch
        change = change_members(log, keys, space_key=space_key, roles={device: role})
        statement = change.statement
        # Taking a right away: the server first, so it refuses the member's writes before
        # the statement says so; granting one: the statement first, so nobody refuses
        # writes the server already takes.
        server_first = loses_rights(member.role, role)
        if server_first:
            on_server()
        self._publish(space, log, statement.blob, statement.epoch, change.wraps)
        if not server_first:
            on_server()
        return statement.epoch

    def _publish(
        self,
        space: str,
        log: MembershipLog,
        statement: bytes,
        epoch: int,
        wraps: Mapping[str, bytes],
    ) -> None:
        log.accept(statement)
        version = log.latest.version
        # Wraps before the statement: cut off between the two, members hold a wrap they cannot
        # verify yet (refused, harmless) and a retry replaces it; the other way round they would
        # trust a statement whose epoch key nobody can ever get.
        if wraps:
            self._authorized(lambda token: self.transport.put_wraps(space, epoch, wraps, token))
        self._authorized(
            lambda token: self.transport.put_statement(space, version, statement, token)
        )
        self.state.add_statements(space, [statement])
        own = wraps.get(self._keys().device_id)
        if own is not None:
            self.state.add_wrap(StoredWrap(space, epoch, self._keys().device_id, own))


__all__ = [
    "Enrollment",
    "FieldConflict",
    "FirstUse",
    "LastAdmin",
    "MergeFlag",
    "NotAMember",
    "NotEnrolled",
    "OwnRole",
    "PendingMember",
    "Refusal",
    "Rejection",
    "SpaceNotReady",
    "SyncEngine",
    "SyncReport",
    "canonical",
    "settle",
]
