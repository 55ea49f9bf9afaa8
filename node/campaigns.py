"""Co-funding campaigns on this node: open one, pledge, pay, confirm, import platform totals, conclude.

A campaign is a convened agreement (protocol/agreements/campaign.py): the
organiser's node orders its chain; every other association signs statements
(pledge, amend, withdraw, paid, received) that node/convened.py carries to
the organiser, which embeds them and sends the chain to every participant.

What only a node can do lives here: finding a federation's members to invite
(the federation chains it holds say who they are), refusing a pledge from a
node outside the campaign's federations (a commit hook, on the organiser's
node only), announcing a public campaign as a "need" record so others find
it, reading a crowdfunding platform's CSV export into one aggregated import
(no payer ever stored), and concluding campaigns whose deadline passed.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import Session

from protocol import Forbidden, InvalidMessage, ProtocolError, TooLarge
from protocol.agreements import AgreementState
from protocol.agreements.campaign import (
    CAMPAIGN,
    FEDERATIONS,
    ORGANISER,
    PUBLIC,
    CampaignTerms,
    ImportData,
    PledgeData,
    conclusion_of,
    parse_terms,
    tally,
)
from protocol.schema import parse
from storage import agreements as stored
from storage import memberships, records, session
from storage.models import Agreement, CatalogueRecord

from . import catalogue
from .agreements import COMMIT_HOOKS, Progress, act, load_state, take_step
from .clock import now_ms
from .convened import convene, say
from .runtime import Node, wait_or_timeout
from .wire import agreement_id_from_hex, plain, wire_form

log = logging.getLogger(__name__)

KIND = CAMPAIGN.name
ANNOUNCEMENT_PREFIX = "campaign-"  # the need record announcing campaign X is "campaign-X"
CHECK_INTERVAL_S = 60.0  # the conclusion loop looks at least this often (and wakes for a new campaign)
OPEN_STATES = ("draft", "open")
MAX_EXPORT_BYTES = 5 * 1024 * 1024
MAX_EXPORT_ROWS = 100_000
DEFAULT_TZ = "Europe/Paris"


def campaign_id(text: str) -> bytes:
    return agreement_id_from_hex(text, "campaign")


# ---- reading ---------------------------------------------------------------------------------


def campaign_rows(s: Session, states: Sequence[str] | None = None) -> list[Agreement]:
    """The campaigns we hold, latest first; only those in ``states`` when given."""
    stmt = select(Agreement).where(Agreement.kind == KIND).order_by(Agreement.updated_ms.desc())  # type: ignore[attr-defined]
    if states is not None:
        stmt = stmt.where(Agreement.state.in_(list(states)))  # type: ignore[attr-defined]
    return list(s.scalars(stmt))


def held_state(s: Session, agreement_id: bytes) -> AgreementState | None:
    state = load_state(s, agreement_id)
    if state is not None and state.kind != KIND:
        raise InvalidMessage("that agreement is not a campaign", kind=state.kind)
    return state


def announcement_of(s: Session, agreement_id: bytes) -> tuple[str, dict[str, Any]] | None:
    """(organiser, body) of the need record announcing a campaign we learnt of through the catalogue."""
    record_id = ANNOUNCEMENT_PREFIX + agreement_id.hex()
    stmt = select(CatalogueRecord).where(  # type: ignore[attr-defined]
        CatalogueRecord.rtype == "need", CatalogueRecord.record_id == record_id  # type: ignore[attr-defined]
    )
    for row in s.scalars(stmt):
        body = records.body_of(row.envelope)
        if body.get("campaign") == agreement_id.hex():
            return row.author, body
    return None


def organiser_of(node: Node, agreement_id: bytes) -> str:
    """The node to send our statements to: from the chain we hold, else from the campaign's announcement."""
    with session(node.engine) as s:
        state = held_state(s, agreement_id)
        if state is not None:
            return state.parties[ORGANISER]
        announced = announcement_of(s, agreement_id)
    if announced is None:
        raise InvalidMessage("this campaign is unknown here: give its organiser's node id", campaign=agreement_id.hex())
    return announced[0]


