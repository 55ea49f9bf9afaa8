"""Zeroconf / DNS-SD: advertise this node on the local network and hear of the others.

The node is announced as ``<name> (<id prefix>)._maillage._tcp.local.`` with the
RFC 6763 TXT entries ``id=<node id>``, ``pv=<protocol version>`` and
``name=<display name>``, and the same service type is browsed. A discovered
service only yields *hints*: a node id and base URLs ``http://<ip>:<port>``
handed to ``on_found``. Nothing is accepted from such a peer until the signed
handshake (``Synchronizer.sync_peer``) proves that the node answering at that
address holds the key of the advertised id; an address answering as another
node is dropped and the peer refused.

mDNS is best effort. Where it cannot work (listening on loopback only, no
multicast, no default route for the "default" interface choice, loopback
interfaces named explicitly) the node says so once in its log and keeps
working from seed lists and peer exchange.
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Union

from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from protocol import PROTOCOL_VERSION, is_node_id

from .config import WILDCARD_HOSTS as WILDCARDS

log = logging.getLogger(__name__)

SERVICE_TYPE = "_maillage._tcp.local."
MDNS_CHOICES = ("off", "default", "all")
RESOLVE_TIMEOUT_MS = 3000
CLOSE_TIMEOUT_S = 5.0
_TXT_MAX = 255  # bytes per TXT string, "key=value" included (RFC 6763 §6.1)
_LABEL_MAX = 63  # bytes per DNS label: the instance name is one label

OnFound = Callable[[str, list[str]], Union[Awaitable[None], None]]
Interfaces = Union[InterfaceChoice, list[str]]


class MdnsOptionError(ValueError):
    """The ``mdns`` option is not off, default, all or a list of IP addresses."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do for a given configuration: where to listen, what to announce, or why not."""

    interfaces: Interfaces | None
    addresses: tuple[str, ...]
    ip_version: IPVersion
    skip_reason: str = ""


def parse_mdns_option(value: str) -> Interfaces | None:
    """``off`` → None, ``default``/``all`` → zeroconf's choice, else a list of interface addresses."""
    text = value.strip().lower()
    if text == "off":
        return None
    if text == "default":
        return InterfaceChoice.Default
    if text == "all":
        return InterfaceChoice.All
    addresses: list[str] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            addresses.append(str(ipaddress.ip_address(item)))
        except ValueError:
            raise MdnsOptionError(
                f"mdns: {item!r} is not an IP address; expected off, default, all or addresses like 192.0.2.10,2001:db8::10"
            ) from None
    if not addresses:
        raise MdnsOptionError("mdns: expected off, default, all or a comma-separated list of IP addresses")
    return addresses


def check_mdns_option(value: str) -> str:
    """Validate the option (for the configuration loader); returns it unchanged."""
    parse_mdns_option(value)
    return value


def txt_properties(node_id: str, name: str) -> dict[str, str]:
    """The TXT entries: id, protocol version, and the display name cut to fit one TXT string."""
    return {"id": node_id, "pv": str(PROTOCOL_VERSION), "name": _cut_utf8(name, _TXT_MAX - len(b"name="))}


def instance_name(name: str, node_id: str) -> str:
    """A readable, unique-enough service instance label: ``<name> (<8 first chars of the id>)``."""
    suffix = f" ({node_id[:8]})"
    cleaned = "".join(ch if ch.isprintable() and ch != "." else " " for ch in name).strip() or "Maillage"
    return _cut_utf8(cleaned, _LABEL_MAX - len(suffix.encode())).rstrip() + suffix


def base_url(address: str, port: int) -> str:
    return f"http://[{address}]:{port}" if ":" in address else f"http://{address}:{port}"


