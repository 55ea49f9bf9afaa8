"""A node's home folder: key, API token, configuration and (by default) its SQLite database."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from protocol import SigningKey

from storage import identity, make_engine, session, upgrade, users

from . import catalogue
from .clock import now_ms
from .config import NodeConfig, load, write_initial

TOKEN_BYTES = 32


class HomeError(Exception):
    """The home folder cannot be created or is not a node home."""


FIRST_ADMIN = "admin"


def init_home(
    home: Path,
    *,
    name: str,
    port: int,
    db_url: str | None = None,
    profile: dict[str, Any] | None = None,
    admin_password: str | None = None,
) -> NodeConfig:
    """Create a node: key file (0600), API token (0600), config, migrated database, signed descriptor,
    and the first web administrator, ``admin``.

    ``profile`` holds the association's public description, territory, contact and location.
    ``admin_password`` is the administrator's one-time password (only its hash is stored);
    without it a random one nobody knows is set (an administrator can be given one later).
    """
    home = home.expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)  # the database holds private records and the folder the key
    if (home / "node.key").exists():
        raise HomeError(f"{home} already holds a node (node.key exists); choose another --home")
    if not name.strip():
        raise HomeError("the association's name must not be empty")
    write_initial(home, name=name.strip(), port=port, db_url=db_url, **(profile or {}))
    config = load(home)
    key = SigningKey.generate()
    identity.write_key_file(config.key_path, key)
    _write_private(config.token_path, secrets.token_urlsafe(TOKEN_BYTES))
    engine = make_engine(config.database_url)
    try:
        upgrade(engine)
        with session(engine) as s, s.begin():
            identity.save(s, key.node_id, config.name, now_ms=now_ms())
            password = admin_password or users.new_password()
            users.create(s, FIRST_ADMIN, "admin", users.hash_password(password), now_ms=now_ms())
        catalogue.publish_descriptor(engine, key, config)
    finally:
        engine.dispose()
    return config


def read_token(config: NodeConfig) -> str:
    try:
        return config.token_path.read_text("ascii").strip()
    except FileNotFoundError:
        raise HomeError(f"no API token in {config.home}: is it a node home (maillage init)?") from None


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text.encode("ascii") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