def describe(node: Node, agreement_id: bytes) -> dict[str, Any] | None:
    """A campaign as the local API shows it: terms, participants, tally, payments (JSON-ready)."""

    with session(node.engine) as s:
        row = stored.get(s, agreement_id)
        state = held_state(s, agreement_id)
        if row is None or state is None:
            return None
        pending = stored.pending_count(s, agreement_id)
    counted = tally(state)
    facts = state.facts
    receipts = facts.get("receipts", {})
    payments = [
        {"id": payment_id, **plain(payment), "receipt": plain(receipts[payment_id]) if payment_id in receipts else None}
        for payment_id, payment in facts.get("payments", {}).items()
    ]
    return {
        "id": agreement_id.hex(),
        "title": state.terms.title,
        "state": state.name,
        "role": state.role_of(node.node_id),
        "organiser": state.parties[ORGANISER],
        "members": dict(state.members),
        "terms": plain(state.terms),
        "opening": facts["opening"].hex(),
        "cosigned": list(facts.get("cosigned", ())),
        "tally": plain(counted),
        "imports": [plain(i) for i in facts.get("imports", {}).values()],
        "payments": payments,
        "withdrawn": sorted(facts.get("withdrawn", {})),
        "outcome": plain(facts["outcome"]) if "outcome" in facts else None,
        "ended": plain(facts["ended"]) if "ended" in facts else None,
        "seq": state.seq,
        "pending_deliveries": pending,
        "refusal": json.loads(row.refusal) if row.refusal else None,
    }


def listing(node: Node) -> dict[str, Any]:
    """Campaigns whose chain we hold, and public campaigns announced to us that we do not hold."""
    with session(node.engine) as s:
        rows = campaign_rows(s)
        held = []
        for row in rows:
            state = held_state(s, row.id)
            if state is None:
                continue
            counted = tally(state)
            held.append(_list_entry(row.id.hex(), state.terms, state.name, state.parties[ORGANISER],
                                    state.role_of(node.node_id), counted.counted, counted.total))
        known = {row.id.hex() for row in rows}
        stmt = select(CatalogueRecord).where(  # type: ignore[attr-defined]
            CatalogueRecord.rtype == "need",  # type: ignore[attr-defined]
            CatalogueRecord.record_id.startswith(ANNOUNCEMENT_PREFIX),  # type: ignore[attr-defined]
        )
        announced = []
        for row in s.scalars(stmt):
            body = records.body_of(row.envelope)
            if body.get("campaign") and body["campaign"] not in known:
                announced.append({"id": body["campaign"], "title": body.get("title", ""), "organiser": row.author,
                                  "deadline": body.get("valid_until"), "description": body.get("description", "")})
    return {"campaigns": held, "announced": announced}


def _list_entry(id_hex: str, terms: CampaignTerms, state: str, organiser: str, role: str | None,
                counted: int, total: int) -> dict[str, Any]:
    return {
        "id": id_hex,
        "title": terms.title,
        "state": state,
        "role": role,
        "organiser": organiser,
        "currency": terms.currency,
        "minimum": terms.minimum,
        "target": terms.target,
        "deadline": terms.deadline,
        "mode": terms.mode,
        "counted": counted,
        "total": total,
    }


# ---- the organiser's side --------------------------------------------------------------------


def invitees(node: Node, terms: CampaignTerms) -> list[str]:
    """For a campaign open to federations, their members as the federation chains we hold state them."""
    if terms.eligibility.scope != FEDERATIONS:
        return []
    with session(node.engine) as s:
        found: set[str] = set()
        for federation in terms.eligibility.federations or ():
            found |= memberships.members_of(s, federation)
    found.discard(node.node_id)
    return sorted(found)


async def create(node: Node, body: Mapping[str, Any]) -> Progress:
    """Open a campaign as its organiser; a public one is also announced in our catalogue."""
    terms = parse_terms(wire_form(dict(body)))
    data: dict[str, Any] = {"terms": terms.to_wire()}
    invite = await node.run(invitees, node, terms)
    if invite:
        data["invite"] = invite
    progress = await convene(node, CAMPAIGN, "open", {ORGANISER: node.node_id}, data)
    if terms.eligibility.scope == PUBLIC:
        record = await node.run(catalogue.publish, node.engine, node.key, "need", announcement(progress.state.id, terms))
        node.push_soon([record])
    wake_conclusions(node)
    return progress


def announcement(agreement_id: bytes, terms: CampaignTerms) -> dict[str, Any]:
    """The need record that lets other associations find a public campaign (search, sync)."""
    return {
        "id": ANNOUNCEMENT_PREFIX + agreement_id.hex(),
        "kind": "other",
        "title": terms.title,
        "description": terms.purpose,
        "category": "co-financement",
        "valid_until": terms.deadline,
        "campaign": agreement_id.hex(),
    }


