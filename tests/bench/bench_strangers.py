"""What a stranger can do to a real `minga-server` process (issue 12), before and after.

Prints, for the server at this tree (and, with MINGA_BENCH_BEFORE_TREE=<a git worktree of an
older commit>, for that one too):

- the amplification body (a ~1.5 KB zstd frame of ~16 million empty msgpack containers) sent
  without credentials to POST /v1/auth/challenge and with a made-up token to POST /v1/sync:
  the server's memory growth (peak RSS from /proc, reset before each case) and the answer's
  time and status; then three such bodies at once on the challenge route;
- what a stranger's 1,000 challenge requests for a member's device id (from 127.0.0.2) do to
  that member's sign-in a moment later (from 127.0.0.1).

Run: `python -m tests.bench.bench_strangers` or `make bench`. Figures only, no timed asserts.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sync.protocol import (
    MEDIA_TYPE,
    ChallengeRequest,
    EnrollRequest,
    TokenRequest,
    challenge_statement,
    decode_body,
    device_id_for,
    encode_body,
    enroll_statement,
)
from tests.helpers.server_process import ServerProcess, run_cli, start_server


def amplification_body() -> bytes:
    """4,000 lists of 4,000 empty lists under a field of a map: 16 MB of msgpack (under the
    16 MiB decode limit) in about 1.5 KB of zstd."""
    inner = b"\xdc" + (4000).to_bytes(2, "big") + b"\x90" * 4000
    outer = b"\xdc" + (4000).to_bytes(2, "big") + inner * 4000
    return zstandard.ZstdCompressor().compress(b"\x82\xa1v\x01\xa6device" + outer)


def _raw(key: Any) -> bytes:
    return bytes(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def _rss(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) of `pid` in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024
    return fields["VmRSS"], fields["VmHWM"]


def _reset_peak(pid: int) -> None:
    # Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS.
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _measure(server: ServerProcess, send: Callable[[], list[int]]) -> dict[str, Any]:
    pid = server.process.pid
    time.sleep(0.3)
    _reset_peak(pid)
    before, _ = _rss(pid)
    started = time.perf_counter()
    statuses = send()
    seconds = time.perf_counter() - started
    time.sleep(0.3)
    after, peak = _rss(pid)
    return {
        "statuses": statuses,
        "seconds": round(seconds, 3),
        "peak_growth_mb": round((peak - before) / 2**20, 1),
        "kept_mb": round((after - before) / 2**20, 1),
    }


def _post(client: httpx.Client, path: str, body: bytes, token: str | None = None) -> int:
    headers = {"content-type": MEDIA_TYPE}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return client.post(path, content=body, headers=headers).status_code


class Member:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.sign = Ed25519PrivateKey.generate()
        self.box = X25519PrivateKey.generate()
        self.device_id = device_id_for(_raw(self.sign))

    def call(self, path: str, message: dict[str, Any]) -> httpx.Response:
        return self.client.post(
            path, content=encode_body(message), headers={"content-type": MEDIA_TYPE}
        )

    def enroll(self, code: str) -> None:
        signature = self.sign.sign(enroll_statement(code, _raw(self.sign), _raw(self.box)))
        request = EnrollRequest(code, _raw(self.sign), _raw(self.box), signature)
        assert self.call("/v1/enroll", request.to_wire()).status_code == 201

    def sign_in(self) -> tuple[int, int | None]:
        """(challenge status, token status or None when no challenge was given)."""
        answer = self.call("/v1/auth/challenge", ChallengeRequest(self.device_id).to_wire())
        if answer.status_code != 200:
            return answer.status_code, None
        nonce = decode_body(answer.content)["challenge"]
        signature = self.sign.sign(challenge_statement(nonce, self.device_id))
        token = self.call(
            "/v1/auth/token", TokenRequest(self.device_id, nonce, signature).to_wire()
        )
        return 200, token.status_code


def run(tree: Path | None, data: Path) -> dict[str, Any]:
    """All cases against a fresh server whose code is `tree` (None: this checkout)."""
    env = {"PYTHONPATH": str(tree)} if tree is not None else {}
    saved, cwd = os.environ.get("PYTHONPATH"), Path.cwd()
    if tree is not None:
        # `python -m sync.server` puts its working folder first on sys.path: start it in the
        # other tree, with that tree on PYTHONPATH too (run_cli and start_server inherit both).
        os.environ["PYTHONPATH"] = str(tree)
        os.chdir(tree)
    try:
        data.mkdir(parents=True, exist_ok=True)
        assert run_cli(data, "init").returncode == 0
        code = run_cli(data, "invite").stdout.strip().splitlines()[-1]
        server = start_server(data, extra_env=env)
    finally:
        os.chdir(cwd)
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    body = amplification_body()
    results: dict[str, Any] = {"body_bytes": len(body)}
    try:
        base = server.base_url
        with httpx.Client(base_url=base, timeout=120) as client:
            member = Member(client)
            member.enroll(code)
            results["challenge_route"] = _measure(
                server, lambda: [_post(client, "/v1/auth/challenge", body)]
            )
            results["sync_made_up_token"] = _measure(
                server, lambda: [_post(client, "/v1/sync", body, "Z" * 43)]
            )

            def three() -> list[int]:
                with ThreadPoolExecutor(3) as pool:
                    return list(
                        pool.map(lambda _: _post(client, "/v1/auth/challenge", body), range(3))
                    )

            results["three_at_once_challenge"] = _measure(server, three)
        stranger_transport = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=base, timeout=60, transport=stranger_transport) as stranger:
            wire = encode_body(ChallengeRequest(member.device_id).to_wire())
            statuses = [_post(stranger, "/v1/auth/challenge", wire) for _ in range(1000)]
        with httpx.Client(base_url=base, timeout=60) as client:
            member.client = client
            challenge_status, token_status = member.sign_in()
        results["lockout"] = {
            "stranger_200": statuses.count(200),
            "stranger_429": statuses.count(429),
            "member_challenge": challenge_status,
            "member_token": token_status,
            "member_signed_in": token_status == 200,
        }
    finally:
        server.stop()
    return results


def _print(name: str, results: dict[str, Any]) -> None:
    print(f"\n== {name} (amplification body: {results['body_bytes']} bytes)")
    for case in ("challenge_route", "sync_made_up_token", "three_at_once_challenge"):
        r = results[case]
        print(
            f"  {case:26} status {r['statuses']}  time {r['seconds']:.3f} s  "
            f"peak RSS growth {r['peak_growth_mb']:.1f} MB  kept {r['kept_mb']:.1f} MB"
        )
    lock = results["lockout"]
    print(
        f"  1,000 stranger challenges for the member's id: {lock['stranger_200']} x 200, "
        f"{lock['stranger_429']} x 429; then the member: challenge {lock['member_challenge']}, "
        f"token {lock['member_token']}, signed in: {lock['member_signed_in']}"
    )


def test_bench_strangers(tmp_path: Path) -> None:
    main(tmp_path)


def main(work: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    before = os.environ.get("MINGA_BENCH_BEFORE_TREE")
    if before:
        figures["before"] = run(Path(before), work / "before")
        _print(f"before ({before})", figures["before"])
    figures["after"] = run(None, work / "after")
    _print("after (this tree)", figures["after"])
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        main(Path(folder))
    sys.exit(0)
