"""A real node (tests/node/harness.py) with known web accounts, and a browser-like client."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from node.app import RunningNode
from storage import make_engine, session, users

from ..node.harness import make_home, running

PASSWORDS = {"admin": "admin-password-1", "marie": "member-password-1", "lucien": "reader-password-1"}


def add_accounts(database_url: str) -> None:
    """The first administrator gets a known password; a member and a reader are added."""
    engine = make_engine(database_url)
    try:
        with session(engine) as s, s.begin():
            admin = users.get_by_name(s, "admin")
            assert admin is not None, "init creates the first administrator"
            users.set_password(s, admin.id, users.hash_password(PASSWORDS["admin"]))
            users.create(s, "marie", "member", users.hash_password(PASSWORDS["marie"]), now_ms=0)
            users.create(s, "lucien", "reader", users.hash_password(PASSWORDS["lucien"]), now_ms=0)
    finally:
        engine.dispose()


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[RunningNode]:
    config = make_home(tmp_path, "Ressourcerie du Plateau")
    add_accounts(config.database_url)
    async with running(config) as n:
        yield n


class Browser:
    """An aiohttp client that keeps cookies (also for 127.0.0.1) and does not follow redirects."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def get(self, path: str, **kwargs: Any) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.http.get(self.base + path, allow_redirects=False, **kwargs) as resp:
            return resp.status, await resp.text(), resp

    async def post(self, path: str, data: Any = None, **kwargs: Any) -> tuple[int, str, aiohttp.ClientResponse]:
        async with self.http.post(self.base + path, data=data, allow_redirects=False, **kwargs) as resp:
            return resp.status, await resp.text(), resp

    async def csrf(self, path: str) -> str:
        """The CSRF token of the page's forms (as a browser would send it back)."""
        status, html, _ = await self.get(path)
        assert status == 200, (status, html[:500])
        found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
        assert found, html[:2000]
        return found.group(1)

    async def login(self, name: str, password: str | None = None) -> tuple[int, str, aiohttp.ClientResponse]:
        token = await self.csrf("/connexion")
        return await self.post("/connexion", {"csrf_token": token, "name": name,
                                              "password": PASSWORDS.get(name, "") if password is None else password})

    async def close(self) -> None:
        await self.http.close()


@pytest.fixture
async def browser(node: RunningNode) -> AsyncIterator[Browser]:
    b = Browser(node.url)
    yield b
    await b.close()


@pytest.fixture
async def make_browser(node: RunningNode) -> AsyncIterator[Any]:
    made: list[Browser] = []

    def make() -> Browser:
        made.append(Browser(node.url))
        return made[-1]

    yield make
    for b in made:
        await b.close()
