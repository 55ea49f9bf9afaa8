"""Maillage storage: SQLModel tables and repository functions that take a session."""

from .engine import make_engine, normalise_url, session, sqlite_url
from .migrate import upgrade

__all__ = ["make_engine", "normalise_url", "session", "sqlite_url", "upgrade"]