def _withdraw_announcement(node: Node, agreement_id: bytes) -> list[Any]:
    record_id = ANNOUNCEMENT_PREFIX + agreement_id.hex()
    with session(node.engine) as s:
        held = records.get(s, node.node_id, record_id)
        if held is None or held.rtype == "tombstone":
            return []
    return [catalogue.delete(node.engine, node.key, record_id)]


def _conclude(node: Node, agreement_id: bytes, now: int, when_open: bool) -> Progress | None:
    """Sign the outcome the tally gives, under the agreement lock so no pledge slips in between."""
    with session(node.engine) as s:
        state = held_state(s, agreement_id)
    if state is None:
        raise InvalidMessage("no such campaign here", campaign=agreement_id.hex())
    if when_open and state.name != "open":
        return None  # concluded by hand meanwhile
    return act(node, agreement_id, "conclude", conclusion_of(state), now)


async def conclude(node: Node, agreement_id: bytes, *, when_open: bool = False) -> Progress | None:
    """Conclude a campaign we organise (``when_open``: only if nobody did it meanwhile)."""
    async with node.agreement_lock:
        progress = await node.run(_conclude, node, agreement_id, now_ms(), when_open)
    if progress is not None:
        node.deliver_soon()
        await _after_end(node, agreement_id)
    return progress


async def cancel(node: Node, agreement_id: bytes, reason: str | None) -> Progress:
    progress = await take_step(node, agreement_id, "cancel", {"reason": reason} if reason else {})
    await _after_end(node, agreement_id)
    return progress


async def invite(node: Node, agreement_id: bytes, nodes: Sequence[str]) -> Progress:
    return await take_step(node, agreement_id, "invite", {"nodes": tuple(nodes)})


async def _after_end(node: Node, agreement_id: bytes) -> None:
    node.push_soon(await node.run(_withdraw_announcement, node, agreement_id))


def check_federation_pledges(s: Session, node: Node, before: AgreementState | None, after: AgreementState) -> None:
    """Commit hook: as the organiser, refuse a pledge from a node outside the campaign's federations.

    Only the organiser judges (it embeds the pledge; others replay what it
    accepted), with the federation chains its own node holds.
    """
    if before is None or after.parties.get(ORGANISER) != node.node_id:
        return
    terms: CampaignTerms = after.terms
    if terms.eligibility.scope != FEDERATIONS:
        return
    earlier = {p.statement for p in before.facts.get("pledges", {}).values()}
    organisers = {node.node_id, *(terms.co_organisers or ())}
    newcomers = {
        p.contributor
        for p in after.facts.get("pledges", {}).values()
        if p.statement not in earlier and p.contributor not in organisers
    }
    if not newcomers:
        return
    federations = terms.eligibility.federations or ()
    members = {n for _, n in memberships.memberships_among(s, federations, newcomers)}
    outside = sorted(newcomers - members)
    if outside:
        raise Forbidden("only members of the campaign's federations may pledge", federations=list(federations))


COMMIT_HOOKS[KIND] = check_federation_pledges


# ---- every participant's side ------------------------------------------------------------------


async def state_to(
    node: Node, agreement_id: bytes, action: str, data: Mapping[str, Any], organiser: str | None = None
) -> bytes:
    """Sign a statement on a campaign and have its organiser embed it; returns the embedding event."""
    if organiser is None:
        organiser = await node.run(organiser_of, node, agreement_id)
    return await say(node, agreement_id, KIND, organiser, action, data)


def pledge_data(body: Mapping[str, Any]) -> dict[str, Any]:
    """A pledge or amendment from the API's JSON, checked before anything is signed."""
    data = {k: v for k, v in body.items() if k not in ("organiser",)}
    parse(PledgeData, wire_form(data))
    return data


# ---- crowdfunding exports --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportTotals:
    """What an export holds once aggregated: no row, no payer, only totals."""

    count: int  # paid contributions kept
    amount: int  # their total in cents, tips excluded
    start: int  # first payment (ms)
    end: int  # last payment (ms)
    tips: int  # cents of tips left out (they go to the platform, not to the campaign)
    skipped: Mapping[str, int]  # rows left out, by reason: "unpaid", "tip", "refund"

    def import_data(self, platform: str, reference: str) -> dict[str, Any]:
        data = {"platform": platform, "reference": reference, "count": self.count, "amount": self.amount,
                "period": {"start": self.start, "end": self.end}}
        parse(ImportData, data)
        return data


