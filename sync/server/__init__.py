"""The zero-knowledge sync server: FastAPI app, schema, auth, spaces and chunk store."""
