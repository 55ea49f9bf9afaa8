"""Configuration: precedence, clear errors naming the key, what `init` writes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from node.config import ConfigError, load
from node.home import init_home


def test_flags_override_environment_override_file(tmp_path: Path) -> None:
    home = init_home(tmp_path / "n", name="Banque", port=8470).home
    assert load(home).port == 8470
    assert load(home, env={"MAILLAGE_PORT": "9000"}).port == 9000
    assert load(home, {"port": 9100}, env={"MAILLAGE_PORT": "9000"}).port == 9100


@pytest.mark.parametrize(
    "overrides, named",
    [
        ({"port": "huit"}, "port"),
        ({"background_sync": "peut-être"}, "background_sync"),
        ({"location": [45.7, 4.8]}, "location"),
        ({"host": "0.0.0.0"}, "public_url"),
        ({"sync_batch": 5000}, "sync_batch"),
        ({"seeds": ["http://127.0.0.1:1"]}, "node-id"),
    ],
)
def test_bad_values_are_refused_naming_the_key(tmp_path: Path, overrides: dict[str, object], named: str) -> None:
    home = init_home(tmp_path / "n", name="Banque", port=0).home
    with pytest.raises(ConfigError, match=named):
        load(home, overrides)


def test_unknown_key_in_the_file_is_an_error(tmp_path: Path) -> None:
    home = init_home(tmp_path / "n", name="Banque", port=0).home
    with (home / "config.toml").open("a") as f:
        f.write("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="colour"):
        load(home)


def test_init_makes_a_private_home_and_remembers_the_database(tmp_path: Path, postgres_db_url: str) -> None:
    config = init_home(tmp_path / "hub", name="Fédération", port=0, db_url=postgres_db_url)
    assert stat.S_IMODE(config.home.stat().st_mode) == 0o700
    assert load(config.home).database_url == postgres_db_url
    assert not (config.home / "node.sqlite").exists()
