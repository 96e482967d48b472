"""Enrollment refuses device keys anyone could forge for (finding 5 of issue 13).

With the Ed25519 identity point as a public key, R = identity and S = 0 verify for every
message: the enrollment signature itself is such a forgery, and OpenSSL accepts it. The server
now refuses the key (`key_invalid`) before anything is stored, on SQLite and PostgreSQL."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sync.protocol import EnrollRequest, ErrorCode, enroll_statement
from tests.helpers.server_client import DeviceClient
from tests.server.conftest import Harness

IDENTITY = (1).to_bytes(32, "little")  # the Ed25519 neutral point (x = 0, y = 1)
FORGED = IDENTITY + bytes(32)  # R = identity, S = 0


def test_the_identity_point_signature_verifies_with_the_library_alone() -> None:
    """The finding, reproduced: the primitive itself does not refuse it."""
    for message in (b"anything", b"minga-enroll-v1\x00whatever"):
        Ed25519PublicKey.from_public_bytes(IDENTITY).verify(FORGED, message)


def test_enrolling_a_small_order_or_malformed_key_is_refused(server: Harness) -> None:
    honest = DeviceClient(server.http)
    invite = server.operator_invite()
    request = EnrollRequest(invite, IDENTITY, honest.box_public, FORGED)
    assert enroll_statement(invite, IDENTITY, honest.box_public)  # what FORGED "signs"
    response = honest.call("POST", "/v1/enroll", request.to_wire(), auth=False)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == ErrorCode.KEY_INVALID.value

    # A sound signing key with a small-order receiving key: wraps to it would be readable
    # by anyone (the shared secret is all zeros).
    for box in (bytes(32), (1).to_bytes(32, "little"), (2**255 - 19).to_bytes(32, "little")):
        statement = enroll_statement(invite, honest.sign_public, box)
        request = EnrollRequest(invite, honest.sign_public, box, honest.sign_key.sign(statement))
        response = honest.call("POST", "/v1/enroll", request.to_wire(), auth=False)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == ErrorCode.KEY_INVALID.value

    # The invite was not spent by the refusals: the honest keys enroll with it.
    assert honest.enroll(invite).status_code == 201
