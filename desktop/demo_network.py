"""A local demo network: a `minga-server` on 127.0.0.1 and two profiles that have synced through it.

Run it, open each profile in its own Minga window, and watch changes travel; Ctrl+C ends the server.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from sqlalchemy import select

from desktop.store.demo import DEMO_PASSPHRASE, fill_profile
from desktop.store.profile import KdfParameters, Profile, create_profile
from desktop.store.schema import RecordRow
from desktop.store.sync_state import ProfileSyncState
from sync.client.engine import SyncEngine, SyncReport
from sync.client.transport import Transport
from sync.protocol import Role

#: What the demo's server is told about its rate limits: two enrollments a minute is for attackers.
_SERVER_ENV = {
    "MINGA_SERVER_ENROLL_PER_MINUTE": "1000",
    "MINGA_SERVER_CHALLENGES_PER_MINUTE": "1000",
}


@dataclass
class DemoNetwork:
    folder: Path
    server: subprocess.Popen[bytes]
    url: str
    admin_dir: Path
    member_dir: Path
    network_space: str
    reports: dict[str, SyncReport]

    def stop(self) -> None:
        """End the server by its pid (terminate, then kill if it does not go)."""
        if self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(timeout=10)


def _server_command(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "sync.server", "--data-dir", str(data_dir), *args]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`minga-server init` then `serve` on a free port of 127.0.0.1; waits until it answers."""
    env = {**os.environ, **_SERVER_ENV}
    subprocess.run(_server_command(data_dir, "init"), check=True, capture_output=True, env=env)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with open(data_dir / "server.log", "ab") as log:
        process = subprocess.Popen(
            _server_command(data_dir, "serve", "--host", "127.0.0.1", "--port", str(port)),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped; see {data_dir / 'server.log'}")
        try:
            if requests.get(url + "/v1/info", timeout=1).status_code == 200:
                return process, url
        except requests.RequestException:
            time.sleep(0.1)
    process.terminate()
    process.wait(timeout=10)
    raise RuntimeError("the server did not answer within 30 s")


def operator_invite(data_dir: Path) -> tuple[str, str]:
    """`minga-server invite --new-space`: the new space's id and the one-time code."""
    result = subprocess.run(
        _server_command(data_dir, "invite", "--new-space"),
        check=True,
        capture_output=True,
        text=True,
    )
    lines = result.stdout.strip().splitlines()
    space = next(line.split()[1] for line in lines if line.startswith("space "))
    return space, lines[-1]


def shared_spaces(profile: Profile) -> list[tuple[str, str | None]]:
    """The profile's spaces with their kind; the "only me" space never leaves the computer."""
    with profile.engine.connect() as connection:
        rows = connection.execute(
            select(RecordRow.id, RecordRow.kind).where(
                RecordRow.record_type == "space", RecordRow.deleted.is_(False)
            )
        ).all()
    return [(row.id, row.kind) for row in rows if row.kind != "only_me"]


def build(folder: Path, incidents: int = 300) -> DemoNetwork:
    """Server, an administrator's profile full of the demo network, a member admitted to its
    network space, both synced once. The caller stops the server (``DemoNetwork.stop``)."""
    server_dir = folder / "server"
    server_dir.mkdir(parents=True, exist_ok=True)
    process, url = start_server(server_dir)
    try:
        operator_space, code = operator_invite(server_dir)
        admin_dir, member_dir = folder / "admin", folder / "member"
        admin, _ = create_profile(admin_dir, DEMO_PASSPHRASE, kdf=KdfParameters.fast_for_tests())
        member, _ = create_profile(member_dir, DEMO_PASSPHRASE, kdf=KdfParameters.fast_for_tests())
        admin_engine = SyncEngine(ProfileSyncState(admin.engine, admin.attachments), Transport(url))
        member_engine = SyncEngine(
            ProfileSyncState(member.engine, member.attachments), Transport(url)
        )
        try:
            fill_profile(admin, incidents=incidents)
            admin_engine.enroll(code)
            admin_engine.create_space(operator_space)  # the operator's space, now ready
            spaces = shared_spaces(admin)
            for space, _kind in spaces:
                admin_engine.create_space(space)
            network = next(space for space, kind in spaces if kind == "network")
            member_engine.enroll(admin_engine.invite(network, Role.EDITOR))
            admin_engine.admit(network, admin_engine.pending_members(network))
            reports = {"admin": admin_engine.sync_once(discover=True)}
            reports["member"] = member_engine.sync_once(discover=True)
        finally:
            for engine in (admin_engine, member_engine):
                engine.transport.close()
            admin.close()
            member.close()
    except BaseException:
        process.terminate()
        process.wait(timeout=10)
        raise
    return DemoNetwork(folder, process, url, admin_dir, member_dir, network, reports)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a local Minga demo network.")
    parser.add_argument("--dir", type=Path, help="folder for the server and profiles")
    parser.add_argument("--incidents", type=int, default=300)
    args = parser.parse_args(argv)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="minga-network-"))
    started = time.perf_counter()
    demo = build(folder, args.incidents)
    try:
        admin, member = demo.reports["admin"], demo.reports["member"]
        print(f"Demo network in {folder} ({time.perf_counter() - started:.1f} s)")
        print(f"Server: {demo.url} (pid {demo.server.pid}; log {folder / 'server' / 'server.log'})")
        print(f"Administrator sent {admin.pushed} records; the member received {member.pulled}.")
        print(f"Passphrase of both profiles: {DEMO_PASSPHRASE}")
        print("Open each in its own window:")
        for path in (demo.admin_dir, demo.member_dir):
            print(f"  {sys.executable} -m desktop --profile-dir {path}")
        print("Press Ctrl+C to stop the server.")
        sys.stdout.flush()
        demo.server.wait()
    except KeyboardInterrupt:
        print("\nStopping the server.")
    finally:
        demo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