def _cut_utf8(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


def _usable_remote(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """An address worth handing to the sync loop: not loopback, unspecified, multicast or IPv6 link-local."""
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast:
        return False
    return not (ip.version == 6 and ip.is_link_local)


def _local_addresses(version: int) -> list[str]:
    """This machine's addresses of one IP version, loopback and IPv6 link-local left out."""
    import ifaddr  # a dependency of zeroconf

    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for entry in adapter.ips:
            raw = entry.ip[0] if isinstance(entry.ip, tuple) else entry.ip
            try:
                ip = ipaddress.ip_address(raw)
            except ValueError:
                continue
            if ip.version == version and _usable_remote(ip) and str(ip) not in found:
                found.append(str(ip))
    return found


def plan(mdns: str, host: str) -> Plan:
    """Decide the interfaces and the announced addresses from the option and the listen address.

    The announced addresses are those the node listens on: its listen address,
    or for a wildcard listen address the machine's addresses (restricted to the
    listed ones when the option names interfaces).
    """
    choice = parse_mdns_option(mdns)
    if choice is None:
        return Plan(None, (), IPVersion.V4Only, "mdns = \"off\"")
    if _is_loopback(host):
        return Plan(None, (), IPVersion.V4Only, f"the node listens on {host} only, which no other machine can reach")
    if isinstance(choice, list):
        loopbacks = [a for a in choice if _is_loopback(a)]
        if loopbacks:
            return Plan(None, (), IPVersion.V4Only, f"mDNS does not work on loopback ({', '.join(loopbacks)})")
    if host in WILDCARDS:
        versions = (4,) if host == "0.0.0.0" else (4, 6)
        if isinstance(choice, list):
            addresses = [a for a in choice if ipaddress.ip_address(a).version in versions]
        else:
            addresses = [a for v in versions for a in _local_addresses(v)]
    else:
        try:
            host = str(ipaddress.ip_address(host))
        except ValueError:
            raise ValueError(f"listen address {host!r} is a host name; listen on an IP address to use mDNS") from None
        addresses = [host]
        if choice is InterfaceChoice.Default:
            # Listening on one address: announce on that address's interface, not on
            # whichever interface holds the default route (which may not exist).
            choice = [host]
    if not addresses:
        return Plan(None, (), IPVersion.V4Only, f"no address to announce for listen address {host!r}")
    families = {ipaddress.ip_address(a).version for a in addresses}
    if isinstance(choice, list):
        families |= {ipaddress.ip_address(a).version for a in choice}
    ip_version = IPVersion.All if families == {4, 6} else IPVersion.V6Only if families == {6} else IPVersion.V4Only
    return Plan(choice, tuple(addresses), ip_version)


class Discovery:
    """Announce this node and browse for others; ``start``/``stop`` fit an aiohttp ``cleanup_ctx``.

    ``on_found(node_id, base_urls)`` is called (a coroutine function is awaited)
    once per newly seen or changed service of another node. A failure to start
    mDNS is logged once and leaves ``running`` false; the node carries on.
    """

    def __init__(self, *, node_id: str, name: str, host: str, port: int, mdns: str, on_found: OnFound) -> None:
        self.node_id = node_id
        self.name = name
        self.host = host
        self.port = port
        self.mdns = mdns
        self.on_found = on_found
        self._aiozc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._info: AsyncServiceInfo | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seen: dict[str, tuple[str, tuple[str, ...]]] = {}  # service name → (node id, urls)

    @property
    def running(self) -> bool:
        return self._aiozc is not None

    @property
    def service_name(self) -> str | None:
        """The instance name actually registered (zeroconf may rename it on a conflict)."""
        return self._info.name if self._info is not None else None

    async def start(self) -> bool:
        """Start announcing and browsing; False (after one log line) when mDNS is not used."""
        try:
            todo = plan(self.mdns, self.host)
        except ValueError as exc:  # a bad option, or a listen address that is a host name
            log.warning("mDNS unavailable (%s); discovery uses seed lists only", exc)
            return False
        if todo.interfaces is None:
            if self.mdns.strip().lower() == "off":
                log.info("mDNS is off; discovery uses seed lists only")
            else:
                log.info("mDNS skipped: %s; discovery uses seed lists only", todo.skip_reason)
            return False
        try:
            await self._start(todo)
        except Exception as exc:  # OSError (no multicast, no default route), zeroconf errors: never fatal
            await self._close()
            log.warning("mDNS unavailable (%s); discovery uses seed lists only", _describe(exc))
            return False
        log.info(
            "mDNS: announcing %s as %r on %s, browsing for %s",
            ", ".join(base_url(a, self.port) for a in todo.addresses),
            self.service_name,
            _describe_interfaces(todo.interfaces),
            SERVICE_TYPE,
        )
        return True

    async def _start(self, todo: Plan) -> None:
        assert todo.interfaces is not None
        self._aiozc = AsyncZeroconf(interfaces=todo.interfaces, ip_version=todo.ip_version)
        zc = self._aiozc.zeroconf
        await zc.async_wait_for_start()
        if not zc.engine.senders:
            raise OSError(f"no usable multicast interface among {_describe_interfaces(todo.interfaces)}")
        self._info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{instance_name(self.name, self.node_id)}.{SERVICE_TYPE}",
            port=self.port,
            properties=txt_properties(self.node_id, self.name),
            server=f"maillage-{self.node_id[:16]}.local.",
            parsed_addresses=list(todo.addresses),
        )
        await self._aiozc.async_register_service(self._info, allow_name_change=True)
        self._browser = AsyncServiceBrowser(zc, SERVICE_TYPE, handlers=[self._on_change])

    async def stop(self) -> None:
        """Stop browsing, say goodbye on the network, close the sockets; waits for every task."""
        await self._close()

    async def _close(self) -> None:
        browser, self._browser = self._browser, None
        aiozc, self._aiozc = self._aiozc, None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            if browser is not None:
                await asyncio.wait_for(browser.async_cancel(), CLOSE_TIMEOUT_S)
            if aiozc is not None:
                # Closing unregisters our service first (goodbye packets with TTL 0).
                await asyncio.wait_for(aiozc.async_close(), CLOSE_TIMEOUT_S)
        except Exception as exc:
            log.info("mDNS did not close cleanly: %s", _describe(exc))
        self._info = None
        self._seen.clear()

    # -- browsing -------------------------------------------------------------

    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Removed:
            self._seen.pop(name, None)
            return
        if self._info is not None and name == self._info.name:
            return
        task = asyncio.get_running_loop().create_task(self._resolve(zeroconf, service_type, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, zeroconf: Zeroconf, service_type: str, name: str) -> None:
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(zeroconf, RESOLVE_TIMEOUT_MS):
            log.debug("mDNS: %s did not resolve", name)
            return
        found = hint_from(info, own_id=self.node_id)
        if found is None:
            return
        node_id, urls = found
        if self._seen.get(name) == (node_id, tuple(urls)):
            return
        self._seen[name] = (node_id, tuple(urls))
        log.info("mDNS: %s advertises node %s at %s", name, node_id, ", ".join(urls))
        try:
            result = self.on_found(node_id, urls)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("mDNS: handling %s failed", name)


def hint_from(info: AsyncServiceInfo, *, own_id: str) -> tuple[str, list[str]] | None:
    """(node id, base URLs) from a resolved service, or None when it is ours or unusable."""
    txt = {
        key.decode("utf-8", "replace"): None if value is None else value.decode("utf-8", "replace")
        for key, value in info.properties.items()
    }
    node_id = txt.get("id") or ""
    if node_id == own_id:
        return None
    if not is_node_id(node_id):
        log.info("mDNS: ignoring %s, its TXT id is not a node id", info.name)
        return None
    if txt.get("pv") not in (None, str(PROTOCOL_VERSION)):
        log.info("mDNS: ignoring %s, protocol version %r", info.name, txt.get("pv"))
        return None
    if not info.port:
        return None
    urls: list[str] = []
    for ip in info.ip_addresses_by_version(IPVersion.All):
        if _usable_remote(ip):
            url = base_url(str(ip).split("%")[0], info.port)
            if url not in urls:
                urls.append(url)
    if not urls:
        log.info("mDNS: ignoring %s, no usable address", info.name)
        return None
    return node_id, urls


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.ENODEV:
        return f"{exc.strerror}: no interface for multicast, e.g. no default route for mdns = \"default\"; try \"all\" or an address"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _describe_interfaces(interfaces: Interfaces) -> str:
    if interfaces is InterfaceChoice.Default:
        return "the default interface"
    if interfaces is InterfaceChoice.All:
        return "all interfaces"
    return ", ".join(str(i) for i in interfaces)  # type: ignore[union-attr]
