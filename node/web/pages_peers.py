"""Peers (/pairs): who we know, in what state, their fingerprints; seeds and the deny-list (admins)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from protocol import ProtocolError, fingerprint, is_node_id

from storage import log, peers, session

from .. import catalogue
from ..clock import now_ms
from ..config import ConfigError, Seed
from ..runtime import NODE, Node
from . import auth
from .render import N_, redirect, render, translator

STATE_LABELS = {"new": N_("nouveau"), "active": N_("actif"), "unreachable": N_("injoignable"),
                "gone": N_("disparu"), "refused": N_("refusé")}


def peer_list(node: Node) -> list[dict[str, Any]]:
    with session(node.engine) as s:
        forked = {e.origin for e in log.equivocations(s)}
        found = peers.list_all(s)
    return [
        {"node_id": p.node_id, "name": p.name, "addresses": p.addresses, "source": p.source, "state": p.state,
         "last_seen_ms": p.last_seen_ms, "failures": p.failures, "last_error": p.last_error,
         "fingerprint": fingerprint(p.node_id), "equivocated": p.node_id in forked,
         "denied": p.node_id in node.denied}
        for p in found
    ]


async def _page(request: web.Request, *, error: Any = None, status: int = 200) -> web.Response:
    user = await auth.require(request, auth.READER)
    node = request.config_dict[NODE]
    known = await node.run(peer_list, node)
    listed = {p["node_id"] for p in known}
    _ = translator(request)
    notice = {"added": _("Pair ajouté : la prochaine synchronisation le contactera."),
              "denied": _("Nœud refusé désormais."), "allowed": _("Nœud retiré de la liste de refus.")}.get(
        request.query.get("fait", ""))
    denied_only = [{"node_id": n, "since": since, "fingerprint": fingerprint(n)}
                   for n, since in sorted(node.denied.items()) if n not in listed]
    return render(request, "peers.html", peers=known, denied_only=denied_only, own_id=node.node_id,
                  own_fingerprint=fingerprint(node.node_id), own_url=node.config.advertised_url,
                  is_admin=auth.has_role(user, auth.ADMIN), notice=notice, error=error, status=status,
                  state_label=lambda state: _(STATE_LABELS.get(state, state)))


async def peers_page(request: web.Request) -> web.Response:
    return await _page(request)


async def add_seed(request: web.Request) -> web.Response:
    await auth.require(request, auth.ADMIN)
    data = await auth.form(request)
    node = request.config_dict[NODE]
    _ = translator(request)
    try:
        seed = Seed.parse(str(data.get("seed", "")).strip())
    except ConfigError as exc:
        return await _page(request, error=_("Adresse refusée : %(reason)s", reason=str(exc)), status=400)

    def commit() -> None:
        with session(node.engine) as s, s.begin():
            peers.upsert(s, seed.node_id, addresses=[seed.url], source="seed", now_ms=now_ms())

    await node.run(commit)
    node.sync_now.set()
    raise redirect("/pairs?fait=added")


async def deny(request: web.Request) -> web.Response:
    await auth.require(request, auth.ADMIN)
    data = await auth.form(request)
    node = request.config_dict[NODE]
    _ = translator(request)
    node_id = str(data.get("node_id", "")).strip()
    reason = str(data.get("reason", "")).strip()[:500] or None
    if not is_node_id(node_id):
        return await _page(request, error=_("Ce n'est pas un identifiant de nœud."), status=400)
    try:
        node.denied = await node.run(catalogue.set_denied, node.engine, node.key, node_id, True, reason)
    except ProtocolError as exc:
        return await _page(request, error=_("Refusé : %(reason)s", reason=exc.message), status=400)
    raise redirect("/pairs?fait=denied")


async def allow(request: web.Request) -> web.Response:
    await auth.require(request, auth.ADMIN)
    data = await auth.form(request)
    node = request.config_dict[NODE]
    node_id = str(data.get("node_id", "")).strip()
    if node_id in node.denied:
        node.denied = await node.run(catalogue.set_denied, node.engine, node.key, node_id, False)
    raise redirect("/pairs?fait=allowed")


ROUTES: list[web.RouteDef] = [
    web.get("/pairs", peers_page),
    web.post("/pairs", add_seed),
    web.post("/pairs/refuser", deny),
    web.post("/pairs/autoriser", allow),
]
