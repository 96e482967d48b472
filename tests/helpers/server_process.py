"""Real `minga-server` processes for integration tests and benchmarks, on 127.0.0.1 only.
Started with a free port, waited for with a bounded loop, ended by pid."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_cli(
    data_dir: Path,
    *args: str,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """One `minga-server` command, as an operator would type it."""
    command = [sys.executable, "-m", "sync.server", "--data-dir", str(data_dir), *args]
    env = dict(os.environ)
    env.update(extra_env or {})
    if database_url:
        env["MINGA_SERVER_DATABASE_URL"] = database_url
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    scheme: str = "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass
class Server:
    """A running server with its data folder, which the operator's commands act on."""

    data_dir: Path
    process: ServerProcess

    @property
    def url(self) -> str:
        return self.process.base_url

    def invite(self, *args: str) -> str:
        """What an operator types: `minga-server invite [--new-space]`; the code."""
        result = run_cli(self.data_dir, "invite", *args)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    def operator_invite(self) -> str:
        """What an operator types for the network's first device: `minga-server invite`."""
        return self.invite()


def start_server(
    data_dir: Path,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    args: Sequence[str] = (),
    log_name: str = "server.log",
    cwd: Path | None = None,
    tls: tuple[Path, Path] | None = None,
) -> ServerProcess:
    """`minga-server serve` on a free port; its stderr goes to data_dir/<log_name>.

    `cwd`: a folder holding another revision's `sync` package, which `-m` then imports first
    (benchmarks compare a baseline with this code in the same run). `tls`: a certificate and
    its key, served by the server itself (no proxy in front)."""
    port = free_port()
    env = dict(os.environ)
    env.update(extra_env or {})
    if database_url:
        env["MINGA_SERVER_DATABASE_URL"] = database_url
    log_path = data_dir / log_name
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sync.server",
                "--data-dir",
                str(data_dir),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *(["--ssl-certfile", str(tls[0]), "--ssl-keyfile", str(tls[1])] if tls else []),
                *args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )
    server = ServerProcess(process, port, log_path, "https" if tls else "http")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early: {log_path.read_text(errors='replace')}")
        try:
            answer = httpx.get(server.base_url + "/v1/info", timeout=1, verify=False)
            if answer.status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("server did not answer within 30 s")


#: Enrolment and challenge limits no test of a few devices reaches: the server's own are set
#: against strangers, and a test network enrolls a device every few milliseconds.
MANY_DEVICES = {
    "MINGA_SERVER_ENROLL_PER_MINUTE": "1000",
    "MINGA_SERVER_CHALLENGES_PER_MINUTE": "1000",
}


def fresh_server(
    data_dir: Path,
    extra_env: dict[str, str] | None = None,
    tls: tuple[Path, Path] | None = None,
) -> ServerProcess:
    """A new server: ``data_dir`` made if need be, `minga-server init` there, then
    :func:`start_server`. The caller stops it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    assert run_cli(data_dir, "init").returncode == 0
    return start_server(data_dir, extra_env=extra_env, tls=tls)
