"""What the co-funding and governance pages share: names, refusals in words, form parsing, the chain's signatures.

The campaign, federation and fund pages (pages_campaigns.py, pages_federations.py,
pages_fund.py) act through the node's own functions (node/campaigns.py,
node/federations.py, node/fund.py); a refusal comes back as the protocol's typed
error and is shown on the page, in the reader's language, with nothing changed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from protocol import InvalidMessage, ProtocolError
from protocol.envelope import stored_envelope
from storage import agreements as stored
from storage import peers, records, session

from ..agreements import open_chain
from ..wire import agreement_id_from_hex, plain
from ..runtime import Node
from .pages_agreements import Verification, parse_money, verify_chain
from .render import N_

PARIS = ZoneInfo("Europe/Paris")

# Refusals the node functions raise, by the start of their (English) message: what the page says instead.
# Unknown messages are shown as their code in words, with the message as it came.
KNOWN_REFUSALS: tuple[tuple[str, str], ...] = (
    # campaigns
    ("too late to pledge", N_("Trop tard : l'échéance de la campagne est passée.")),
    ("too late to amend a pledge", N_("Trop tard pour modifier la promesse : la date limite est passée.")),
    ("too late to withdraw a pledge", N_("Trop tard pour retirer la promesse : la date limite est passée.")),
    (
        "this campaign takes pledges from its listed nodes only",
        N_("Cette campagne n'accepte que les promesses des associations qu'elle invite."),
    ),
    (
        "only members of the campaign's federations may pledge",
        N_("Seules les associations membres des fédérations de la campagne peuvent promettre."),
    ),
    ("this node already pledged", N_("Notre association a déjà promis : modifiez ou retirez sa promesse.")),
    ("this node has no pledge to amend", N_("Notre association n'a pas de promesse à modifier.")),
    ("this node has no pledge to withdraw", N_("Notre association n'a pas de promesse à retirer.")),
    ("a campaign is concluded at or after its deadline", N_("Une campagne se conclut à son échéance, pas avant.")),
    ("the conclusion contradicts the signed pledges", N_("Cette conclusion contredit les promesses signées.")),
    (
        "past the deadline a campaign is concluded",
        N_("L'échéance est passée : la campagne se conclut, elle ne s'annule plus."),
    ),
    ("this node has no bound pledge to pay", N_("Notre association n'a pas de promesse engagée à payer.")),
    ("payments above the bound pledge", N_("Ce paiement dépasse ce que notre promesse engage.")),
    (
        "a payment is recorded once it is made",
        N_("Un paiement s'enregistre une fois fait : sa date ne peut pas être future."),
    ),
    (
        "only the organiser or a beneficiary node confirms a payment",
        N_("Seuls l'organisateur et les associations bénéficiaires confirment un paiement."),
    ),
    ("this payment is already confirmed", N_("Ce paiement est déjà confirmé.")),
    ("a receipt confirms at most the amount paid", N_("On ne confirme pas plus que le montant payé.")),
    ("a campaign's deadline is after its opening", N_("L'échéance doit être dans le futur.")),
    ("withdraw_until is before the opening", N_("La date limite de retrait doit être dans le futur.")),
    ("withdraw_until is after the deadline", N_("La date limite de retrait doit précéder l'échéance.")),
    ("minimum is above target", N_("Le minimum dépasse l'objectif.")),
    (
        "lines: their minimums add up to more",
        N_("Les minimums des postes de budget dépassent le minimum de la campagne."),
    ),
    ("lines: their maximums add up to less", N_("Les maximums des postes de budget n'atteignent pas l'objectif.")),
    (
        "stretch_goals: above the target",
        N_("Les paliers supplémentaires dépassent l'objectif, dans l'ordre croissant."),
    ),
    ("the organiser is not also a co-organiser", N_("L'organisateur n'est pas aussi co-organisateur.")),
    ("this co-organiser already co-signed", N_("Notre association a déjà co-signé.")),
    (
        "the export needs an amount column",
        N_("L'export doit avoir une colonne de montant (Montant) et une colonne de date."),
    ),
    ("the export is empty", N_("Le fichier est vide.")),
    ("no paid contribution in this export", N_("Aucune contribution payée dans cet export.")),
    ("the export is larger than", N_("Le fichier dépasse 5 Mio.")),
    ("the export is neither UTF-8", N_("Le fichier n'est ni en UTF-8 ni en Windows-1252.")),
    (
        "imported contributions are those made by the deadline",
        N_("L'export contient des contributions postérieures à l'échéance."),
    ),
    ("this campaign is unknown here", N_("Cette campagne est inconnue de notre nœud.")),
    # federations and decisions
    ("only the federation's members", N_("Seules les associations membres de la fédération peuvent le faire.")),
    ("the federation is forming", N_("La fédération se constitue : chaque fondateur adhère avant toute décision.")),
    ("the charter has no rule for", N_("La charte ne prévoit pas ce type de décision.")),
    ("a proposal with this id exists already", N_("Une proposition porte déjà cet identifiant.")),
    ("the round is over", N_("Le tour est terminé : la proposition attend sa clôture.")),
    (
        "clarifying questions come before the objection round",
        N_("Les questions de clarification précèdent le tour d'objections : il est passé."),
    ),
    ("the proposer answers the questions", N_("Seul l'auteur de la proposition répond aux questions.")),
    ("this question is answered already", N_("Cette question a déjà sa réponse.")),
    ("this proposal is decided by ballot", N_("Cette proposition se décide par vote : votez contre.")),
    (
        "the proposer amends its proposal rather than objecting",
        N_("L'auteur d'une proposition l'amende plutôt que d'y objecter."),
    ),
    (
        "the objection round opens after the clarifying questions",
        N_("Le tour d'objections s'ouvre après les questions de clarification."),
    ),
    ("only its author withdraws an objection", N_("Seul son auteur retire une objection.")),
    ("only the proposer amends its proposal", N_("Seul l'auteur de la proposition peut l'amender.")),
    (
        "this proposal is decided by consent",
        N_("Cette proposition se décide par consentement : objectez, ou ne dites rien."),
    ),
    ("only the members at the ballot's opening vote", N_("Seuls les membres à l'ouverture du vote votent.")),
    ("this member has voted already", N_("Notre association a déjà voté : un membre, une voix.")),
    (
        "this objection was signed before the current version",
        N_("Cette objection visait une version précédente : objectez de nouveau."),
    ),
    ("the round is still open", N_("Le tour n'est pas terminé : la clôture viendra à sa fin.")),
    ("only the federation's secretariat", N_("Seul le secrétariat de la fédération peut le faire.")),
    ("this node already adhered", N_("Notre association a déjà adhéré.")),
    (
        "only a founder or a node a decision admitted can adhere",
        N_("Seuls les fondateurs et les associations admises par décision peuvent adhérer."),
    ),
    ("the adhesion signs for another charter", N_("La charte a changé : relisez-la avant d'adhérer.")),
    ("this node is already a member of the federation", N_("Cette association est déjà membre, ou invitée.")),
    ("this node is not a member of the federation", N_("Cette association n'est pas membre de la fédération.")),
    ("the secretariat cannot be removed", N_("Le secrétariat ne peut pas être retiré : il tient le registre.")),
    ("no such college in the charter", N_("Ce collège n'existe pas dans la charte.")),
    ("a federation does not link to itself", N_("Une fédération ne se lie pas à elle-même.")),
    ("a review date lies in the future", N_("La date de révision doit être dans le futur.")),
    (
        "members still belong to colleges the amendment removes",
        N_("Des membres appartiennent encore aux collèges que l'amendement supprime."),
    ),
    ("the proposal is closed", N_("La proposition est close.")),
    ("no such federation", N_("Cette fédération est inconnue de notre nœud.")),
    # the fund
    (
        "a distribution cannot exceed what the fund holds",
        N_("Un versement ne peut pas dépasser ce que détient le fonds."),
    ),
    (
        "a distribution cannot exceed what the adopted allocation grants",
        N_("Un versement ne peut pas dépasser l'attribution décidée, moins ce qui a déjà été versé."),
    ),
    (
        "the members adopt allocation criteria",
        N_("Les membres adoptent d'abord des critères d'attribution (une décision) avant d'ouvrir un appel."),
    ),
    ("this call's deadline has passed", N_("La date limite de cet appel est passée.")),
    ("this call is closed", N_("Cet appel est clos.")),
    ("this call is already closed", N_("Cet appel est déjà clos.")),
    ("an application asks at most the call's budget", N_("Une candidature demande au plus le budget de l'appel.")),
    (
        "the project's budget covers at least the amount requested",
        N_("Le budget du projet couvre au moins le montant demandé."),
    ),
    ("only its beneficiary confirms a distribution", N_("Seul son bénéficiaire confirme un versement.")),
    ("this distribution is already confirmed", N_("Ce versement est déjà confirmé.")),
    ("the fund is kept in", N_("Le fonds est tenu dans une autre monnaie.")),
    (
        "more arrived than was pledged",
        N_("Plus que la promesse est arrivé : enregistrez la différence comme une nouvelle contribution."),
    ),
    ("a call with this id already exists", N_("Un appel porte déjà cet identifiant.")),
    ("a call's deadline is after its opening", N_("La date limite de l'appel doit être dans le futur.")),
    ("a call applies the criteria in force", N_("Un appel applique les critères en vigueur.")),
    ("only its contributor withdraws a contribution", N_("Seul son contributeur retire une contribution.")),
    ("this contribution is already", N_("Cette contribution n'est plus en attente.")),
    (
        "only what is granted and not yet paid returns to the fund",
        N_("Seul ce qui est attribué et pas encore versé revient au fonds."),
    ),
    ("allocations exceed the call's budget", N_("Les attributions dépassent le budget de l'appel.")),
    ("allocations exceed the fund's available balance",
     N_("Les attributions dépassent le solde disponible du fonds.")),
    (
        "a call's allocation is decided once it is closed",
        N_("L'attribution d'un appel se décide une fois l'appel clos ou sa date limite passée."),
    ),
    ("an application is granted at most what it requested", N_("Une candidature reçoit au plus ce qu'elle demande.")),
    ("the fund grants money to member associations only", N_("Le fonds ne finance que des associations membres.")),
    ("no such call in this fund", N_("Aucun appel de ce fonds ne porte cet identifiant.")),
    ("no such application in this fund", N_("Aucune candidature de ce fonds ne porte cet identifiant.")),
    ("no such contribution in this fund", N_("Aucune contribution de ce fonds ne porte cet identifiant.")),
    ("no such distribution in this fund", N_("Aucun versement de ce fonds ne porte cet identifiant.")),
)

# Form fields as the pages name them, for refusals that name a field (ours, or the schema's).
FIELD_LABELS: Mapping[str, str] = {
    "title": N_("Titre"),
    "purpose": N_("Objet"),
    "text": N_("Texte"),
    "reason": N_("Motif"),
    "aim": N_("Raison d'être protégée"),
    "target": N_("Objectif"),
    "minimum": N_("Minimum"),
    "deadline": N_("Échéance"),
    "value": N_("Montant"),
    "amount": N_("Montant"),
    "hours": N_("Heures"),
    "description": N_("Description"),
    "beneficiaries": N_("Bénéficiaires"),
    "name": N_("Nom"),
    "territory": N_("Territoire"),
    "colleges": N_("Collèges"),
    "node": N_("Association"),
    "college": N_("Collège"),
    "reference": N_("Référence"),
    "platform": N_("Plateforme"),
    "funder": N_("Financeur"),
    "budget": N_("Budget"),
    "call": N_("Appel"),
    "project": N_("Projet"),
    "id": N_("Identifiant"),
    "cap_percent": N_("Plafond"),
    "lines": N_("Postes de budget"),
    "stretch_goals": N_("Paliers"),
    "withdraw_until": N_("Retrait possible jusqu'au"),
    "eligibility": N_("Qui peut promettre"),
    "file": N_("Fichier"),
    "criteria": N_("Critères"),
    "allocations": N_("Attributions"),
    "federation": N_("Fédération"),
    "secretariat": N_("Secrétariat"),
    "review_at": N_("Date de révision"),
    "date": N_("Date"),
    "choice": N_("Choix"),
}


class FormProblem(InvalidMessage):
    """A form field the page could not read: its message is already in the reader's language."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message, field=field)


