"""Travel mode on the server (issue 16): a membership left behind is answered as an outsider's
everywhere until the device presents the token whose hash it left; a wrong token lifts nothing,
and leaving names no space the device is not in."""

from __future__ import annotations

import hashlib
import secrets

from tests.server.conftest import Harness


def test_away_until_the_right_token(server: Harness) -> None:
    space, members = server.space_with(editor=1)
    editor = members["editor"][0]
    admin = members["admin"][0]
    admin.sync(push=[admin.put(space, "rec", b"secret-record")])
    other = server.device()
    other_space = other.create_space()
    editor.login()
    token = secrets.token_bytes(32)
    verifier = hashlib.sha256(token).digest()
    left = editor.call(
        "POST", "/v1/travel/leave", {"v": 1, "spaces": [space, other_space], "verifier": verifier}
    )
    assert left.status_code == 200
    # The answer does not say which of the ids were memberships.
    assert space.encode() not in left.content and other_space.encode() not in left.content
    listed = editor.call("GET", "/v1/spaces")
    assert space.encode() not in listed.content
    assert editor.call("GET", f"/v1/spaces/{space}/keys").status_code == 404
    assert editor.get_statements(space).status_code == 404
    assert editor.call("GET", f"/v1/spaces/{space}/members").status_code == 404
    # The outsider's own space is untouched by a stranger naming it.
    other.login()
    assert other.call("GET", f"/v1/spaces/{other_space}/members").status_code == 200
    wrong = editor.call("POST", "/v1/travel/return", {"v": 1, "token": secrets.token_bytes(32)})
    assert wrong.status_code == 200
    assert editor.call("GET", f"/v1/spaces/{space}/members").status_code == 404
    back = editor.call("POST", "/v1/travel/return", {"v": 1, "token": token})
    assert back.status_code == 200
    assert space.encode() in back.content
    assert editor.call("GET", f"/v1/spaces/{space}/members").status_code == 200
    assert space.encode() in editor.call("GET", "/v1/spaces").content
