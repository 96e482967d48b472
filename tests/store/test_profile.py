"""The encrypted profile: create, lock, unlock, passphrase change, recovery key, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from desktop.domain.settings import SETTINGS, SettingError, defaults
from desktop.domain.translation import set_language
from desktop.store import keys
from desktop.store.profile import (
    KdfParameters,
    MistypedRecoveryKey,
    ProfileDamaged,
    ProfileExists,
    ProfileLocked,
    ProfileNotFound,
    WeakKdfParameters,
    WeakPassphrase,
    WrongPassphrase,
    WrongRecoveryKey,
    calibrate_kdf,
    create_profile,
    profile_exists,
    read_device_hints,
    unlock,
    unlock_with_recovery_key,
)
from tests.helpers.profiles import PASSPHRASE, new_profile, snapshot


@pytest.fixture(autouse=True)
def _english() -> None:
    set_language("en")


def _write_rows(profile_engine: object, rows: list[str]) -> None:
    with profile_engine.begin() as connection:  # type: ignore[attr-defined]
        connection.execute(text("CREATE TABLE IF NOT EXISTS notes (body TEXT)"))
        for row in rows:
            connection.execute(text("INSERT INTO notes VALUES (:b)"), {"b": row})


def _read_rows(profile_engine: object) -> list[str]:
    with profile_engine.connect() as connection:  # type: ignore[attr-defined]
        return [r[0] for r in connection.execute(text("SELECT body FROM notes ORDER BY rowid"))]


def test_create_lock_unlock_round_trip(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    profile, recovery = new_profile(folder, language="es")
    assert profile_exists(folder)
    _write_rows(profile.engine, ["first", "segunda", "الثالثة"])
    profile.settings.set("auto_lock_minutes", 5)
    profile.close()
    assert profile.closed
    with pytest.raises(ProfileLocked):
        _ = profile.engine

    again = unlock(folder, PASSPHRASE)
    assert _read_rows(again.engine) == ["first", "segunda", "الثالثة"]
    stored = again.settings.all()
    assert (stored["language"], stored["auto_lock_minutes"]) == ("es", 5)
    assert set(stored) == {s.key for s in SETTINGS}
    again.close()
    assert len(recovery.split("-")) == 11


def test_lock_wipes_the_master_key(tmp_path: Path) -> None:
    profile, _ = new_profile(tmp_path / "p")
    held = profile._master_key
    assert held is not None and any(held)
    profile.close()
    assert held == bytearray(len(held))
    with pytest.raises(ProfileLocked):
        _ = profile.attachments
    profile.close()  # idempotent


def test_wrong_passphrase_changes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    profile, _ = new_profile(folder)
    _write_rows(profile.engine, ["kept"])
    profile.close()
    before = snapshot(folder)
    with pytest.raises(WrongPassphrase) as caught:
        unlock(folder, "not the passphrase at all")
    assert "not right" in caught.value.user_message()
    assert snapshot(folder) == before


def test_wrong_passphrase_message_is_translated(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    new_profile(folder)[0].close()
    with pytest.raises(WrongPassphrase) as caught:
        unlock(folder, "not the passphrase at all")
    set_language("es")
    spanish = caught.value.user_message()
    set_language("en")
    assert spanish != caught.value.user_message()


def test_change_passphrase_keeps_data(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    profile, _ = new_profile(folder)
    _write_rows(profile.engine, ["before the change"])
    database_files = ["minga.db", "minga.db-wal"]
    database_before = {n: (folder / n).read_bytes() for n in database_files}
    with pytest.raises(WrongPassphrase):
        profile.change_passphrase("a wrong old passphrase", "a brand new passphrase")
    with pytest.raises(WeakPassphrase):
        profile.change_passphrase(PASSPHRASE, "short")
    profile.change_passphrase(PASSPHRASE, "a brand new passphrase")
    # Re-wrapping only: not one byte of the encrypted database was rewritten.
    assert {n: (folder / n).read_bytes() for n in database_files} == database_before
    profile.close()
    with pytest.raises(WrongPassphrase):
        unlock(folder, PASSPHRASE)
    again = unlock(folder, "a brand new passphrase")
    assert _read_rows(again.engine) == ["before the change"]
    again.close()


def test_recovery_key_unlocks_and_sets_a_new_passphrase(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    profile, recovery = new_profile(folder)
    _write_rows(profile.engine, ["recovered"])
    profile.close()
    # Typed the way a person copies from paper: lower case, spaces, O read as 0.
    typed = recovery.lower().replace("-", " ").replace("o", "0")
    recovered = unlock_with_recovery_key(folder, typed, "after forgetting it")
    assert _read_rows(recovered.engine) == ["recovered"]
    recovered.close()
    unlock(folder, "after forgetting it").close()
    with pytest.raises(WrongPassphrase):
        unlock(folder, PASSPHRASE)
    # The recovery key keeps working after the passphrase changed.
    unlock_with_recovery_key(folder, recovery, "yet another passphrase").close()


def test_recovery_key_errors(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    profile, recovery = new_profile(folder)
    profile.close()
    before = snapshot(folder)
    other = keys.format_recovery_key(keys.new_recovery_secret())
    with pytest.raises(WrongRecoveryKey) as wrong:
        unlock_with_recovery_key(folder, other, "a good new passphrase")
    assert not isinstance(wrong.value, MistypedRecoveryKey)
    typo = ("B" if recovery[0] != "B" else "C") + recovery[1:]
    with pytest.raises(MistypedRecoveryKey):
        unlock_with_recovery_key(folder, typo, "a good new passphrase")
    with pytest.raises(MistypedRecoveryKey):
        unlock_with_recovery_key(folder, recovery[:-3], "a good new passphrase")
    with pytest.raises(WeakPassphrase):
        unlock_with_recovery_key(folder, recovery, "short")
    assert snapshot(folder) == before


def test_weak_passphrase_creates_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    with pytest.raises(WeakPassphrase) as caught:
        create_profile(folder, "tiny", kdf=KdfParameters.fast_for_tests())
    assert "10" in caught.value.user_message()
    assert not folder.exists() or not any(folder.iterdir())


def test_existing_profile_is_never_overwritten(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    new_profile(folder)[0].close()
    before = snapshot(folder)
    with pytest.raises(ProfileExists):
        new_profile(folder)
    assert snapshot(folder) == before


def test_missing_profile(tmp_path: Path) -> None:
    with pytest.raises(ProfileNotFound):
        unlock(tmp_path / "nothing here", PASSPHRASE)


def _edit_key_file(folder: Path, change: object) -> None:
    path = folder / "profile.json"
    data = json.loads(path.read_text())
    change(data)  # type: ignore[operator]
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("field", "value"),
    [("memory_kib", 1024), ("memory_kib", 65535), ("iterations", 0), ("salt", "c2hvcnQ=")],
)
def test_kdf_parameters_below_the_floor_are_refused(
    tmp_path: Path, field: str, value: object
) -> None:
    folder = tmp_path / "p"
    new_profile(folder)[0].close()
    _edit_key_file(folder, lambda d: d["kdf"].__setitem__(field, value))
    before = snapshot(folder)
    with pytest.raises(WeakKdfParameters):
        unlock(folder, PASSPHRASE)
    assert snapshot(folder) == before


def test_kdf_parameters_are_bound_to_the_wrap(tmp_path: Path) -> None:
    # Parameters edited but still above the floor: the wrap no longer opens.
    folder = tmp_path / "p"
    new_profile(folder)[0].close()
    _edit_key_file(folder, lambda d: d["kdf"].__setitem__("memory_kib", 65536 * 2))
    with pytest.raises(WrongPassphrase):
        unlock(folder, PASSPHRASE)


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_text("{not json"),
        lambda p: p.write_bytes(b"\xff\xfe\x00"),
        lambda p: p.write_text(json.dumps({"format": "minga-profile", "version": 99})),
        lambda p: p.write_text(json.dumps([1, 2, 3])),
        lambda p: p.write_text(p.read_text().replace('"lanes": 4', '"lanes": "4"')),
        lambda p: p.write_text(p.read_text().replace('"lanes": 4', '"lanes": 400')),
        lambda p: p.write_text(
            p.read_text().replace('"memory_kib": 65536', '"memory_kib": 99999999999')
        ),
    ],
)
def test_malformed_key_file_gives_a_clear_error(tmp_path: Path, damage: object) -> None:
    folder = tmp_path / "p"
    new_profile(folder)[0].close()
    damage(folder / "profile.json")  # type: ignore[operator]
    with pytest.raises(ProfileDamaged) as caught:
        unlock(folder, PASSPHRASE)
    assert "damaged" in caught.value.user_message()


def test_database_of_another_profile_is_refused(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    new_profile(first)[0].close()
    new_profile(second)[0].close()
    (first / "minga.db").write_bytes((second / "minga.db").read_bytes())
    with pytest.raises(ProfileDamaged):
        unlock(first, PASSPHRASE)


def test_missing_database_is_reported_not_recreated(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    new_profile(folder)[0].close()
    (folder / "minga.db").unlink()
    with pytest.raises(ProfileDamaged):
        unlock(folder, PASSPHRASE)
    assert not (folder / "minga.db").exists()


def test_settings_are_typed_and_the_language_is_a_device_hint(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    profile, _ = new_profile(folder)
    # The quick delete shortcut and threshold too: the unlock screen needs them (issue 16).
    quick = {"quick_delete_after_wrong_passphrases": 0, "quick_delete_shortcut": "Ctrl+Shift+Del"}
    assert read_device_hints(folder) == {"language": "en", **quick}
    profile.settings.set("language", "ar")
    assert read_device_hints(folder) == {"language": "ar", **quick}
    for key, bad in [("auto_lock_minutes", 0), ("auto_lock_minutes", "ten"), ("language", "de")]:
        with pytest.raises(SettingError):
            profile.settings.set(key, bad)
    assert profile.settings.all() == {**defaults(), "language": "ar"}
    profile.close()
    # Only declared hints are read, and only valid values: a hand-edited file is ignored.
    (folder / "device.json").write_text(json.dumps({"language": "klingon", "secret": "x"}))
    assert read_device_hints(folder) == {}
    assert read_device_hints(tmp_path / "nowhere") == {}


def test_calibration_respects_the_floor() -> None:
    parameters = calibrate_kdf(target_seconds=0.2)
    parameters.check()
    assert parameters.memory_kib >= keys.FLOOR_MEMORY_KIB
    assert parameters.iterations >= keys.FLOOR_ITERATIONS
    assert len(parameters.salt) == keys.SALT_BYTES


def test_recovery_key_format_round_trip() -> None:
    secret = keys.new_recovery_secret()
    text_form = keys.format_recovery_key(secret)
    assert all(len(group) == 5 for group in text_form.split("-"))
    assert keys.parse_recovery_key(text_form) == secret
    assert keys.parse_recovery_key(text_form.lower().replace("-", "  ")) == secret