_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def _fold(text: str) -> str:
    """"Statut du paiement" -> "statutdupaiement": compared without case, accents or punctuation."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return _NON_ALNUM.sub("", "".join(c for c in decomposed if not unicodedata.combining(c)))


# Header names (folded) → column. Amounts in euros ("25,00") or in cents (HelloAsso API v5 names).
_EURO_AMOUNTS = ("montant", "montantttc", "montanttotal", "montanteur", "montanteuros", "montantdudon", "montantpaye",
                 "montantdelacommande", "credit", "somme")
_CENT_AMOUNTS = ("amount", "amountcents", "montantcentimes", "montantencentimes")
_TIPS = ("amounttip", "tip", "pourboire", "montantpourboire", "contributionvolontaire", "montantcontribution",
         "contributionhelloasso", "montantdelacontribution")
_STATUSES = ("state", "status", "paymentstatus", "statut", "statutdupaiement", "statutpaiement", "etat",
             "etatdupaiement")
_DATES = ("date", "paymentdate", "datedupaiement", "datepaiement", "datedelacommande", "datecommande", "datedudon")
_TYPES = ("operationtype", "typedoperation", "typeoperation", "type", "nature", "typedepaiement")
# Payment states that mean the money was collected (HelloAsso: Authorized; Registered for offline means).
PAID_STATES = frozenset({"authorized", "registered", "paid", "processed", "succeeded", "valide", "validee", "paye",
                         "payee", "autorise", "autorisee", "enregistre", "enregistree", "effectue", "effectuee"})
_TIP_TYPES = frozenset({"tip", "tips", "pourboire", "contribution", "contributionvolontaire", "contributionhelloasso",
                        "donahelloasso"})
_REFUND_TYPES = frozenset({"refund", "remboursement", "rembourse"})
_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
                 "%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%y", "%d/%m/%Y à %H:%M")


def _column(header: list[str], names: Sequence[str]) -> int | None:
    folded = [_fold(h) for h in header]
    return next((folded.index(name) for name in names if name in folded), None)


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidMessage("the export is neither UTF-8 nor Windows-1252 text")


def _cents(text: str, in_cents: bool) -> int:
    cleaned = text.strip().replace("€", "").replace("EUR", "")
    for space in (" ", "\u00a0", "\u202f", "\u2009"):
        cleaned = cleaned.replace(space, "")
    if not cleaned:
        return 0
    if in_cents:
        if not re.fullmatch(r"-?\d+", cleaned):
            raise ValueError(f"{text!r} is not a whole number of cents")
        return int(cleaned)
    if "," in cleaned and "." in cleaned:  # "1.250,50" or "1,250.50": the last one is the decimal mark
        thousands = "." if cleaned.rfind(",") > cleaned.rfind(".") else ","
        cleaned = cleaned.replace(thousands, "")
    try:
        amount = Decimal(cleaned.replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount in euros") from None
    if not amount.is_finite() or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError(f"{text!r}: two decimals at most")
    return int(amount * 100)


def _moment(text: str, zone: ZoneInfo) -> int:
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        raise ValueError(f"{text!r} is not a date (2025-03-01, 01/03/2025 or 01/03/2025 14:30)")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return int(parsed.timestamp() * 1000)


def aggregate_export(data: bytes, *, tz: str = DEFAULT_TZ) -> ExportTotals:
    """Total the paid contributions of a crowdfunding platform's CSV export (HelloAsso-like).

    Keeps rows whose payment status is a paid one, leaves out tips (a tip
    column is subtracted from the row's total; tip rows are left out) and
    refunds. Payer columns are never read. A row that cannot be read makes
    the whole import fail, naming its line: a total must not be silently short.
    """
    if len(data) > MAX_EXPORT_BYTES:
        raise TooLarge("the export is larger than 5 MiB")
    text = _decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=";,\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ";"
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise InvalidMessage("the export is empty")
    if len(rows) > MAX_EXPORT_ROWS + 1:
        raise TooLarge(f"the export has more than {MAX_EXPORT_ROWS} rows")
    header, body = rows[0], rows[1:]
    amount_col = _column(header, _CENT_AMOUNTS)
    in_cents = amount_col is not None
    if amount_col is None:
        amount_col = _column(header, _EURO_AMOUNTS)
    date_col = _column(header, _DATES)
    if amount_col is None or date_col is None:
        raise InvalidMessage("the export needs an amount column (Montant, or amount in cents) and a date column",
                             header=header[:40])
    status_col, tip_col, type_col = _column(header, _STATUSES), _column(header, _TIPS), _column(header, _TYPES)
    zone = ZoneInfo(tz)
    count = amount = tips = 0
    moments: list[int] = []
    skipped = {"unpaid": 0, "tip": 0, "refund": 0}
    errors: list[dict[str, Any]] = []
    for line, row in enumerate(body, start=2):
        def cell(col: int | None, row: list[str] = row) -> str:
            return row[col] if col is not None and col < len(row) else ""

        kind = _fold(cell(type_col))
        if kind in _TIP_TYPES:
            skipped["tip"] += 1
            continue
        if kind in _REFUND_TYPES:
            skipped["refund"] += 1
            continue
        if status_col is not None and _fold(cell(status_col)) not in PAID_STATES:
            skipped["unpaid"] += 1
            continue
        try:
            total = _cents(cell(amount_col), in_cents)
            tip = _cents(cell(tip_col), in_cents) if tip_col is not None else 0
            moment = _moment(cell(date_col), zone)
        except ValueError as exc:
            errors.append({"line": line, "reason": str(exc)})
            continue
        if total <= 0:
            skipped["refund"] += 1
            continue
        if tip > total:
            errors.append({"line": line, "reason": "the tip is larger than the payment"})
            continue
        count, amount, tips = count + 1, amount + total - tip, tips + tip
        moments.append(moment)
    if errors:
        raise InvalidMessage(f"{len(errors)} row(s) cannot be read; nothing was imported", errors=errors[:50])
    if count == 0:
        raise InvalidMessage("no paid contribution in this export", skipped=skipped)
    return ExportTotals(count, amount, min(moments), max(moments), tips, skipped)


# ---- concluding when the deadline passes -----------------------------------------------------

def wake_conclusions(node: Node) -> None:
    """A campaign was opened: let the conclusion loop see its deadline."""
    node.campaigns_now.set()


def _due(node: Node, now: int) -> tuple[list[tuple[bytes, str]], int | None]:
    """Our campaigns to conclude (open) or cancel (still draft) now, and the next deadline to come."""
    due: list[tuple[bytes, str]] = []
    upcoming: int | None = None
    with session(node.engine) as s:
        stmt = select(Agreement).where(
            Agreement.kind == KIND, Agreement.our_role == ORGANISER, Agreement.state.in_(OPEN_STATES)  # type: ignore[attr-defined]
        )
        for row in s.scalars(stmt):
            state = held_state(s, row.id)  # the cached state: a few look-ups, no replay
            if state is None:
                continue
            deadline = state.terms.deadline
            if deadline <= now:
                due.append((row.id, "conclude" if row.state == "open" else "cancel"))
            else:
                upcoming = deadline if upcoming is None else min(upcoming, deadline)
    return due, upcoming


async def _end_one(node: Node, agreement_id: bytes, action: str) -> None:
    try:
        if action == "conclude":
            await conclude(node, agreement_id, when_open=True)
        else:
            await cancel(node, agreement_id, "Les co-organisateurs n'ont pas tous signé avant l'échéance.")
    except ProtocolError as exc:  # one campaign's trouble must not stop the others' conclusions
        log.warning("campaign %s: automatic %s refused: %s", agreement_id.hex(), action, exc)


async def conclude_when_due(node: Node) -> None:
    """Conclude our open campaigns once their deadline passed (cancel those still awaiting a
    co-organiser's signature): runs as long as the node."""
    while True:
        wait = CHECK_INTERVAL_S
        try:
            due, upcoming = await node.run(_due, node, now_ms())
            for agreement_id, action in due:
                await _end_one(node, agreement_id, action)
            if upcoming is not None:
                wait = min(wait, max(0.0, (upcoming - now_ms()) / 1000) + 0.05)
        except Exception:  # a bug must not stop conclusions for good
            log.exception("concluding campaigns failed")
        await wait_or_timeout(node.campaigns_now, wait)


__all__ = [
    "ExportTotals",
    "aggregate_export",
    "announcement",
    "cancel",
    "check_federation_pledges",
    "conclude",
    "conclude_when_due",
    "create",
    "describe",
    "invite",
    "listing",
    "organiser_of",
    "pledge_data",
    "state_to",
    "wake_conclusions",
]
