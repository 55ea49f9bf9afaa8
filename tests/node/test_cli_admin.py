"""`maillage admin password`: a web account's one-time password from the command line, node stopped or running."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp

from storage import make_engine, session, users

from .harness import NodeProcess, make_home
from .test_cli import maillage, ok

PASSWORD = re.compile(r"mot de passe à usage unique ([a-z2-9]{5}(?:-[a-z2-9]{5}){3})")


def _account(database_url: str, name: str, password: str) -> tuple[str, str] | None:
    """(name, role) if ``password`` opens the account, else None."""
    engine = make_engine(database_url)
    try:
        with session(engine) as s, s.begin():
            user = users.authenticate(s, name, password)
            return None if user is None else (user.name, user.role)
    finally:
        engine.dispose()


def test_init_password_is_replaced_and_printed_once_on_a_stopped_node(tmp_path: Path) -> None:
    home = tmp_path / "noeud"
    first = json.loads(ok("init", "--home", str(home), "--name", "Ressourcerie", "--json"))["admin"]["password"]
    out = ok("admin", "password", "--home", str(home))
    found = PASSWORD.search(out)
    assert found, out
    assert "« admin » (admin)" in out and "n'est affiché qu'une fois" in out and "Compte créé" not in out
    database = f"sqlite:///{home / 'node.sqlite'}"
    assert _account(database, "admin", found.group(1)) == ("admin", "admin")
    assert _account(database, "admin", first) is None  # the old one no longer opens it
    # Only the hash is kept: the printed password is nowhere in the home folder.
    assert not any(found.group(1).encode() in f.read_bytes() for f in home.rglob("*") if f.is_file())


def test_a_missing_account_is_created_with_its_role_and_an_existing_one_keeps_it(tmp_path: Path) -> None:
    config = make_home(tmp_path, "Banque alimentaire")
    home = str(config.home)
    made = json.loads(ok("admin", "password", "--home", home, "--name", "marie", "--role", "member", "--json"))
    assert made["name"] == "marie" and made["role"] == "member" and made["created"] is True
    assert _account(config.database_url, "marie", made["password"]) == ("marie", "member")
    again = json.loads(ok("admin", "password", "--home", home, "--name", "marie", "--json"))
    assert again["created"] is False and again["role"] == "member" and again["password"] != made["password"]
    changed = json.loads(ok("admin", "password", "--home", home, "--name", "marie", "--role", "reader", "--json"))
    assert _account(config.database_url, "marie", changed["password"]) == ("marie", "reader")
    # Without --role, a new account is an administrator (the case of a node made before accounts existed).
    assert json.loads(ok("admin", "password", "--home", home, "--name", "claire", "--json"))["role"] == "admin"

    english = ok("admin", "password", "--home", home, "--name", "nadia", "--role", "reader", lang="en")
    assert "Account created." in english and "Web account “nadia” (reader): one-time password" in english
    refused = maillage("admin", "password", "--home", home, "--name", "   ")
    assert refused.returncode == 2 and "le nom doit compter" in refused.stderr
    refused = maillage("admin", "password", "--home", home, "--role", "owner")
    assert refused.returncode == 2 and "invalid choice" in refused.stderr


async def test_on_a_running_node_the_new_password_signs_in_and_old_sessions_end(tmp_path: Path) -> None:
    config = make_home(tmp_path, "Club sportif")
    first = json.loads(ok("admin", "password", "--home", str(config.home), "--json"))["password"]
    node = NodeProcess(config)
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as web:

            async def sign_in(password: str) -> int:
                async with web.get(node.url + "/connexion") as resp:
                    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', await resp.text())
                assert token
                form = {"csrf_token": token.group(1), "name": "admin", "password": password}
                async with web.post(node.url + "/connexion", data=form, allow_redirects=False) as resp:
                    return resp.status

            async def home_status() -> int:
                async with web.get(node.url + "/compte", allow_redirects=False) as resp:
                    return resp.status

            assert await sign_in(first) == 303 and await home_status() == 200
            second = json.loads(ok("admin", "password", "--home", str(config.home), "--json"))["password"]
            assert await home_status() == 303  # the session opened with the old password is closed
            assert await sign_in(first) == 401
            assert await sign_in(second) == 303 and await home_status() == 200
    finally:
        node.stop()
