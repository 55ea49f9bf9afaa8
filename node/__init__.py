"""Maillage node: everything that does I/O (HTTP server and client, discovery, sync, CLI)."""
