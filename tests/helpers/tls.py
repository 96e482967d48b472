"""TLS for tests on 127.0.0.1: a self-signed certificate and the pin a device keeps for it, and a
real `minga-server serve` serving TLS itself (the mode with no nginx in front)."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sync.client.transport import certificate_fingerprint
from tests.helpers.server_process import ServerProcess, fresh_server


@dataclass(frozen=True)
class SelfSigned:
    """A certificate file, its key file, and the certificate's SHA-256 (what a device pins)."""

    cert: Path
    key: Path
    pin: str


def self_signed(folder: Path) -> SelfSigned:
    """A certificate for 127.0.0.1 signed by its own key, written into ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pin = certificate_fingerprint(certificate.public_bytes(serialization.Encoding.DER))
    return SelfSigned(cert_path, key_path, pin)


@contextmanager
def tls_server_process(
    data_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[ServerProcess, SelfSigned]]:
    """A fresh server in ``data_dir`` serving TLS with a self-signed certificate kept beside
    its data; stopped on leaving."""
    data_dir.mkdir(parents=True, exist_ok=True)
    certificate = self_signed(data_dir)
    process = fresh_server(data_dir, extra_env, tls=(certificate.cert, certificate.key))
    try:
        yield process, certificate
    finally:
        process.stop()
