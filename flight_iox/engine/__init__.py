"""The engine: schema catalog, WAL-backed write path, write buffer."""
