"""mDNS / DNS-SD discovery.

The first tests are plain functions (they run anywhere). The others are real
multi-host tests: `maillage run` in separate network namespaces joined by a
bridge, all created by the test (see tests/netns.py) and removed afterwards;
they need root and iproute2, as in CI, and are skipped otherwise.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from zeroconf import InterfaceChoice, IPVersion

from node import catalogue
from node.config import NodeConfig
from node.discovery import (
    SERVICE_TYPE,
    Discovery,
    MdnsOptionError,
    base_url,
    instance_name,
    parse_mdns_option,
    plan,
    txt_properties,
)
from protocol import SigningKey
from storage import make_engine
from storage.identity import read_key_file

from .. import netns
from .harness import REPO, make_home

PORT = 8470

# ---- pure parts --------------------------------------------------------------


def test_mdns_option_maps_to_zeroconf_interface_choices() -> None:
    assert parse_mdns_option("off") is None
    assert parse_mdns_option("default") is InterfaceChoice.Default
    assert parse_mdns_option("ALL") is InterfaceChoice.All
    assert parse_mdns_option("192.0.2.10, 2001:db8::10") == ["192.0.2.10", "2001:db8::10"]
    for bad in ("eth0", "", "192.0.2.300", ","):
        with pytest.raises(MdnsOptionError):
            parse_mdns_option(bad)


def test_txt_and_instance_name_fit_dns_limits() -> None:
    node_id = SigningKey.generate().node_id
    long_name = "Association des amis de l'étang de Berre et des environs " * 10
    txt = txt_properties(node_id, long_name)
    assert txt["id"] == node_id and txt["pv"] == "1"
    assert len(b"name=" + txt["name"].encode()) <= 255
    label = instance_name(long_name, node_id)
    assert len(label.encode()) <= 63 and label.endswith(f"({node_id[:8]})")
    assert "." not in instance_name("Club v2.0", node_id)
    assert base_url("fd00::5", 8470) == "http://[fd00::5]:8470"
    assert base_url("10.0.0.5", 8470) == "http://10.0.0.5:8470"


def test_plan_skips_loopback_and_follows_the_listen_address() -> None:
    assert plan("default", "127.0.0.1").interfaces is None
    assert "listens on ::1" in plan("all", "::1").skip_reason
    assert "loopback" in plan("::1", "10.0.0.5").skip_reason
    assert plan("off", "10.0.0.5").interfaces is None
    one = plan("default", "10.0.0.5")
    # On one address, "default" means that address's interface (no default route needed).
    assert one.interfaces == ["10.0.0.5"] and one.addresses == ("10.0.0.5",)
    assert plan("all", "10.0.0.5").interfaces is InterfaceChoice.All
    six = plan("2001:db8::5", "2001:db8::5")
    assert six.addresses == ("2001:db8::5",) and six.ip_version is IPVersion.V6Only
    wildcard = plan("192.0.2.7,2001:db8::7", "::")
    assert wildcard.addresses == ("192.0.2.7", "2001:db8::7") and wildcard.ip_version is IPVersion.All


async def test_a_node_on_loopback_starts_no_mdns_and_leaks_nothing(caplog: pytest.LogCaptureFixture) -> None:
    threads = set(threading.enumerate())
    found: list[tuple[str, list[str]]] = []
    discovery = Discovery(node_id=SigningKey.generate().node_id, name="Club", host="127.0.0.1", port=8470,
                          mdns="default", on_found=lambda node_id, urls: found.append((node_id, urls)))
    with caplog.at_level("INFO", logger="node.discovery"):
        assert await discovery.start() is False
    await discovery.stop()
    assert not discovery.running and found == []
    assert [r.getMessage() for r in caplog.records if "127.0.0.1" in r.getMessage()]
    assert set(threading.enumerate()) <= threads


# ---- real hosts in network namespaces -------------------------------------------


@pytest.fixture
def netns_available() -> None:
    reason = netns.unavailable_reason()
    if reason:
        pytest.skip(f"multi-host mDNS tests skipped: {reason}")


def _home(tmp_path: Path, name: str, title: str, mdns: str) -> NodeConfig:
    config = make_home(tmp_path, name)
    with (config.home / "config.toml").open("a", encoding="utf-8") as f:
        f.write(f"mdns = {json.dumps(mdns)}\n")
    engine = make_engine(config.database_url)
    try:
        catalogue.publish(engine, read_key_file(config.key_path), "resource",
                          {"id": title.lower().replace(" ", "-"), "kind": "equipment", "title": title})
    finally:
        engine.dispose()
    return config


def _start(host: netns.Host, config: NodeConfig, *, listen: str | None = None) -> subprocess.Popen[bytes]:
    """`maillage run` in the namespace, no seeds; returns once run.json is written (bounded)."""
    listen = listen or host.address
    log = (config.home / "process.log").open("ab")
    proc = host.popen(
        [sys.executable, "-m", "node.cli", "run", "--home", str(config.home), "--host", listen, "--port", str(PORT),
         "--public-url", f"http://{host.address}:{PORT}", "--sync-interval", "0.5"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={"PYTHONUNBUFFERED": "1", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )
    log.close()
    _until(lambda: config.runtime_path.exists(), 30, f"{config.name} did not start", config, proc=proc)
    return proc


def _until(check: Callable[[], bool], timeout: float, what: str, *configs: NodeConfig,
           proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    logs = "\n".join(f"--- {c.name}\n{_log(c)}" for c in configs)
    pytest.fail(f"{what} (after {timeout} s)\n{logs}")


def _log(config: NodeConfig) -> str:
    path = config.home / "process.log"
    return path.read_text(errors="replace")[-6000:] if path.exists() else ""


def _query(config: NodeConfig, sql: str, *args: object) -> list[tuple[object, ...]]:
    path = config.home / "node.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
        return list(conn.execute(sql, args))


def _resources(config: NodeConfig) -> int:
    return int(_query(config, "SELECT count(*) FROM records WHERE rtype = 'resource'")[0][0])  # type: ignore[call-overload]


def _peer_state(config: NodeConfig, node_id: str) -> str | None:
    rows = _query(config, "SELECT state FROM peers WHERE node_id = ?", node_id)
    return str(rows[0][0]) if rows else None


FAKE_ANNOUNCER = textwrap.dedent(
    """
    import asyncio, sys
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

    async def main(own_address, target_address, port, fake_id):
        aiozc = AsyncZeroconf(interfaces=[own_address])
        info = AsyncServiceInfo(
            "{service}", "Imposteur (" + fake_id[:8] + ").{service}", port=port,
            properties={{"id": fake_id, "pv": "1", "name": "Imposteur"}},
            server="imposteur.local.", parsed_addresses=[target_address],
        )
        await aiozc.async_register_service(info, allow_name_change=True)
        print("announced", flush=True)
        try:
            await asyncio.sleep(3600)
        finally:
            await aiozc.async_close()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]))
    """
).format(service=SERVICE_TYPE)


@pytest.fixture
def lan3(netns_available: None) -> Iterator[netns.Lan]:
    with netns.lan(3) as segment:
        yield segment
    for host in segment.hosts:
        assert not netns.exists(host.netns), "the namespaces are removed after the test"


@pytest.mark.slow
def test_nodes_in_separate_namespaces_discover_each_other_and_replicate(tmp_path: Path, lan3: netns.Lan) -> None:
    host_a, host_b, host_c = lan3.hosts
    a = _home(tmp_path, "Banque alimentaire", "Camion frigorifique", "all")
    b = _home(tmp_path, "Club sportif", "Minibus", "all")
    id_a, id_b = read_key_file(a.key_path).node_id, read_key_file(b.key_path).node_id
    _start(host_a, a)
    _start(host_b, b)
    # No seeds anywhere: only mDNS can have told each node about the other.
    _until(lambda: _resources(a) == 2 and _resources(b) == 2, 60, "catalogues did not replicate", a, b)
    assert f"advertises node {id_b}" in _log(a) and f"advertises node {id_a}" in _log(b)
    assert _peer_state(a, id_b) == "active" and _peer_state(b, id_a) == "active"
    assert "mDNS unavailable" not in _log(a) + _log(b)

    # Someone else on the LAN announces a service with another node id but A's address:
    # the handshake at that address answers as A, so that "peer" ends up refused.
    fake_id = SigningKey.generate().node_id
    script = tmp_path / "fake_announcer.py"
    script.write_text(FAKE_ANNOUNCER, "utf-8")
    fake_log = (tmp_path / "fake.log").open("ab")
    host_c.popen([sys.executable, str(script), host_c.address, host_a.address, str(PORT), fake_id],
                 stdout=fake_log, stderr=subprocess.STDOUT)
    fake_log.close()
    _until(lambda: _peer_state(b, fake_id) == "refused", 60, "the impostor announcement was not refused", a, b)
    assert f"does not answer as {fake_id}" in _log(b)
    # Nothing was taken from the impostor, and the real peers are still fine.
    assert _query(b, "SELECT count(*) FROM records WHERE author = ?", fake_id)[0][0] == 0
    assert _peer_state(b, id_a) == "active" and _resources(b) == 2


@pytest.mark.slow
def test_node_without_default_route_keeps_running_without_mdns(tmp_path: Path, netns_available: None) -> None:
    """Listening on every interface with mdns = "default" in a namespace with no default route:
    zeroconf cannot pick an interface; the node says so once and serves as usual."""
    with netns.lan(1) as segment:
        (host,) = segment.hosts
        config = _home(tmp_path, "MJC", "Salle", "default")
        proc = _start(host, config, listen="0.0.0.0")
        probe = host.run([sys.executable, "-c",
                          f"import urllib.request; print(urllib.request.urlopen('http://{host.address}:{PORT}/', timeout=10).read().decode())"])
        assert "Maillage — MJC" in probe.stdout, probe.stderr
        assert proc.poll() is None
        warnings = [line for line in _log(config).splitlines() if "mDNS unavailable" in line]
        assert len(warnings) == 1 and "seed lists only" in warnings[0], _log(config)


LEAK_CHECK = textwrap.dedent(
    """
    import asyncio, sys, threading
    from node.discovery import Discovery

    async def main(address, node_id):
        before = set(threading.enumerate())
        discovery = Discovery(node_id=node_id, name="Club", host=address, port=8470, mdns="all",
                              on_found=lambda *_: None)
        assert await discovery.start(), "mDNS should start on a namespace with multicast"
        await asyncio.sleep(0.5)
        await discovery.stop()
        assert not discovery.running
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not left, left
        assert set(threading.enumerate()) <= before, threading.enumerate()
        print("clean", flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


@pytest.mark.slow
def test_discovery_stops_everything_it_started(tmp_path: Path, netns_available: None) -> None:
    script = tmp_path / "leak_check.py"
    script.write_text(LEAK_CHECK, "utf-8")
    with netns.lan(1) as segment:
        (host,) = segment.hosts
        proc = subprocess.run(host.command([sys.executable, str(script), host.address, SigningKey.generate().node_id]),
                              cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "clean" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.slow
def test_announcement_is_visible_to_avahi_browse(tmp_path: Path, netns_available: None) -> None:
    if shutil.which("avahi-browse") is None:
        pytest.skip("avahi-browse is not installed")
    with netns.lan(2) as segment:
        host_a, host_b = segment.hosts
        config = _home(tmp_path, "Banque alimentaire", "Camion frigorifique", "all")
        node_id = read_key_file(config.key_path).node_id
        _start(host_a, config)
        result = host_b.run(["avahi-browse", "--resolve", "--terminate", "--parsable", "--no-db-lookup", "_maillage._tcp"],
                            timeout=30)
        if result.returncode != 0 and "aemon" in result.stderr:
            pytest.skip(f"avahi-browse needs an avahi-daemon in the namespace: {result.stderr.strip()}")
        resolved = [line for line in result.stdout.splitlines() if line.startswith("=")]
        assert any(f'"id={node_id}"' in line and host_a.address in line and f";{PORT};" in line for line in resolved), (
            result.stdout + result.stderr
        )