def refusal_view(exc: ProtocolError, _: Any) -> dict[str, Any]:
    """A refusal as the templates show it: a sentence in the reader's language, the code, the raw message."""
    details = plain(exc.details) if exc.details else {}
    if isinstance(exc, FormProblem):
        return {
            "code": exc.code,
            "text": exc.message,
            "message": None,
            "details": details,
            "field": exc.details["field"],
        }
    text = next((_(french) for english, french in KNOWN_REFUSALS if exc.message.startswith(english)), None)
    field = None
    problems = details.get("problems") if isinstance(details, Mapping) else None
    if problems and isinstance(problems, list) and isinstance(problems[0], Mapping):
        field = str(problems[0].get("field", "")).split(".")[0] or None
    elif isinstance(details, Mapping) and isinstance(details.get("field"), str):
        field = details["field"]
    if text is None and field in FIELD_LABELS:
        text = _("Le champ « %(field)s » n'est pas valable.", field=_(FIELD_LABELS[field]))
    return {"code": exc.code, "text": text, "message": exc.message, "details": details, "field": field}


def refusal_status(exc: ProtocolError) -> int:
    """The page's status for a refusal: the error's own 4xx, else 409 (503 when the authority is away)."""
    if 400 <= exc.http_status < 500:
        return exc.http_status
    return 503 if exc.code == "unreachable" else 409


