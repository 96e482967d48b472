"""The Sync page's bundles: export with a progress bar, import another computer's bundle (its
record appears, the summary says what happened), a damaged one refused by name, in en and ar."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import text

import desktop.ui.sync.bundles as bundles_ui
from desktop.commands.bundle import uncarriable_note
from desktop.domain.records import Organization
from desktop.domain.translation import set_language
from desktop.lan import Peer, exchange_with
from desktop.store.records import RecordStore
from desktop.store.sync_state import ProfileSyncState
from desktop.ui.main_window import MainWindow
from desktop.ui.sync.bundles import default_bundle_name
from sync.client.batches import MIN_BATCH
from sync.client.bundles import (
    AUTHOR_RIGHTS_ENDED,
    TOO_MANY_BATCHES,
    ExportReport,
    ImportReport,
    export_bundle,
    import_bundle,
)
from sync.client.engine import Refusal, SyncEngine
from sync.client.transport import Transport
from sync.protocol import Role
from tests.helpers.fit import clipped_texts
from tests.helpers.profiles import new_profile
from tests.ui.sync.conftest import Server, join_as_admin

SHOTS = Path("/tmp")


def test_export_and_import_bundles_from_the_sync_page(
    unlocked: MainWindow,
    qtbot: QtBot,
    server: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page = join_as_admin(qtbot, unlocked, server)
    assert unlocked.sync is not None
    link = unlocked.sync.link
    (space,) = page.network.spaces
    # A second computer joins, then works without internet and sends a bundle.
    member_profile, _recovery = new_profile(tmp_path / "member")
    member_state = ProfileSyncState(member_profile.engine, member_profile.attachments)
    member = SyncEngine(member_state, Transport(server.url))
    member.enroll(link.run(lambda e: e.invite(space.space, Role.EDITOR)))
    link.run(lambda e: e.admit(space.space, e.pending_members(space.space)))
    member.sync_once(discover=True)
    # Its person compared the admin's fingerprint: until then nothing of its is sealed, for
    # a courier either.
    member.confirm_space(space.space)
    RecordStore(member_profile.engine).save(
        Organization(space_id=space.space, name="Carried on a stick", country="ke")
    )
    stick = tmp_path / "stick"
    stick.mkdir()
    export_bundle(member, stick / "from-member.mbundle")

    panel = page.bundles
    assert panel.isVisibleTo(page)
    unlocked.resize(1024, 680)
    page.scroll_area.ensureWidgetVisible(panel)
    job = panel.import_from(stick / "from-member.mbundle")
    assert job is not None
    qtbot.waitUntil(lambda: "imported from computer" in panel.status.text(), timeout=60_000)
    assert "1 change from another device merged" in panel.status.text()
    assert not panel.progress.isVisible()
    profile = unlocked.session.profile
    assert profile is not None
    assert "Carried on a stick" in _names(profile.engine)
    page.scroll_area.ensureWidgetVisible(panel)
    qtbot.wait(300)  # the layout settles before the picture
    unlocked.grab().save(str(SHOTS / "i18-bundle-import-en.png"))

    # Export (the for-list now knows the member), then a damaged copy refused by name.
    target = tmp_path / default_bundle_name()
    assert target.name.startswith("minga-") and target.suffix == ".mbundle"
    panel.export_to(target)
    qtbot.waitUntil(lambda: "Bundle written" in panel.status.text(), timeout=60_000)
    assert target.is_file() and target.stat().st_size > 0
    qtbot.wait(300)  # the layout settles before the picture
    unlocked.grab().save(str(SHOTS / "i18-bundle-export-en.png"))
    damaged = tmp_path / "damaged.mbundle"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x40
    damaged.write_bytes(bytes(data))
    panel.import_from(damaged)
    qtbot.waitUntil(lambda: panel.error.isVisible(), timeout=60_000)
    assert "altered or damaged" in panel.error.text() or "cut short" in panel.error.text()

    set_language("ar")
    qtbot.waitUntil(lambda: panel.title() == "بدون إنترنت: الحزم")
    assert "الحزمة" in panel.error.text()
    page.scroll_area.ensureWidgetVisible(panel)
    qtbot.wait(300)  # the layout settles before the picture
    unlocked.grab().save(str(SHOTS / "i18-bundle-refused-ar.png"))
    panel.import_from(stick / "from-member.mbundle")  # already imported: said so, in Arabic
    qtbot.waitUntil(lambda: "سبق استيراد" in panel.error.text(), timeout=60_000)
    qtbot.wait(300)  # the layout settles before the picture
    unlocked.grab().save(str(SHOTS / "i18-bundle-replayed-ar.png"))
    panel.export_to(tmp_path / default_bundle_name())
    qtbot.waitUntil(lambda: "كُتبت الحزمة" in panel.status.text(), timeout=60_000)
    page.scroll_area.ensureWidgetVisible(panel)
    qtbot.wait(300)  # the layout settles before the picture
    unlocked.grab().save(str(SHOTS / "i18-bundle-export-ar.png"))

    # Next to each other (127.0.0.1 here): this computer offers, the member's visits.
    monkeypatch.setattr(bundles_ui, "OFFER_HOST", "127.0.0.1")
    RecordStore(member_profile.engine).save(
        Organization(space_id=space.space, name="Handed over nearby", country="ke")
    )
    panel.offer_nearby()
    qtbot.waitUntil(lambda: "127.0.0.1:" in panel.status.text(), timeout=60_000)
    assert panel._offer is not None
    port = panel._offer.port
    page.scroll_area.ensureWidgetVisible(panel)
    qtbot.wait(300)  # the layout settles before the picture
    unlocked.grab().save(str(SHOTS / "i18-bundle-nearby-waiting-ar.png"))
    export_bundle(member, tmp_path / "member-lan.mbundle")
    code = panel._offer.code
    assert code in panel.status.text()
    exchange_with(
        Peer("test", "127.0.0.1", port),
        code,
        tmp_path / "member-lan.mbundle",
        tmp_path / "got.mbundle",
    )
    qtbot.waitUntil(lambda: "استُوردت الحزمة" in panel.status.text(), timeout=60_000)
    assert "Handed over nearby" in _names(profile.engine)
    got = import_bundle(member, tmp_path / "got.mbundle")
    assert got.problem is None and got.refused == []
    qtbot.wait(300)  # the layout settles before the picture
    unlocked.grab().save(str(SHOTS / "i18-bundle-nearby-done-ar.png"))
    set_language("en")
    member.transport.close()
    member_profile.close()


def test_the_export_result_says_which_records_it_could_not_carry(
    unlocked: MainWindow, qtbot: QtBot, server: Server, tmp_path: Path
) -> None:
    """Records whose batch this computer no longer hands on (one of its records was deleted
    since) cannot go in a bundle: the result says how many were left out, so the person
    carrying it is not misled (en and ar)."""
    page = join_as_admin(qtbot, unlocked, server)
    assert unlocked.sync is not None
    link = unlocked.sync.link
    (space,) = page.network.spaces
    member_profile, _recovery = new_profile(tmp_path / "member")
    member = SyncEngine(
        ProfileSyncState(member_profile.engine, member_profile.attachments), Transport(server.url)
    )
    member.enroll(link.run(lambda e: e.invite(space.space, Role.EDITOR)))
    link.run(lambda e: e.admit(space.space, e.pending_members(space.space)))
    member.sync_once(discover=True)
    member.confirm_space(space.space)
    orgs = [Organization(space_id=space.space, name=f"Org {i}") for i in range(MIN_BATCH + 1)]
    RecordStore(member_profile.engine).save_all(orgs)
    member.sync_once()
    link.run(lambda e: e.sync_once())
    RecordStore(member_profile.engine).delete(orgs[0].id)
    member.sync_once()
    link.run(lambda e: e.sync_once())
    panel = page.bundles
    unlocked.resize(1024, 680)
    panel.export_to(tmp_path / default_bundle_name())
    qtbot.waitUntil(lambda: "Bundle written" in panel.status.text(), timeout=60_000)
    assert (
        f"{MIN_BATCH} records could not be put in this bundle: this computer has no sealed copy "
        "of them to hand on. The recipient will receive them at their next sync with the server."
    ) in panel.status.text()
    page.scroll_area.ensureWidgetVisible(panel)
    qtbot.wait(300)  # the layout settles before the picture
    unlocked.grab().save(str(SHOTS / "q19-bundle-uncarriable-en.png"))
    set_language("ar")
    qtbot.waitUntil(lambda: "كُتبت الحزمة" in panel.status.text(), timeout=60_000)
    assert f"{MIN_BATCH} سجلًا" in panel.status.text()
    page.scroll_area.ensureWidgetVisible(panel)
    qtbot.wait(300)  # the layout settles before the picture
    unlocked.grab().save(str(SHOTS / "q19-bundle-uncarriable-ar.png"))
    set_language("en")
    member.transport.close()
    member_profile.close()


def _names(engine: object) -> set[str]:
    with engine.connect() as connection:  # type: ignore[attr-defined]
        ids = list(connection.scalars(text("SELECT id FROM records WHERE deleted = 0")))
    store = RecordStore(engine)  # type: ignore[arg-type]
    return {str(getattr(store.get(i), "name", "")) for i in ids}


def test_a_nearby_exchange_says_which_records_it_could_not_hand_on(
    unlocked: MainWindow,
    qtbot: QtBot,
    server: Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """This computer received a member's records in a first-sync batch; a newcomer next to it,
    offline since it joined, exchanges bundles over the local network. Every one of those
    records either reaches the newcomer or is counted and said on this computer's screen (a
    version a bundle cannot hand on reaches the newcomer only through the server)."""
    page = join_as_admin(qtbot, unlocked, server)
    assert unlocked.sync is not None
    link = unlocked.sync.link
    (space,) = page.network.spaces
    engines = []
    for name in ("member", "newcomer"):
        profile, _recovery = new_profile(tmp_path / name)
        engine = SyncEngine(
            ProfileSyncState(profile.engine, profile.attachments), Transport(server.url)
        )
        engine.enroll(link.run(lambda e: e.invite(space.space, Role.EDITOR)))
        link.run(lambda e: e.admit(space.space, e.pending_members(space.space)))
        engine.sync_once(discover=True)
        engine.confirm_space(space.space)
        engines.append((profile, engine))
    (member_profile, member), (newcomer_profile, newcomer) = engines
    names = {f"Org {i}" for i in range(MIN_BATCH)}
    RecordStore(member_profile.engine).save_all(
        [Organization(space_id=space.space, name=name) for name in sorted(names)]
    )
    member.sync_once()
    link.run(lambda e: e.sync_once())
    profile = unlocked.session.profile
    assert profile is not None and names <= _names(profile.engine)
    # Batch-held versions now go in bundles too; what a bundle still cannot hand on is a
    # version this computer kept no envelope of (a profile from before versions were kept for
    # bundles): a quarter of the records here, so the note is always on screen.
    with profile.engine.begin() as connection:
        connection.execute(
            text(
                "DELETE FROM sync_record_blobs WHERE record_id IN (SELECT id FROM records "
                "WHERE space_id = :s AND record_type = 'organization' ORDER BY id LIMIT :n)"
            ),
            {"s": space.space, "n": MIN_BATCH // 4},
        )

    monkeypatch.setattr(bundles_ui, "OFFER_HOST", "127.0.0.1")
    panel = page.bundles
    unlocked.resize(1024, 680)
    panel.offer_nearby()
    qtbot.waitUntil(lambda: "127.0.0.1:" in panel.status.text(), timeout=60_000)
    assert panel._offer is not None
    export_bundle(newcomer, tmp_path / "newcomer.mbundle")
    exchange_with(
        Peer("test", "127.0.0.1", panel._offer.port),
        panel._offer.code,
        tmp_path / "newcomer.mbundle",
        tmp_path / "got.mbundle",
    )
    qtbot.waitUntil(lambda: "imported from computer" in panel.status.text(), timeout=60_000)
    got = import_bundle(newcomer, tmp_path / "got.mbundle")
    assert got.problem is None and got.refused == []
    arrived = names & _names(newcomer_profile.engine)
    left = len(names - arrived)
    assert left == MIN_BATCH // 4
    assert uncarriable_note(ExportReport(uncarriable=left)) in panel.status.text()
    page.scroll_area.ensureWidgetVisible(panel)
    qtbot.wait(300)  # the layout settles before the picture
    unlocked.grab().save(str(SHOTS / "q19-nearby-uncarriable-en.png"))
    set_language("ar")
    qtbot.waitUntil(lambda: "استُوردت الحزمة" in panel.status.text(), timeout=60_000)
    assert f"{left} سجلًا" in panel.status.text()
    page.scroll_area.ensureWidgetVisible(panel)
    qtbot.wait(300)  # the layout settles before the picture
    unlocked.grab().save(str(SHOTS / "q19-nearby-uncarriable-ar.png"))
    set_language("en")
    # What could not go over the local network comes with the newcomer's next sync.
    newcomer.sync_once()
    assert names <= _names(newcomer_profile.engine)
    for held_profile, engine in engines:
        engine.transport.close()
        held_profile.close()


def test_the_import_result_says_which_versions_it_left_out_and_why(
    unlocked: MainWindow, qtbot: QtBot, server: Server
) -> None:
    """A bundle's versions of an author who may no longer write, and batch parts past the cap,
    are left out: the result says so in words, beside what came in, and fits (en and ar)."""
    page = join_as_admin(qtbot, unlocked, server)
    (space,) = page.network.spaces
    report = ImportReport(exporter="ab12cd34ef56", records=3)
    report.left_out = [
        Refusal(space.space, f"{n:032x}", 7, AUTHOR_RIGHTS_ENDED, "epoch 1") for n in range(2)
    ] + [Refusal(space.space, "", 0, TOO_MANY_BATCHES, "64 versions")]
    panel = page.bundles
    unlocked.resize(1024, 680)
    panel._finish(("imported", report))
    text = panel.status.text()
    assert "2 records left out: their authors may no longer write in that space" in text
    assert "1 group of records left out: a bundle holds at most 1024 groups" in text
    page.scroll_area.ensureWidgetVisible(panel)
    qtbot.wait(300)  # the layout settles before the picture
    assert clipped_texts(unlocked) == []
    unlocked.grab().save(str(SHOTS / "b19-bundle-left-out-en.png"))
    set_language("ar")
    qtbot.waitUntil(lambda: "تُرك سجلان جانبًا" in panel.status.text(), timeout=10_000)
    assert "تُركت مجموعة سجلات واحدة جانبًا" in panel.status.text()
    page.scroll_area.ensureWidgetVisible(panel)
    qtbot.wait(300)
    assert clipped_texts(unlocked) == []
    unlocked.grab().save(str(SHOTS / "b19-bundle-left-out-ar.png"))
    set_language("en")
