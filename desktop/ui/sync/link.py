"""One open profile's connection to its server: the engine, built from the profile's settings.

Every engine call goes through :meth:`SyncLink.run`, so a sync and an admin action never overlap.
A sync also brings the files of materials this device keeps offline and indexes new PDFs' text;
:meth:`SyncLink.download` fetches one material file on demand.
"""

from __future__ import annotations

__all__ = ["SyncLink", "join_error_message", "sync_error_message"]

import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy import func, select

from desktop.domain.network_records import MaterialFile
from desktop.store.materials import MaterialStore
from desktop.store.profile import Profile
from desktop.store.schema import RecordRow
from desktop.store.sync_state import ProfileSyncState
from desktop.ui.pdf_text import index_pending_texts
from desktop.ui.sync_messages import sync_error_message
from sync.client.engine import NotEnrolled, SyncEngine, SyncReport
from sync.client.transport import (
    ConnectionSettings,
    ServerRefused,
    Transport,
)
from sync.protocol import ErrorCode

_T = TypeVar("_T")


def connection_settings(settings: Mapping[str, Any]) -> ConnectionSettings:
    """The transport's settings from the profile's: an empty proxy or pin means none."""
    proxy = str(settings.get("sync_proxy") or "").strip() or None
    pin = str(settings.get("sync_certificate_pin") or "").replace(":", "").replace(" ", "")
    return ConnectionSettings(proxy=proxy, pinned_sha256=pin.lower() or None)


class SyncLink:
    """The profile's ``SyncEngine`` behind a lock; called from worker threads only.

    The engine is not thread-safe, and jobs may run on different workers one after another:
    the lock makes every call wait for the one before, whichever thread it came from.
    """

    def __init__(self, profile: Profile, settings: Mapping[str, Any]) -> None:
        self.profile = profile
        # With the vault, evidence files travel too; without it only records would.
        self.state = ProfileSyncState(profile.engine, profile.attachments)
        self._lock = threading.Lock()
        self._connection = connection_settings(settings)
        self._engine: SyncEngine | None = None

    def configure(self, settings: Mapping[str, Any]) -> None:
        """New proxy or pin: the next call builds a new transport with them."""
        self.abandon()  # the old transport's waits end: the new settings apply sooner
        with self._lock:
            self._connection = connection_settings(settings)
            self._drop_engine()

    def run(self, call: Callable[[SyncEngine], _T], server_url: str | None = None) -> _T:
        """``call(engine)`` for the enrolled server (or ``server_url`` when joining one)."""
        with self._lock:
            url = server_url or self.state.server_url()
            if url is None:
                raise NotEnrolled()
            url = url.strip().rstrip("/")
            if self._engine is None or self._engine.transport.base_url != url:
                self._drop_engine()
                self._engine = SyncEngine(self.state, Transport(url, self._connection))
            return call(self._engine)

    def sync(self) -> SyncReport:
        """One sync, then the pinned materials' files it did not get, then new PDFs' text.

        ``sync_once`` already fetches evidence and pinned materials' files (at most 100 per
        sync); the pass after it picks up the rest, so pinning a large group finishes in one
        sync. Everything runs on this worker: the person keeps working meanwhile.
        """
        materials = MaterialStore.of(self.profile)
        materials.adopt_legacy_files()  # files from before files traveled go with this sync

        def sync_and_fetch(engine: SyncEngine) -> SyncReport:
            report = engine.sync_once()
            if engine.chunks is not None:
                for ref in materials.wanted():
                    if engine.chunks.download(ref):
                        report.files_received += 1
            return report

        report = self.run(sync_and_fetch)
        index_pending_texts(self.profile)
        return report

    def download(self, file: MaterialFile) -> bool:
        """Fetch one material file now (not kept offline, asked for); ``False`` if refused.

        Raises:
            Offline: the server cannot be reached (the file needs a connection).
            NotEnrolled: this computer never joined a server.
        """
        materials = MaterialStore.of(self.profile)
        # Asked for: a file marked gone is asked for too (the mark may be false).
        ref = materials.reference(file, asked=True)
        if ref is None:
            return False

        def fetch(engine: SyncEngine) -> bool:
            return engine.chunks is not None and engine.chunks.download(ref)

        fetched = self.run(fetch)
        if fetched:
            index_pending_texts(self.profile)
        return fetched

    def counts(self) -> tuple[int, int]:
        """Changes waiting to be sent (in spaces that sync: local-only ones never leave) and
        conflicts waiting for a person. One indexed COUNT and one small read."""
        spaces = self.state.spaces()
        with self.profile.engine.connect() as connection:
            pending = connection.scalar(
                select(func.count())
                .select_from(RecordRow)
                .where(RecordRow.dirty.is_(True), RecordRow.space_id.in_(spaces))
            )
        return int(pending or 0), len(self.state.conflicts())

    def abandon(self) -> None:
        """The app locks or quits: a sync in flight stops waiting out a busy server (429) at
        once. Takes no lock (the sync holds it), so it may run on the interface thread."""
        engine = self._engine
        if engine is not None:
            engine.transport.abandon()

    def close(self) -> None:
        self.abandon()  # else closing waits for the sync's 429 waits (up to minutes)
        with self._lock:
            self._drop_engine()

    def _drop_engine(self) -> None:
        if self._engine is not None:
            self._engine.transport.close()
            self._engine = None


def join_error_message(error: BaseException) -> str:
    """As ``sync_error_message``, but a code the server cannot even parse is a mistyped code."""
    if isinstance(error, ServerRefused) and error.code in (
        ErrorCode.BAD_ID,
        ErrorCode.BAD_MESSAGE,
        ErrorCode.BAD_REQUEST,
    ):
        error = ServerRefused(error.status, ErrorCode.INVITE_INVALID)
    return sync_error_message(error)
