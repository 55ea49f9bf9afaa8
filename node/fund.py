"""A federation's territorial fund on this node: read it, say what members say, record what the secretariat does.

The fund lives in the federation's chain (protocol/governance/fund.py). A
member's steps (contribute, apply, confirm a distribution arrived) are
statements signed here and embedded by the secretariat's node
(node/convened.py ``say``), which judges and commits them before it answers;
the secretariat's own steps (confirm money arrived, calls, distributions) are
events it adds with node/agreements.py ``take_step``. Either way nothing is
acknowledged before the chain holds it, and a refusal is the protocol's typed
error with nothing changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from protocol import Forbidden, InvalidMessage
from protocol.agreements import AgreementState
from protocol.agreements import federation as F
from protocol.envelope import stored_envelope
from protocol.governance import fund as rules
from protocol.governance.fund import FundError, check_balanced, fund_of, report
from storage import peers, session

from . import agreements, convened, federations
from .federations import UnknownFederation
from .wire import agreement_id_from_hex, plain
from .convened import say
from .runtime import Node

SECRETARIAT = rules.SECRETARIAT
PARIS = ZoneInfo("Europe/Paris")

# What each side may do, under the names the API and the CLI use (dashes) -> the protocol's action.
MEMBER_STEPS: Mapping[str, str] = {
    "contribute": "contribute",
    "withdraw-contribution": "withdraw_contribution",
    "apply": "apply",
    "received": "received",
}
SECRETARIAT_STEPS: Mapping[str, str] = {
    "receive-contribution": "receive_contribution",
    "external": "external",
    "open-call": "open_call",
    "close-call": "close_call",
    "distribute": "distribute",
    "release": "release",
}
assert set(MEMBER_STEPS.values()) == set(rules.STATEMENTS)
assert {action for _, action in rules.EVENTS} == set(SECRETARIAT_STEPS.values())


def federation_id(text: str) -> bytes:
    """A federation's id from its 32 hexadecimal characters (its chain's agreement id)."""
    return agreement_id_from_hex(text, "federation")


async def federation_state(node: Node, fid: bytes) -> AgreementState:
    return await node.run(federations.load, node, fid)


async def step(node: Node, fid: bytes, name: str, data: Mapping[str, Any]) -> tuple[AgreementState, bytes, bytes]:
    """One fund step by this node's operator.

    Returns the federation's state once our chain holds the step, the message id of
    the event that carries it, and the message id of what was signed for it (the
    member's statement, or the secretariat's event itself): the ledger's reference.
    """
    state = await federation_state(node, fid)
    secretariat = state.parties[SECRETARIAT]
    if name in MEMBER_STEPS:
        event = stored_envelope(await say(node, fid, F.KIND, secretariat, MEMBER_STEPS[name], data))
        signed = stored_envelope(event.body["data"]["statement"]).message_id
    elif name in SECRETARIAT_STEPS:
        if secretariat != node.node_id:
            raise Forbidden("only the federation's secretariat records this step on the fund", step=name,
                            secretariat=secretariat)
        event = stored_envelope((await agreements.take_step(node, fid, SECRETARIAT_STEPS[name], data)).event)
        signed = event.message_id
    else:
        raise InvalidMessage(f"unknown fund step {name!r}", known=sorted({*MEMBER_STEPS, *SECRETARIAT_STEPS}))
    await convened.until_held(node, event.raw)  # our copy then shows the step (or as it stands)
    return await federation_state(node, fid), event.message_id, signed


def created(state: AgreementState, signed: bytes) -> dict[str, list[str]]:
    """The ids the step signed as ``signed`` created: the contribution, call, application or
    distribution to refer to next."""
    fund = fund_of(state)
    found = {
        "contributions": [c.id for c in fund.contributions.values()
                          if c.statement == signed or (c.statement is None and c.receipt == signed)],
        "calls": [c.id for c in fund.calls.values() if c.event == signed],
        "applications": [a.id for a in fund.applications.values() if a.statement == signed],
        "distributions": [d.id for d in fund.distributions.values() if d.event == signed],
    }
    return {what: ids for what, ids in found.items() if ids}


# ---- views (JSON) --------------------------------------------------------------------------------


def view(state: AgreementState, names: Mapping[str, str], now: int) -> dict[str, Any]:
    """The fund as the operator reads it: balances, ledger, what is pending, and the legal alerts."""
    fund = fund_of(state)
    try:
        check_balanced(fund)
        problem = None
    except FundError as exc:  # cannot happen with a chain the machine accepted; said rather than hidden
        problem = exc.message
    charter = state.facts.get("charter")
    year = datetime.fromtimestamp(now / 1000, PARIS).year
    return {
        "federation": state.id.hex(),
        "name": getattr(charter, "name", None),
        "secretariat": state.parties[SECRETARIAT],
        "currency": rules.currency_of(state),
        "available": fund.available,
        "held": fund.held,
        "balanced": problem is None,
        "problem": problem,
        "balances": [
            {"account": account, "name": _account_name(account, names), "debits": b.debits, "credits": b.credits,
             "balance": b.amount}
            for account, b in rules.balances(state).items()
        ],
        "ledger": [plain(entry) for entry in fund.entries],
        "contributions": [plain(c) | {"node": c.node, "name": _account_name(c.account, names)}
                          for c in fund.contributions.values()],
        "criteria": [plain(c) for c in fund.criteria],
        "calls": [plain(c) | {"open": c.open_at(now)} for c in fund.calls.values()],
        "applications": [
            plain(a) | {"granted": fund.granted.get(a.id, 0), "remaining": fund.balance(rules.ALLOCATED + a.id),
                        "applicant_name": names.get(a.applicant)}
            for a in fund.applications.values()
        ],
        "allocations": [plain(a) for a in fund.allocations],
        "distributions": [plain(d) | {"beneficiary_name": names.get(d.beneficiary)} for d in fund.distributions.values()],
        "alerts": [plain(a) for a in report(state, year).alerts],
        "members": sorted(state.facts.get("members", {})),
    }


def report_view(state: AgreementState, year: int, names: Mapping[str, str]) -> dict[str, Any]:
    """The activity report's figures for ``year``; beneficiaries' names where this node knows them."""
    figures = plain(report(state, year))
    for beneficiary in figures["beneficiaries"]:
        beneficiary["name"] = names.get(beneficiary["beneficiary"])
    for gift in figures["gifts"]:
        gift["name"] = _account_name(gift["account"], names)
    return figures


def peer_names(node: Node) -> dict[str, str]:
    """Association names by node id, as this node knows them (its own included)."""
    with session(node.engine) as s:
        names = {p.node_id: p.name for p in peers.list_all(s) if p.name}
    names[node.node_id] = node.config.name
    return names


def _account_name(account: str, names: Mapping[str, str]) -> str | None:
    kind, _, rest = account.partition(":")
    if kind in ("contributor", "beneficiary"):
        return names.get(rest)
    if kind == "external":
        return rest
    return None


__all__ = [
    "MEMBER_STEPS",
    "SECRETARIAT_STEPS",
    "UnknownFederation",
    "created",
    "federation_id",
    "federation_state",
    "peer_names",
    "report_view",
    "step",
    "view",
]
