"""Document stores behind one port: MongoDB for the fleet, SQLite for local mode."""

from stigmer_api.storage.base import Collection, DocumentStore

__all__ = ["Collection", "DocumentStore"]