# ---- names -----------------------------------------------------------------------------------------


def association_names(node: Node, node_ids: Iterable[str] = ()) -> dict[str, str]:
    """Association names by node id: our peers', the signed descriptors we hold, ours."""
    wanted = set(node_ids)
    with session(node.engine) as s:
        names = {p.node_id: p.name for p in peers.list_all(s) if p.name}
        names.update(records.author_names(s, wanted))
    names[node.node_id] = node.config.name or names.get(node.node_id, "")
    return names


def known_associations(node: Node) -> list[dict[str, str]]:
    """Peers this node knows, by name, for the forms that pick associations (ourselves left out)."""
    with session(node.engine) as s:
        listed = [p for p in peers.list_all(s) if p.node_id != node.node_id and p.state != "refused"]
        signed = records.author_names(s, [p.node_id for p in listed])
    found = [{"node_id": p.node_id, "name": p.name or signed.get(p.node_id) or p.node_id[:12]} for p in listed]
    return sorted(found, key=lambda p: p["name"].casefold())


# ---- form fields -------------------------------------------------------------------------------------


def text_field(
    fields: Mapping[str, str], name: str, label: str, _: Any, *, required: bool = True, max_length: int = 200
) -> str | None:
    value = (fields.get(name) or "").strip()
    if not value:
        if required:
            raise FormProblem(_("« %(field)s » est obligatoire.", field=_(label)), name)
        return None
    if len(value) > max_length:
        raise FormProblem(_("« %(field)s » : %(max)s caractères au plus.", field=_(label), max=max_length), name)
    return value


