"""Behind the association's reverse proxy: limits count the client's address, and only a trusted proxy is believed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from node.app import RunningNode
from node.config import ConfigError
from node.web import auth

from ..node.harness import make_home, running
from .conftest import Browser, add_accounts

# Header values only: no traffic goes to these documentation addresses (RFC 5737).
CLIENT_A = "198.51.100.7"
CLIENT_B = "198.51.100.8"


class ForwardedBrowser(Browser):
    """A browser whose requests reach the node through a proxy on 127.0.0.1 that names the client."""

    def __init__(self, base: str, client: str) -> None:
        super().__init__(base)
        self.http._default_headers = self.http._prepare_headers({"X-Forwarded-For": client})  # type: ignore[attr-defined]


async def _blocked_after_failures(attacker: Browser) -> None:
    for _ in range(auth.MAX_FAILURES):
        assert (await attacker.login("admin", "guess-guess"))[0] == 401
    assert (await attacker.login("admin"))[0] == 429


@pytest.fixture
async def proxied(tmp_path: Path) -> AsyncIterator[RunningNode]:
    config = make_home(tmp_path, "Ressourcerie du Plateau", trusted_proxies=["127.0.0.1"])
    add_accounts(config.database_url)
    async with running(config) as n:
        yield n


async def test_behind_a_trusted_proxy_one_client_failing_does_not_block_the_others(proxied: RunningNode) -> None:
    attacker, colleague = ForwardedBrowser(proxied.url, CLIENT_A), ForwardedBrowser(proxied.url, CLIENT_B)
    try:
        await _blocked_after_failures(attacker)
        assert (await colleague.login("marie"))[0] == 303  # another client behind the same proxy
    finally:
        await attacker.close()
        await colleague.close()


async def test_an_untrusted_sender_cannot_pick_its_address_with_the_header(tmp_path: Path) -> None:
    config = make_home(tmp_path, "Ressourcerie du Plateau")  # no trusted proxy: the header means nothing
    add_accounts(config.database_url)
    async with running(config) as node:
        attacker, same_host = ForwardedBrowser(node.url, CLIENT_A), ForwardedBrowser(node.url, CLIENT_B)
        try:
            await _blocked_after_failures(attacker)
            assert (await same_host.login("marie"))[0] == 429  # still 127.0.0.1 whatever it claims
        finally:
            await attacker.close()
            await same_host.close()


def test_trusted_proxies_are_checked_when_the_configuration_is_read(tmp_path: Path) -> None:
    config = make_home(tmp_path / "a", "Ressourcerie", trusted_proxies=["10.0.0.0/8", "::1"])
    assert config.trusted_proxies == ("10.0.0.0/8", "::1")
    with pytest.raises(ConfigError, match="'proxy.example' is not an IP address"):
        make_home(tmp_path / "b", "Ressourcerie", trusted_proxies=["proxy.example"])
