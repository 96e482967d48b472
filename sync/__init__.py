"""End-to-end encrypted sync: crypto, the wire protocol, the client engine and the server."""
