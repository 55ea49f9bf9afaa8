"""The memory floor of the fixed stack: what an idle process costs before any Maillage code.

The dependencies the project fixed (aiohttp serving on a port, cryptography's
Ed25519, msgpack, SQLModel over SQLite with one table and one query) started
and left idle, nothing else. ``bench/memory.py`` runs it beside a real node in
the same run, so the node's figure is read against what it cannot go below.
"""

from __future__ import annotations

import asyncio
import sys

import msgpack
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlmodel import Field, Session, SQLModel, create_engine, select


class Row(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    body: bytes


async def serve(database: str) -> None:
    engine = create_engine(f"sqlite:///{database}")
    SQLModel.metadata.create_all(engine)
    key = ed25519.Ed25519PrivateKey.generate()
    with Session(engine) as s:
        s.add(Row(body=key.sign(msgpack.packb({"t": "floor"}))))
        s.commit()
        list(s.exec(select(Row)))
    app = web.Application()
    app.router.add_get("/", lambda request: web.Response(text="ok"))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print("ready", flush=True)
    await asyncio.Event().wait()  # idle until killed


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
