"""Server settings: one declared schema, read from a TOML file and then the environment.
Every setting has a type, a default and a description here; MINGA_SERVER_<NAME> overrides."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Final

import platformdirs

ENV_PREFIX: Final = "MINGA_SERVER_"
CONFIG_FILE_NAME: Final = "server.toml"


class ConfigError(Exception):
    """A setting that cannot be used; the message names the setting and the source."""


@dataclass(frozen=True)
class Settings:
    """The server's settings.

    Attributes:
        data_dir: Folder for the SQLite database, the chunk store and the default config file.
        database_url: SQLAlchemy URL; empty means a SQLite file in data_dir.
        chunk_store: Where chunk bytes live: "folder" (chunk_dir) or "s3" (an S3-compatible
            bucket, so several machines can serve one network).
        chunk_dir: Folder of the "folder" chunk store; empty means data_dir/chunks.
        s3_endpoint_url: S3 endpoint, e.g. http://127.0.0.1:8333; empty means AWS itself.
        s3_bucket: Bucket of the "s3" chunk store (`init` creates it when missing).
        s3_prefix: Key prefix inside the bucket, e.g. "minga/" to share a bucket.
        s3_region: Region name; empty means boto3's default.
        s3_access_key_id: Access key; empty means boto3's own chain (AWS_ACCESS_KEY_ID, ~/.aws,
            an instance role), which keeps the secret out of this file.
        s3_secret_access_key: Secret key; prefer MINGA_SERVER_S3_SECRET_ACCESS_KEY or boto3's chain.
        host: Address `serve` binds to.
        port: Port `serve` binds to.
        token_ttl: Seconds a bearer token lives.
        challenge_ttl: Seconds a challenge may be answered.
        invite_ttl: Default seconds an invite code stays valid.
        space_quota_bytes: Chunk bytes each space may store.
        spaces_per_device: Spaces one device may create.
        enroll_per_minute: Enrollment attempts per client address per minute (per process).
        challenges_per_minute: Challenge and token requests per client address per minute (per
            process); never per device id, which anyone may name.
        failed_proofs_per_minute: Failed challenge answers per client address per minute (per
            process) before that address must wait.
        trusted_proxies: Comma-separated addresses of reverse proxies whose X-Forwarded-For is
            believed (e.g. "127.0.0.1" behind the shipped nginx); empty believes nobody's.
        chunk_grace_seconds: Age before an unreferenced chunk is collected.
        released_chunk_grace_seconds: Seconds a chunk is kept after the last record naming it
            let go of it (a deletion, a version naming other chunks), so a file an edit made
            apart brings back over its deletion can still be fetched; never less than
            ``chunk_grace_seconds`` (SECURITY.md: sealed bytes kept that much longer).
        batch_answer_ttl: Seconds a batch push's answer is kept for a re-send after a lost
            answer (housekeeping prunes older ones; a later re-send is judged again, safely).
        batch_answers_per_device: Answers kept per device and space, the newest (a device has
            at most one batch awaiting its answer per space at a time).
        header_timeout: Seconds a request's line and headers may take to arrive (serve).
        body_idle_timeout: Seconds a request body may go without a byte (serve).
        request_timeout: Seconds one request may last, body and answer included (serve).
        keep_alive_timeout: Seconds an idle kept-alive connection stays open (serve).
        max_connections: Connections and requests served at once; more get 503 (serve).
        max_connections_per_address: Connections one client address (an IPv6 /64) may hold
            open at once; more are closed at once, so one address cannot take them all (serve;
            trusted proxies exempt, 0 for no cap).
        log_level: Python logging level name.
    """

    data_dir: Path
    database_url: str = ""
    chunk_store: str = "folder"
    chunk_dir: str = ""
    s3_endpoint_url: str = ""
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3_region: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8470
    token_ttl: int = 900
    challenge_ttl: int = 120
    invite_ttl: int = 7 * 86400
    space_quota_bytes: int = 1024**3
    spaces_per_device: int = 1000
    enroll_per_minute: int = 10
    challenges_per_minute: int = 30
    failed_proofs_per_minute: int = 10
    trusted_proxies: str = ""
    chunk_grace_seconds: int = 86400
    released_chunk_grace_seconds: int = 30 * 86400
    batch_answer_ttl: int = 90 * 86400
    batch_answers_per_device: int = 64
    header_timeout: int = 20
    body_idle_timeout: int = 60
    request_timeout: int = 900
    keep_alive_timeout: int = 15
    max_connections: int = 512
    max_connections_per_address: int = 20
    log_level: str = "INFO"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'minga-server.sqlite3'}"

    @property
    def resolved_chunk_dir(self) -> Path:
        return Path(self.chunk_dir) if self.chunk_dir else self.data_dir / "chunks"

    @property
    def config_file(self) -> Path:
        return self.data_dir / CONFIG_FILE_NAME


def default_data_dir() -> Path:
    return platformdirs.user_data_path("minga-server")


def _coerce(name: str, kind: Any, value: object, source: str) -> object:
    # Field types are strings under `from __future__ import annotations`.
    try:
        if kind in ("int", int):
            if isinstance(value, bool):
                raise ValueError
            number = int(value)  # type: ignore[call-overload]
            if number < 0:
                raise ValueError
            return number
        if kind in ("Path", Path):
            return Path(str(value)).expanduser()
        if not isinstance(value, str | int):
            raise ValueError
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: setting {name!r} has an invalid value") from None


def load_settings(
    config_file: Path | None = None,
    data_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: object,
) -> Settings:
    """Settings from defaults, then the config file, then the environment, then `overrides`.

    The config file is `config_file`, else $MINGA_SERVER_CONFIG, else data_dir/server.toml when
    it exists. Unknown keys in the file are errors: a typo must not silently fall back.
    """
    env = os.environ if environ is None else environ
    kinds = {f.name: f.type for f in fields(Settings)}
    values: dict[str, object] = {}
    if data_dir is None and env.get(ENV_PREFIX + "DATA_DIR"):
        data_dir = Path(env[ENV_PREFIX + "DATA_DIR"])
    base = Settings(data_dir=(data_dir or default_data_dir()).expanduser())
    path = config_file or (
        Path(env[ENV_PREFIX + "CONFIG"]) if env.get(ENV_PREFIX + "CONFIG") else None
    )
    if path is None and base.config_file.is_file():
        path = base.config_file
    if path is not None:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from None
        server_section = document.get("server", document)
        for name, value in server_section.items():
            if name not in kinds:
                raise ConfigError(f"{path}: unknown setting {name!r}")
            values[name] = _coerce(name, kinds[name], value, str(path))
    for name, kind in kinds.items():
        key = ENV_PREFIX + name.upper()
        if key in env and name != "data_dir":
            values[name] = _coerce(name, kind, env[key], key)
    for name, value in overrides.items():
        if name not in kinds:
            raise ConfigError(f"unknown setting {name!r}")
        if value is not None:
            values[name] = _coerce(name, kinds[name], value, "command line")
    if data_dir is not None:
        values["data_dir"] = data_dir.expanduser()
    return check_settings(replace(base, **values))  # type: ignore[arg-type]


CHUNK_STORES: Final = ("folder", "s3")
SECRET_SETTINGS: Final = frozenset({"s3_secret_access_key"})


def check_settings(settings: Settings) -> Settings:
    """Refuse combinations that cannot work, naming the setting, before anything starts."""
    if settings.chunk_store not in CHUNK_STORES:
        raise ConfigError(
            f"setting 'chunk_store' must be one of {', '.join(CHUNK_STORES)}, "
            f"not {settings.chunk_store!r}"
        )
    if settings.chunk_store == "s3" and not settings.s3_bucket:
        raise ConfigError("chunk_store = \"s3\" needs the setting 's3_bucket'")
    if settings.s3_prefix and not settings.s3_prefix.endswith("/"):
        raise ConfigError("setting 's3_prefix' must end with '/'")
    return settings


def default_config_text(settings: Settings) -> str:
    """The commented config file `init` writes: every setting with its current value."""
    lines = [
        "# Minga server settings; MINGA_SERVER_<NAME> environment variables override.",
        "[server]",
    ]
    for f in fields(Settings):
        if f.name == "data_dir":
            continue
        if f.name in SECRET_SETTINGS:
            # A secret given in the environment at `init` must not end up in a file.
            lines.append(f"# {f.name}: set {ENV_PREFIX}{f.name.upper()} or boto3's chain")
            continue
        value = getattr(settings, f.name)
        rendered = (
            str(value) if isinstance(value, int) else '"' + str(value).replace('"', '\\"') + '"'
        )
        lines.append(f"{f.name} = {rendered}")
    return "\n".join(lines) + "\n"
