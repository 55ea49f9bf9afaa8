"""create_app(config): the node's routes and resources, opened and closed in a visible order."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from aiohttp_remotes import XForwardedFiltered

from storage import make_engine, peers, session, upgrade

from . import api, calendar_feeds, campaigns, catalogue, federation, keys
from .clock import now_ms
from .config import NodeConfig
from .federations import close_decisions_forever
from .home import read_token
from .outbox import Outbox
from .peers import PeerClient
from .runtime import NODE, Node
from .sync import Synchronizer
from .transparency import Witness
from .web import setup as setup_web
from .wire import FEDERATION_PREFIX

log = logging.getLogger(__name__)

WITNESS_INTERVAL_FACTOR = 5  # peers' checkpoints are checked every few sync rounds


class StartupError(Exception):
    """The node cannot start: the message says what to fix."""


def create_app(config: NodeConfig) -> web.Application:
    app = web.Application()
    if config.trusted_proxies:
        # Before every other middleware and sub-application: they all see the client's address.
        app.middlewares.append(XForwardedFiltered(set(config.trusted_proxies)).middleware)
    app.cleanup_ctx.append(_open_node(config))
    app.cleanup_ctx.append(_peer_client)
    app.cleanup_ctx.append(_discovery)
    app.add_subapp(FEDERATION_PREFIX, federation.create_app())
    app.add_subapp(api.API_PREFIX, api.create_app())
    setup_web(app)  # the web pages on "/" (node/web), beside /api/v1, /fed/v1 and /ical
    app.add_routes(calendar_feeds.ROUTES)
    return app


def _open_node(config: NodeConfig):  # type: ignore[no-untyped-def]
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        engine = make_engine(config.database_url)
        try:
            await asyncio.to_thread(upgrade, engine)
            key = await asyncio.to_thread(keys.load_signing_key, config, engine)
        except BaseException:
            engine.dispose()
            raise
        node = Node(config=config, key=key, engine=engine, token=read_token(config))
        try:
            await node.run(catalogue.publish_descriptor, engine, key, config)
            node.denied = await node.run(catalogue.denied_nodes, engine, key.node_id)
            node.keyring = await node.run(keys.load_keyring, engine)
            app[NODE] = node
            yield
        finally:
            await node.cancel_tasks()
            node.shutdown()
            engine.dispose()

    return ctx


async def _peer_client(app: web.Application) -> AsyncIterator[None]:
    node = app[NODE]
    client = PeerClient(node.key, node.config, node.keyring)
    await client.start()
    node.synchronizer = Synchronizer(node, client)
    node.outbox = Outbox(node, client)
    await node.synchronizer.add_seeds()
    if node.config.background_sync:
        node.spawn(node.synchronizer.run_forever(), loop=True)
    # Agreement events always travel: waiting for a sync round would leave a borrower unanswered.
    node.spawn(node.outbox.run_forever(), loop=True)
    node.spawn(close_decisions_forever(node), loop=True)  # as a federation's secretariat: close decisions on time
    node.spawn(campaigns.conclude_when_due(node), loop=True)  # as a campaign's organiser: conclude at the deadline
    node.witness = Witness(node)
    if node.config.background_sync:
        node.spawn(node.witness.run_forever(WITNESS_INTERVAL_FACTOR * node.config.sync_interval_s), loop=True)
    try:
        yield
    finally:
        await node.cancel_tasks()
        await client.close()


async def _discovery(app: web.Application) -> AsyncIterator[None]:
    """mDNS: announce the node and turn what others announce into candidate peers (a hint only:
    the signed handshake decides). Never fatal: without multicast the node logs it once and goes on."""
    node = app[NODE]
    config = node.config
    if config.mdns.strip().lower() == "off" or _loopback_only(config.host):
        # Nothing to announce to: zeroconf is not even loaded (it costs memory on small boxes).
        why = "disabled" if config.mdns.strip().lower() == "off" else "listening on loopback only"
        log.info("mDNS off (%s); discovery uses seed lists and peer exchange", why)
        yield
        return
    from .discovery import Discovery

    async def found(node_id: str, addresses: list[str]) -> None:
        await node.run(_remember_mdns_peer, node, node_id, addresses)
        node.sync_now.set()

    discovery = Discovery(
        node_id=node.node_id, name=config.name, host=config.host, port=config.port, mdns=config.mdns, on_found=found
    )
    await discovery.start()
    try:
        yield
    finally:
        await discovery.stop()


def _remember_mdns_peer(node: Node, node_id: str, addresses: list[str]) -> None:
    with session(node.engine) as s, s.begin():
        peers.upsert(s, node_id, addresses=addresses, source="mdns", now_ms=now_ms())


def _loopback_only(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class RunningNode:
    """A node serving HTTP; ``stop()`` closes everything it opened."""

    config: NodeConfig
    runner: web.AppRunner

    @property
    def node(self) -> Node:
        return self.runner.app[NODE]

    @property
    def url(self) -> str:
        return self.config.advertised_url

    async def stop(self) -> None:
        await self.runner.cleanup()
        try:
            self.config.runtime_path.unlink()
        except FileNotFoundError:
            pass


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock


def local_url(host: str, port: int) -> str:
    """How a program on this machine reaches the node (a wildcard bind is reached on loopback)."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def start_node(config: NodeConfig) -> RunningNode:
    """Bind (port 0 picks a free port), start the app, and write <home>/run.json for the CLI."""
    sock = bind_socket(config.host, config.port)
    config = config.with_bound_port(sock.getsockname()[1])
    runner = web.AppRunner(create_app(config), access_log=None, handle_signals=False, shutdown_timeout=2.0)
    try:
        await runner.setup()
        await web.SockSite(runner, sock).start()
    except BaseException:
        await runner.cleanup()
        sock.close()
        raise
    running = RunningNode(config, runner)
    runtime = {
        "url": running.url,
        "api_url": local_url(config.host, config.port),
        "node_id": running.node.node_id,
        "pid": os.getpid(),
    }
    tmp = config.runtime_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(runtime), "utf-8")
    tmp.replace(config.runtime_path)
    log.info("node %s listening on %s", running.node.node_id, running.url)
    return running
