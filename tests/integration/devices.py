"""Devices whose sync engine also moves attachment files (the vault wired into the sync state),
and evidence helpers shared by the attachment, fault and property tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from desktop.domain.records import Evidence, Incident
from desktop.store.evidence import EvidenceStore
from desktop.store.sync_state import ProfileSyncState
from sync.client.engine import SyncEngine
from sync.client.transport import Transport
from tests.integration.conftest import Device


def with_files(device: Device, url: str | None = None) -> Device:
    """Give ``device`` a state with its vault and a fresh engine (optionally via another URL)."""
    old = device.engine
    state = ProfileSyncState(device.profile.engine, device.profile.attachments)
    transport = Transport(url or old.transport.base_url, observer=old.transport.observer)
    old.transport.close()
    device.state = state
    device.engine = SyncEngine(state, transport, page_bytes=old.page_bytes)
    return device


def make_with_files(make_device: Any) -> Any:
    def make(name: str, page_bytes: int | None = None) -> Device:
        return with_files(make_device(name, page_bytes))

    return make


def import_evidence(device: Device, space: str, folder: Path, size: int, name: str) -> Evidence:
    """An incident with one evidence file of ``size`` random bytes, imported into the vault."""
    incident = device.records.save(Incident(space_id=space, title=f"Incident {name}"))
    assert isinstance(incident, Incident)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(os.urandom(size))
    return EvidenceStore.of(device.profile).import_file(incident, path, actor="tester")


def opened(device: Device, evidence_id: str) -> bytes:
    return EvidenceStore.of(device.profile).open(evidence_id, actor="tester").data
