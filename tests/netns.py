"""Throw-away network namespaces for multi-host tests, always removed afterwards.

``lan(n)`` builds a small Ethernet segment that exists only inside namespaces
the test created: a bridge namespace holding ``br0``, and ``n`` host
namespaces, each with ``lo`` and one veth (``eth0``) plugged into the bridge.
The veth pairs are created *inside* the bridge namespace and their far end is
moved straight into the host namespace, so no interface, address or route of
the machine running the tests is ever created or touched. Names carry the pid
and a counter, so parallel runs do not clash.

Teardown kills any process still running in those namespaces (they were all
started by the test) and deletes the namespaces, which deletes their veths and
the bridge with them, even when the test failed.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

SUBNET = "10.213.0"  # a /24 that exists only inside the namespaces made here
_counter = itertools.count(1)


class NetnsUnavailable(Exception):
    """This machine cannot create network namespaces (not root, no `ip`, no kernel support)."""


def unavailable_reason() -> str | None:
    """Why namespaces cannot be used here, or None when they can."""
    if os.name != "posix" or not hasattr(os, "geteuid"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root (run as root, as CI does)"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    return None


def ip(*args: str, check: bool = True, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise NetnsUnavailable(f"ip {' '.join(args)}: {result.stderr.strip() or result.returncode}")
    return result


@dataclass
class Host:
    """One namespace on the test LAN: its name, its address and the processes started in it."""

    netns: str
    address: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def command(self, args: Sequence[str]) -> list[str]:
        """``args`` wrapped so that they run inside this namespace."""
        return ["ip", "netns", "exec", self.netns, *args]

    def popen(self, args: Sequence[str], **kwargs: object) -> subprocess.Popen[bytes]:
        """Start a process in the namespace; it is killed at teardown if still running."""
        proc = subprocess.Popen(self.command(args), **kwargs)  # type: ignore[call-overload]
        self.procs.append(proc)
        return proc

    def run(self, args: Sequence[str], timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(args), capture_output=True, text=True, timeout=timeout)


@dataclass
class Lan:
    bridge_netns: str
    hosts: list[Host]


@contextmanager
def lan(count: int, *, default_route: bool = False) -> Iterator[Lan]:
    """``count`` namespaces on one bridged segment, ``SUBNET.1`` … ``SUBNET.count``.

    With ``default_route`` each namespace also gets a default route via the
    segment (pointing at an address nobody holds); without it the namespaces
    only have their /24, as a host with no gateway.
    """
    reason = unavailable_reason()
    if reason:
        raise NetnsUnavailable(reason)
    tag = f"{os.getpid()}-{next(_counter)}"
    bridge_ns = f"mlg-br-{tag}"
    created: list[str] = []
    hosts: list[Host] = []
    try:
        ip("netns", "add", bridge_ns)
        created.append(bridge_ns)
        ip("-n", bridge_ns, "link", "set", "lo", "up")
        ip("-n", bridge_ns, "link", "add", "br0", "type", "bridge")
        # No IGMP snooping: every port sees every multicast frame, as on a plain switch.
        ip("-n", bridge_ns, "link", "set", "br0", "type", "bridge", "mcast_snooping", "0")
        ip("-n", bridge_ns, "link", "set", "br0", "up")
        for index in range(1, count + 1):
            name = f"mlg-{index}-{tag}"
            ip("netns", "add", name)
            created.append(name)
            port = f"p{index}"
            ip("-n", bridge_ns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", name)
            ip("-n", bridge_ns, "link", "set", port, "master", "br0")
            ip("-n", bridge_ns, "link", "set", port, "up")
            address = f"{SUBNET}.{index}"
            ip("-n", name, "link", "set", "lo", "up")
            ip("-n", name, "link", "set", "eth0", "multicast", "on")
            ip("-n", name, "addr", "add", f"{address}/24", "dev", "eth0")
            ip("-n", name, "link", "set", "eth0", "up")
            if default_route:
                ip("-n", name, "route", "add", "default", "via", f"{SUBNET}.254", "dev", "eth0", "onlink")
            hosts.append(Host(netns=name, address=address))
        yield Lan(bridge_netns=bridge_ns, hosts=hosts)
    finally:
        for host in hosts:
            _stop_all(host.procs)
        for name in reversed(created):
            _kill_leftovers(name)
            ip("netns", "del", name, check=False)


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _kill_leftovers(netns: str) -> None:
    """Kill, by pid, whatever still runs in a namespace this module created (children of our children)."""
    result = ip("netns", "pids", netns, check=False)
    for pid in result.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def exists(netns: str) -> bool:
    return netns in ip("netns", "list", check=False).stdout.split()
