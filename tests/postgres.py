"""A throwaway PostgreSQL server for the test session (real server, no mocks).

Uses $MAILLAGE_TEST_POSTGRES_URL when set; otherwise starts a private cluster
with initdb/pg_ctl in a temporary folder on a free loopback port, and stops and
deletes it at the end. On CI (CI=true) a missing server is an error, not a skip.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield an admin URL (postgresql://user@127.0.0.1:port/postgres) of a running server."""
    given = os.environ.get("MAILLAGE_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        message = "PostgreSQL is not installed (initdb/pg_ctl not found); .ci/run installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    base = Path(tempfile.mkdtemp(prefix="maillage-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    port = _free_port()
    try:
        subprocess.run(
            _as_postgres([initdb, "-D", str(data), "-U", "maillage", "--auth=trust", "-E", "UTF8", "--no-sync"]),
            check=True,
            capture_output=True,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off -c max_connections=200"
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-l", str(base / "log"), "-o", options, "-w", "start"]),
            check=True,
            capture_output=True,
        )
        url = f"postgresql://maillage@127.0.0.1:{port}/postgres"
        yield url
    finally:
        if data.exists():
            subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def create_database(admin_url: str) -> str:
    """A fresh empty database on the server; returns its URL."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:16]
    deadline = time.monotonic() + 10
    while True:
        try:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    return admin_url.rsplit("/", 1)[0] + "/" + name
