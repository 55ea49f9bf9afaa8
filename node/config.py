"""One frozen configuration object, from the node home's config file, the environment and flags.

Precedence: command-line flags > MAILLAGE_* environment variables > <home>/config.toml > defaults.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from protocol import FreshnessWindow, is_node_id

from storage import sqlite_url

DEFAULT_PORT = 8470
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
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
    push_fanout: int = 8  # peers offered each record we publish
    gossip_fanout: int = 3  # peers a record that was news to us is passed on to
    window: FreshnessWindow = field(default_factory=FreshnessWindow)
    max_body_bytes: int = 1 << 20
    peer_rate_per_s: float = 50.0
    peer_burst: int = 200
    request_timeout_s: float = 15.0
    mdns: str = "default"  # off | default | all | comma-separated interface addresses (see docs/discovery.md)
    # Loan requests that fit the calendar are accepted at once from: these node ids, "peers" (the
    # nodes of our federation: found through seeds, peer exchange or mDNS), or "*" (anyone).
    auto_accept: tuple[str, ...] = ()
    outbox_interval_s: float = 5.0  # how often undelivered agreement events are retried at most
    # Map tiles for the search page, as a {z}/{x}/{y} URL template of a tile server the association
    # may use (its own, or a provider's under its terms); empty: the map shows places without tiles.
    tile_url: str = ""
    # Reverse proxies (addresses or networks) whose X-Forwarded-For/-Proto we believe: behind one,
    # rate limits and sign-in limits count the client's address, not the proxy's.
    trusted_proxies: tuple[str, ...] = ()

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
    "MAILLAGE_MDNS": "mdns",
    "MAILLAGE_TRUSTED_PROXIES": "trusted_proxies",
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


_SCALARS: dict[str, type] = {
    "name": str,
    "description": str,
    "territory": str,
    "contact": str,
    "db_url": str,
    "host": str,
    "public_url": str,
    "mdns": str,
    "tile_url": str,
    "port": int,
    "sync_batch": int,
    "sync_max_pages": int,
    "push_fanout": int,
    "gossip_fanout": int,
    "max_body_bytes": int,
    "peer_burst": int,
    "sync_interval_s": float,
    "peer_rate_per_s": float,
    "request_timeout_s": float,
    "outbox_interval_s": float,
    "background_sync": bool,
}
_OTHER_KEYS = {"location", "seeds", "window_past_s", "window_future_s", "auto_accept", "trusted_proxies"}


def _scalar(key: str, value: Any) -> Any:
    kind = _SCALARS[key]
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("1", "true", "yes", "oui"):
            return True
        if str(value).lower() in ("0", "false", "no", "non"):
            return False
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected {'a number' if kind in (int, float) else 'text'}, got {value!r}") from None


def _build(home: Path, values: dict[str, Any]) -> NodeConfig:
    unknown = set(values) - set(_SCALARS) - _OTHER_KEYS
    if unknown:
        raise ConfigError(f"unknown configuration keys: {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {key: _scalar(key, value) for key, value in values.items() if key in _SCALARS}
    if "location" in values:
        loc = values["location"]
        if not (isinstance(loc, (list, tuple)) and len(loc) == 2 and all(type(v) is int for v in loc)):
            raise ConfigError("location: expected [lat, lon] in integer micro-degrees")
        kwargs["location"] = (loc[0], loc[1])
    if "seeds" in values:
        kwargs["seeds"] = tuple(s if isinstance(s, Seed) else Seed.parse(str(s)) for s in values["seeds"])
    if "auto_accept" in values:
        kwargs["auto_accept"] = _auto_accept(values["auto_accept"])
    if "trusted_proxies" in values:
        kwargs["trusted_proxies"] = _trusted_proxies(values["trusted_proxies"])
    if "window_past_s" in values or "window_future_s" in values:
        past = _scalar_float("window_past_s", values.get("window_past_s", 300))
        future = _scalar_float("window_future_s", values.get("window_future_s", 120))
        kwargs["window"] = FreshnessWindow(past_ms=int(past * 1000), future_ms=int(future * 1000))
    if kwargs.get("public_url"):
        kwargs["public_url"] = _base_url(kwargs["public_url"], what="public_url")
    if "mdns" in kwargs and kwargs["mdns"].strip().lower() not in ("off", "default", "all"):
        from .discovery import MdnsOptionError, check_mdns_option

        try:
            check_mdns_option(kwargs["mdns"])
        except MdnsOptionError as exc:
            raise ConfigError(str(exc)) from None
    config = NodeConfig(home=home, **kwargs)
    if not 0 <= config.port <= 65535:
        raise ConfigError(f"port: {config.port} is not a TCP port")
    if not 1 <= config.sync_batch <= 1000:
        raise ConfigError("sync_batch: must be between 1 and 1000")
    if config.host in WILDCARD_HOSTS and not config.public_url:
        raise ConfigError(
            f"host {config.host!r} listens on every interface: set public_url to the address peers "
            "should call (e.g. http://192.0.2.10:8470), or they would be told to call 0.0.0.0"
        )
    return config


def _auto_accept(value: Any) -> tuple[str, ...]:
    entries = [value] if isinstance(value, str) else value
    if not isinstance(entries, (list, tuple)) or not all(isinstance(e, str) for e in entries):
        raise ConfigError('auto_accept: expected a list of node ids, "peers" or "*"')
    bad = [e for e in entries if e not in ("*", "peers") and not is_node_id(e)]
    if bad:
        raise ConfigError(f'auto_accept: {bad[0]!r} is not a node id, "peers" (our federation) or "*" (anyone)')
    return tuple(entries)


def _trusted_proxies(value: Any) -> tuple[str, ...]:
    entries = [e.strip() for e in value.split(",") if e.strip()] if isinstance(value, str) else value
    if not isinstance(entries, (list, tuple)) or not all(isinstance(e, str) for e in entries):
        raise ConfigError("trusted_proxies: expected a list of addresses or networks, e.g. [\"127.0.0.1\"]")
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(f"trusted_proxies: {entry!r} is not an IP address or network") from None
    return tuple(entries)


def _scalar_float(key: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected a number, got {value!r}") from None


def write_initial(
    home: Path,
    *,
    name: str,
    port: int,
    description: str = "",
    territory: str = "",
    contact: str = "",
    location: tuple[int, int] | None = None,
    db_url: str | None = None,
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
        + (f"db_url = {_toml_string(db_url)}\n" if db_url else "# db_url = \"postgresql://user@host/maillage\"  # default: node.sqlite here\n")
    )
    (home / CONFIG_FILE).write_text(text, "utf-8")


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