def cents_field(
    fields: Mapping[str, str],
    name: str,
    label: str,
    _: Any,
    *,
    currency: str = "EUR",
    required: bool = True,
    positive: bool = True,
) -> int | None:
    """« 1 250,50 » (units, French or English decimal mark) → 125050 cents."""
    raw = (fields.get(name) or "").strip()
    if not raw:
        if required:
            raise FormProblem(_("« %(field)s » est obligatoire.", field=_(label)), name)
        return None
    try:
        cents = int(parse_money(raw, currency, field=name)["amount"])
    except InvalidMessage:
        raise FormProblem(_("« %(field)s » : un montant tel que 12,50.", field=_(label)), name) from None
    if positive and cents <= 0:
        raise FormProblem(_("« %(field)s » : un montant supérieur à zéro.", field=_(label)), name)
    return cents


def int_field(
    fields: Mapping[str, str], name: str, label: str, _: Any, *, low: int, high: int, required: bool = True
) -> int | None:
    raw = (fields.get(name) or "").strip().replace("\u202f", "").replace(" ", "")
    if not raw:
        if required:
            raise FormProblem(_("« %(field)s » est obligatoire.", field=_(label)), name)
        return None
    if not re.fullmatch(r"\d+", raw) or not low <= int(raw) <= high:
        raise FormProblem(
            _("« %(field)s » : un nombre entier entre %(low)s et %(high)s.", field=_(label), low=low, high=high), name
        )
    return int(raw)


