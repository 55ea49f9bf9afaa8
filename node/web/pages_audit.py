"""The audit page (/audit): our transparency log's state, and an agreement verified from its live bundle.

Verifying builds the agreement's audit bundle as ``maillage audit verify``
does (node/audit_api.py: our chain and log proofs, the other party's
checkpoint and proofs asked over the federation) and runs the offline
verifier (protocol/audit.py) on it; each check group is shown ✓ or ✗ with
its findings. The bundle itself downloads from /audit/{id}/bundle.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from protocol import open_envelope
from protocol.audit import CHECKS, Report, to_json, verify_bundle
from storage import agreements as stored
from storage import log, session

from ..audit_api import build_bundle
from ..runtime import NODE, Node
from .auth import READER, require
from .pages_agreements import names_of
from .render import finish, not_found, render, translator


def _status(node: Node) -> dict[str, Any]:
    """The log's size, latest checkpoint and its witnesses, forks caught, and the agreements to pick from."""
    with session(node.engine) as s:
        latest = log.latest_checkpoint(s, node.node_id)
        checkpoint = None
        witnesses: list[str] = []
        if latest is not None:
            witnesses = [open_envelope(raw).issuer for raw in log.cosignatures(s, latest.message_id)]
            checkpoint = {"size": latest.size, "root": bytes(latest.root).hex(), "issued_ms": latest.issued_ms}
        equivocations = [{"origin": e.origin, "found_ms": e.found_ms, "reported_by": e.reported_by}
                         for e in log.equivocations(s)]
        rows = stored.listing(s)
        known = {*witnesses, *(e["origin"] for e in equivocations), *(e["reported_by"] or "" for e in equivocations),
                 *(row.counterpart for row in rows)}
        names = names_of(node, s, [k for k in known if k])
        size = log.size(s)
    recovery = node.log_recovery
    return {
        "size": size,
        "checkpoint": checkpoint,
        "witnesses": witnesses,
        "equivocations": equivocations,
        "recovery": None if recovery is None else {
            "witnessed_size": recovery.witnessed_size, "local_size": recovery.local_size, "witness": recovery.witness},
        "names": names,
        "agreements": [{"id": row.id.hex(), "title": row.title or row.resource or row.id.hex()[:8],
                        "counterpart": row.counterpart, "state": row.state} for row in rows],
    }


def _find(node: Node, text: str) -> bytes | None:
    """An agreement we hold, by its id or the start of it (at least 6 hexadecimal characters, unambiguous)."""
    text = text.strip().lower()
    if len(text) < 6 or any(c not in "0123456789abcdef" for c in text):
        return None
    with session(node.engine) as s:
        if len(text) == 32:
            return bytes.fromhex(text) if stored.get(s, bytes.fromhex(text)) is not None else None
        found = [row.id for row in stored.listing(s, limit=10_000) if row.id.hex().startswith(text)]
    return found[0] if len(found) == 1 else None


def _groups(report: Report) -> list[dict[str, Any]]:
    """Each check group: ``bad`` when a finding names it, ``ok`` when something held, else ``none`` (nothing to check)."""
    groups = []
    for check in CHECKS:
        findings = [f.to_json() for f in report.findings if f.check == check]
        notes = [n.to_json() for n in report.notes if n.check == check]
        count = report.checked.get(check, 0)
        status = "bad" if findings else "ok" if count or check == "equivocation" else "none"
        groups.append({"check": check, "status": status, "count": count, "findings": findings, "notes": notes})
    return groups


async def audit_page(request: web.Request) -> web.Response:
    await require(request, READER)
    node = request.config_dict[NODE]
    status = await node.run(_status, node)
    asked = request.query.get("accord", "").strip()
    verified = None
    not_found = False
    if asked:
        agreement_id = await node.run(_find, node, asked)
        bundle = await build_bundle(node, agreement_id) if agreement_id is not None else None
        if bundle is None:
            not_found = True
        else:
            report = await node.run(verify_bundle, bundle)
            verified = {
                "id": agreement_id.hex(),  # type: ignore[union-attr]
                "ok": report.ok,
                "state": report.state,
                "parties": dict(report.parties),
                "groups": _groups(report),
                "findings": len(report.findings),
            }
            status["names"].update(await node.run(_names, node, list(report.parties.values())))
    return render(request, "audit.html", status=200 if not not_found else 404, log=status, asked=asked,
                  verified=verified, not_found=not_found)


def _names(node: Node, node_ids: list[str]) -> dict[str, str]:
    with session(node.engine) as s:
        return names_of(node, s, node_ids)


async def download_bundle(request: web.Request) -> web.StreamResponse:
    """The agreement's audit bundle as a JSON file (bytes in hex), to check anywhere with ``maillage audit verify``."""
    await require(request, READER)
    node = request.config_dict[NODE]
    text = request.match_info["agreement_id"]
    agreement_id = await node.run(_find, node, text) if len(text) == 32 else None
    bundle = await build_bundle(node, agreement_id) if agreement_id is not None else None
    if bundle is None:
        _ = translator(request)
        raise not_found(request, _("Aucun accord de ce nœud ne porte cet identifiant."))
    body = json.dumps(to_json(bundle), ensure_ascii=False, indent=1)
    response = web.Response(text=body, content_type="application/json", charset="utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="accord-{agreement_id.hex()}.json"'
    finish(request, response)
    return response


ROUTES = [
    web.get("/audit", audit_page, name="audit"),
    web.get("/audit/{agreement_id}/bundle", download_bundle, name="audit_bundle"),
]

__all__ = ["ROUTES"]
