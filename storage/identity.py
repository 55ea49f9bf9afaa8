"""The node's own identity: the key file (mode 0600) and the identity row."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlmodel import Session

from protocol import InvalidMessage, SigningKey

from .models import NodeIdentity


class KeyFileError(Exception):
    """The key file is missing, unreadable, or readable by others."""


def write_key_file(path: Path, key: SigningKey) -> None:
    """Create the key file with mode 0600; never overwrite an existing key."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key.to_pem())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_key_file(path: Path) -> SigningKey:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(f"no key file at {path}: run `maillage init` first") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path} is readable by other users; run `chmod 600 {path}`")
    try:
        return SigningKey.from_pem(path.read_bytes())
    except (InvalidMessage, ValueError) as exc:
        raise KeyFileError(f"{path} is not a usable Ed25519 key file: {exc}") from None


def get(session: Session) -> NodeIdentity | None:
    return session.get(NodeIdentity, 1)


def save(session: Session, node_id: str, name: str, *, now_ms: int) -> NodeIdentity:
    row = session.get(NodeIdentity, 1) or NodeIdentity(node_id=node_id, name=name, created_ms=now_ms)
    row.node_id, row.name = node_id, name
    session.add(row)
    return row
