"""One frozen configuration object, from the node home's config file, the environment and flags.

Precedence: command-line flags > MAILLAGE_* environment variables > <home>/config.toml > defaults.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from protocol import FreshnessWindow, is_node_id

from storage import sqlite_url

DEFAULT_PORT = 8470
CONFIG_FILE = "config.toml"
KEY_FILE = "node.key"
TOKEN_FILE = "api-token"
DB_FILE = "node.sqlite"
RUNTIME_FILE = "run.json"


class ConfigError(Exception):
    """A configuration value is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True, slots=True)
class Seed:
    """A peer named by the operator: its base URL and the node id it must prove."""

    url: str
    node_id: str

    @classmethod
    def parse(cls, text: str) -> Seed:
        url, sep, node_id = text.strip().partition("#")
        if not sep or not is_node_id(node_id):
            raise ConfigError(f"seed {text!r}: expected http://host:port#<node-id> (the id pins who must answer)")
        return cls(url=_base_url(url, what="seed"), node_id=node_id)

    def __str__(self) -> str:
        return f"{self.url}#{self.node_id}"


def _base_url(url: str, *, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{what} {url!r}: expected an http:// or https:// URL")
    return url.rstrip("/")


@dataclass(frozen=True, slots=True)
class NodeConfig:
    home: Path
    name: str = ""
    description: str = ""
    territory: str = ""
    contact: str = ""
    location: tuple[int, int] | None = None  # micro-degrees
    db_url: str = ""
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    public_url: str = ""  # what peers are told to call; defaults to http://host:port
    seeds: tuple[Seed, ...] = ()
    sync_interval_s: float = 30.0
    background_sync: bool = True  # tests turn it off and drive rounds themselves
    sync_batch: int = 1000  # records per page; pages are also capped in bytes by the server
    sync_max_pages: int = 100  # per peer per round: a round always ends
    push_fanout: int = 8
    window: FreshnessWindow = field(default_factory=FreshnessWindow)
    max_body_bytes: int = 1 << 20
    peer_rate_per_s: float = 50.0
    peer_burst: int = 200
    request_timeout_s: float = 15.0

    @property
    def key_path(self) -> Path:
        return self.home / KEY_FILE

    @property
    def token_path(self) -> Path:
        return self.home / TOKEN_FILE

    @property
    def runtime_path(self) -> Path:
        return self.home / RUNTIME_FILE

    @property
    def database_url(self) -> str:
        return self.db_url or sqlite_url(self.home / DB_FILE)

    def with_bound_port(self, port: int) -> NodeConfig:
        """After binding port 0, the real port (and the public URL if it was derived)."""
        return replace(self, port=port)

    @property
    def advertised_url(self) -> str:
        if self.public_url:
            return self.public_url
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


_ENV_KEYS = {
    "MAILLAGE_DB": "db_url",
    "MAILLAGE_HOST": "host",
    "MAILLAGE_PORT": "port",
    "MAILLAGE_PUBLIC_URL": "public_url",
    "MAILLAGE_SYNC_INTERVAL": "sync_interval_s",
}


def load(home: Path, overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> NodeConfig:
    """Read <home>/config.toml, then the environment, then ``overrides`` (flags; None means unset)."""
    home = home.expanduser().resolve()
    values: dict[str, Any] = {}
    path = home / CONFIG_FILE
    if path.exists():
        try:
            values.update(tomllib.loads(path.read_text("utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    for var, key in _ENV_KEYS.items():
        if var in (env if env is not None else os.environ):
            values[key] = (env if env is not None else os.environ)[var]
    for key, value in (overrides or {}).items():
        if value is not None and value != ():
            values[key] = value
    return _build(home, values)


def _build(home: Path, values: dict[str, Any]) -> NodeConfig:
    known = set(NodeConfig.__dataclass_fields__) - {"home", "window"}
    unknown = set(values) - known - {"window_past_s", "window_future_s"}
    if unknown:
        raise ConfigError(f"unknown configuration keys: {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {}
    try:
        for key in ("name", "description", "territory", "contact", "db_url", "host", "public_url"):
            if key in values:
                kwargs[key] = str(values[key])
        for key in ("port", "sync_batch", "sync_max_pages", "push_fanout", "max_body_bytes", "peer_burst"):
            if key in values:
                kwargs[key] = int(values[key])
        for key in ("sync_interval_s", "peer_rate_per_s", "request_timeout_s"):
            if key in values:
                kwargs[key] = float(values[key])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"configuration value has the wrong type: {exc}") from exc
    if "location" in values:
        loc = values["location"]
        if not (isinstance(loc, list) and len(loc) == 2 and all(isinstance(v, int) for v in loc)):
            raise ConfigError("location must be [lat, lon] in integer micro-degrees")
        kwargs["location"] = (loc[0], loc[1])
    if "seeds" in values:
        kwargs["seeds"] = tuple(s if isinstance(s, Seed) else Seed.parse(str(s)) for s in values["seeds"])
    if "window_past_s" in values or "window_future_s" in values:
        kwargs["window"] = FreshnessWindow(
            past_ms=int(float(values.get("window_past_s", 300)) * 1000),
            future_ms=int(float(values.get("window_future_s", 120)) * 1000),
        )
    if "public_url" in kwargs and kwargs["public_url"]:
        kwargs["public_url"] = _base_url(kwargs["public_url"], what="public_url")
    config = NodeConfig(home=home, **kwargs)
    if not 0 <= config.port <= 65535:
        raise ConfigError(f"port {config.port} is not a TCP port")
    if not 1 <= config.sync_batch <= 1000:
        raise ConfigError("sync_batch must be between 1 and 1000")
    return config


def write_initial(
    home: Path,
    *,
    name: str,
    port: int,
    description: str = "",
    territory: str = "",
    contact: str = "",
    location: tuple[int, int] | None = None,
) -> None:
    """The config file `init` writes: the values an operator is most likely to edit."""
    location_line = (
        f"location = [{location[0]}, {location[1]}]  # latitude, longitude in micro-degrees\n"
        if location
        else "# location = [45764043, 4835659]  # latitude, longitude in micro-degrees\n"
    )
    text = (
        "# Maillage node configuration. Flags and MAILLAGE_* variables override these values.\n"
        f"name = {_toml_string(name)}\n"
        f"description = {_toml_string(description)}\n"
        f"territory = {_toml_string(territory)}\n"
        "# The association's public contact (a generic address or a web page, never a person).\n"
        f"contact = {_toml_string(contact)}\n"
        f"{location_line}"
        'host = "127.0.0.1"\n'
        f"port = {port}\n"
        '# seeds = ["http://host:port#<node-id>"]\n'
    )
    (home / CONFIG_FILE).write_text(text, "utf-8")


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