def moment_field(
    fields: Mapping[str, str],
    day_name: str,
    time_name: str,
    label: str,
    _: Any,
    *,
    required: bool = True,
    default_time: time = time(23, 59),
) -> int | None:
    """A date (and optional time) typed in Paris time → ms since the epoch."""
    day = (fields.get(day_name) or "").strip()
    if not day:
        if required:
            raise FormProblem(_("« %(field)s » est obligatoire.", field=_(label)), day_name)
        return None
    try:
        chosen = date.fromisoformat(day)
    except ValueError:
        raise FormProblem(_("« %(field)s » : une date (AAAA-MM-JJ).", field=_(label)), day_name) from None
    hour_text = (fields.get(time_name) or "").strip()
    try:
        hour = time.fromisoformat(hour_text) if hour_text else default_time
    except ValueError:
        raise FormProblem(_("« %(field)s » : une heure (HH:MM).", field=_(label)), time_name) from None
    return int(datetime.combine(chosen, hour, tzinfo=PARIS).timestamp() * 1000)


def slug(text: str, taken: Iterable[str] = ()) -> str:
    """A record id from a title (« Vélo cargo » → « velo-cargo »), made unique among ``taken``."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    base = re.sub(r"[^a-z0-9]+", "-", "".join(c for c in folded if not unicodedata.combining(c))).strip("-")[:40] or "x"
    used, candidate, n = set(taken), base, 2
    while candidate in used:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def values_of(fields: Mapping[str, Any]) -> dict[str, str]:
    """What was typed, to show it back after a refusal (files and the CSRF token left out)."""
    return {k: v for k, v in fields.items() if k != "csrf_token" and isinstance(v, str)}


# ---- the chain -------------------------------------------------------------------------------------


def chain_view(node: Node, agreement_id: bytes) -> tuple[Verification, list[dict[str, Any]], int]:
    """The chain checked again (every signature, the replay) and its events to show, newest last; pending deliveries."""
    with session(node.engine) as s:
        raws = stored.chain(s, agreement_id)
        pending = stored.pending_count(s, agreement_id)
    events = []
    for event in open_chain(raws):
        body = event.body
        action, by, said_at = str(body["action"]), event.issuer, event.issued_at
        data = body.get("data") or {}
        statement = data.get("statement") if isinstance(data, Mapping) else None
        embedded = None
        if isinstance(statement, bytes):
            opened = stored_envelope(statement)
            embedded = {"action": str(opened.body.get("action")), "by": opened.issuer, "at": opened.issued_at}
        events.append(
            {
                "seq": body["seq"],
                "action": action,
                "issuer": by,
                "issued_at": said_at,
                "issued_iso": datetime.fromtimestamp(said_at / 1000, PARIS).isoformat(timespec="seconds"),
                "message_id": event.message_id.hex(),
                "statement": embedded,
                "ours": (embedded["by"] if embedded else by) == node.node_id,
            }
        )
    return verify_chain(node, raws), events, pending


def hex_id(text: str, request: web.Request, unknown: Any) -> bytes:
    """A 16-byte id from its 32 hexadecimal characters, else the page's styled 404 (``unknown(request)``)."""
    try:
        return agreement_id_from_hex(text)
    except InvalidMessage:
        raise unknown(request) from None


def today_input(now: int) -> str:
    return datetime.fromtimestamp(now / 1000, PARIS).date().isoformat()


__all__ = [
    "FormProblem",
    "association_names",
    "cents_field",
    "chain_view",
    "hex_id",
    "int_field",
    "known_associations",
    "moment_field",
    "refusal_status",
    "refusal_view",
    "slug",
    "text_field",
    "values_of",
]
