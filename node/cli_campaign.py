"""`maillage campaign …` and `maillage pledge …`: co-funding from the command line.

The commands talk to the running node through its local API (/api/v1/campaigns,
node/campaigns_api.py). Amounts are typed as people write them ("1 500,50") and
travel as integer cents; dates are local wall-clock times (Europe/Paris by default).

This module does not import node.cli: `python -m node.cli` runs that module as
``__main__``, and a second copy would raise errors ``main`` does not recognise.
Usage errors are ConfigError, which ``main`` reports on one line with status 2.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from protocol import is_node_id

from .apiclient import ApiClient, NotRunning
from .config import ConfigError, load
from .i18n import MESSAGES, language, t

DEFAULT_TZ = "Europe/Paris"
MIN_PREFIX = 6
MODES = {"tout-ou-rien": "all_or_nothing", "all_or_nothing": "all_or_nothing",
         "tout-garder": "keep_it_all", "keep_it_all": "keep_it_all"}
METHODS = {"virement": "transfer", "cheque": "cheque", "chèque": "cheque", "especes": "cash", "espèces": "cash",
           "carte": "card", "plateforme": "platform", "nature": "in_kind", "autre": "other",
           "transfer": "transfer", "cash": "cash", "card": "card", "platform": "platform", "in_kind": "in_kind",
           "other": "other"}

MESSAGES.update({
    "campaign.created": ("Campagne « {title} » créée : {id}", "Campaign “{title}” created: {id}"),
    "mode.all_or_nothing": ("tout ou rien", "all or nothing"),
    "mode.keep_it_all": ("tout garder", "keep it all"),
    "campaign.draft": ("En attente de la signature des co-organisateurs.", "Waiting for the co-organisers' signatures."),
    "campaign.none": ("Aucune campagne.", "No campaign."),
    "campaign.row": ("{id}  {state:<10} {title} — {counted} / {minimum} (objectif {target}), échéance {deadline}",
                     "{id}  {state:<10} {title} — {counted} / {minimum} (target {target}), deadline {deadline}"),
    "campaign.announced": ("{id}  annoncée  {title} — organisée par {organiser}, échéance {deadline}",
                           "{id}  announced {title} — organised by {organiser}, deadline {deadline}"),
    "campaign.header": ("Campagne « {title} » — {state}", "Campaign “{title}” — {state}"),
    "campaign.id": ("Identifiant : {id}", "Id: {id}"),
    "campaign.organiser": ("Organisée par : {organiser}", "Organised by: {organiser}"),
    "campaign.terms": ("Minimum {minimum}, objectif {target}, échéance {deadline}, mode {mode}",
                       "Minimum {minimum}, target {target}, deadline {deadline}, mode {mode}"),
    "campaign.progress": ("Promis {pledged} ; compté {counted} ({percent} % du minimum) ; versé à l'issue {total}",
                          "Pledged {pledged}; counted {counted} ({percent} % of the minimum); paid out {total}"),
    "campaign.books": ("Engagé {bound} ; payé {paid} ; confirmé {confirmed} ; reste dû {outstanding}",
                       "Bound {bound}; paid {paid}; confirmed {confirmed}; outstanding {outstanding}"),
    "campaign.line": ("  ligne {id} « {title} » : {allocated} (min {min}, max {max}){flag}",
                      "  line {id} “{title}”: {allocated} (min {min}, max {max}){flag}"),
    "campaign.line_short": (" — minimum non atteint", " — minimum not reached"),
    "campaign.unallocated": ("  non affecté : {amount}", "  unallocated: {amount}"),
    "campaign.goal": ("  palier {amount} « {title} » : {reached}", "  stretch goal {amount} “{title}”: {reached}"),
    "campaign.reached": ("atteint", "reached"),
    "campaign.not_reached": ("pas atteint", "not reached"),
    "campaign.contribution": ("  {who} : {what} {value}, compte {counted}, {status}{extra}",
                              "  {who}: {what} {value}, counts {counted}, {status}{extra}"),
    "campaign.payment": ("  paiement {id} : {who} {amount} ({method}){receipt}",
                         "  payment {id}: {who} {amount} ({method}){receipt}"),
    "campaign.receipt": (", confirmé {amount}", ", confirmed {amount}"),
    "campaign.imported": (
        "Import {platform} : {count} contribution(s), {amount} (pourboires exclus : {tips} ; non payées : {unpaid})",
        "Import {platform}: {count} contribution(s), {amount} (tips left out: {tips}; unpaid: {unpaid})",
    ),
    "campaign.recorded": ("Enregistré par l'organisateur.", "Recorded by the organiser."),
    "campaign.in_transit": ("Enregistré par l'organisateur ; la campagne arrive sur ce nœud sous peu.",
                            "Recorded by the organiser; the campaign reaches this node shortly."),
    "campaign.bad_id": ("« {id} » : un identifiant de campagne (32 caractères hexadécimaux, ou {min} au moins)",
                        "“{id}”: a campaign id (32 hexadecimal characters, or at least {min})"),
    "campaign.unknown_id": ("Aucune campagne connue ne commence par « {id} ».", "No known campaign starts with “{id}”."),
    "campaign.ambiguous_id": ("« {id} » désigne plusieurs campagnes : {ids}", "“{id}” names several campaigns: {ids}"),
    "campaign.pledge_kind": ("Indiquez --amount (argent), ou --value avec --hours (travail) ou --equipment (matériel).",
                             "Give --amount (money), or --value with --hours (work) or --equipment (equipment)."),
    "state.draft": ("brouillon", "draft"),
    "state.open": ("ouverte", "open"),
    "state.succeeded": ("réussie", "succeeded"),
    "state.lapsed": ("caduque", "lapsed"),
    "status.pending": ("en attente", "pending"),
    "status.bound": ("engagée", "bound"),
    "status.released": ("libérée", "released"),
    "type.money": ("argent", "money"),
    "type.work": ("travail", "work"),
    "type.equipment": ("matériel", "equipment"),
    "method.transfer": ("virement", "transfer"),
    "method.cheque": ("chèque", "cheque"),
    "method.cash": ("espèces", "cash"),
    "method.card": ("carte", "card"),
    "method.platform": ("plateforme", "platform"),
    "method.in_kind": ("en nature", "in kind"),
    "method.other": ("autre", "other"),
    # Shared labels (`maillage agreements`, `audit verify`) for the campaign kind's roles and actions.
    "party.organiser": ("Organisateur", "Organiser"),
    "action.open": ("ouverture", "opening"),
    "action.conclude": ("conclusion", "conclusion"),
    "action.invite": ("invitation", "invitation"),
})
MESSAGES.setdefault("action.record", ("déclaration enregistrée", "statement recorded"))


class CampaignUsageError(ConfigError):
    """A wrong option or argument: reported on one line, exit status 2."""


# ---- small helpers ----------------------------------------------------------


def _home(args: argparse.Namespace) -> Path:
    return Path(args.home).expanduser().resolve()


def _client(args: argparse.Namespace) -> ApiClient:
    try:
        return ApiClient(load(_home(args)))
    except NotRunning:
        raise CampaignUsageError(t("error.not_running", home=args.home)) from None


def _emit(args: argparse.Namespace, obj: Any, text: str) -> None:
    print(json.dumps(obj, ensure_ascii=False) if args.json else text)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CampaignUsageError(f"--tz : fuseau inconnu « {name} »") from None


def cents(value: str, option: str) -> int:
    """"1 500,50" or "1500.5" → 150050 (never through a float)."""
    cleaned = value.replace("\u202f", "").replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise CampaignUsageError(f"{option} : « {value} » n'est pas un montant") from None
    if not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise CampaignUsageError(f"{option} : montant positif, deux décimales au plus")
    return int(amount * 100)


def money_text(amount: int, currency: str = "EUR") -> str:
    """Integer cents as people read them: "1 500,50 EUR" (exact, no float)."""
    units, rest = divmod(amount, 100)
    grouped = f"{units:,}".replace(",", "\u202f" if language() == "fr" else ",")
    mark = "," if language() == "fr" else "."
    return f"{grouped}{mark}{rest:02d} {currency}"


def moment(value: str, zone: ZoneInfo, option: str) -> int:
    """'AAAA-MM-JJ HH:MM' local time, or a day alone meaning its last minute (23:59)."""
    try:
        if len(value.strip()) == 10:
            day = datetime.strptime(value.strip(), "%Y-%m-%d").date()
            local = datetime.combine(day, time(23, 59), tzinfo=zone)
        else:
            local = datetime.strptime(value.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=zone)
    except ValueError:
        raise CampaignUsageError(f"{option} : date attendue AAAA-MM-JJ ou 'AAAA-MM-JJ HH:MM'") from None
    return int(local.timestamp() * 1000)


def local_text(ms: int | None, zone: ZoneInfo) -> str:
    if ms is None:
        return "?"
    return datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%d %H:%M")


def _known(prefix: str, code: str) -> str:
    key = f"{prefix}.{code}"
    return t(key) if key in MESSAGES else code


def _node_id(value: str, option: str) -> str:
    if not is_node_id(value):
        raise CampaignUsageError(f"{option} : « {value} » n'est pas un identifiant de nœud")
    return value


def resolve(client: ApiClient, text: str) -> str:
    """A campaign id from its 32 hex characters or a unique prefix (held or announced campaigns)."""
    wanted = text.strip().lower()
    if len(wanted) < MIN_PREFIX or len(wanted) > 32 or any(c not in "0123456789abcdef" for c in wanted):
        raise CampaignUsageError(t("campaign.bad_id", id=text, min=MIN_PREFIX))
    if len(wanted) == 32:
        return wanted
    found = client.call("GET", "/campaigns")
    ids = {c["id"] for c in (*found["campaigns"], *found["announced"]) if c["id"].startswith(wanted)}
    if not ids:
        raise CampaignUsageError(t("campaign.unknown_id", id=text))
    if len(ids) > 1:
        raise CampaignUsageError(t("campaign.ambiguous_id", id=text, ids=", ".join(sorted(i[:12] + "…" for i in ids))))
    return ids.pop()


# ---- campaign commands ------------------------------------------------------


def _line(value: str) -> dict[str, Any]:
    parts = value.split(":")
    if len(parts) != 4:
        raise CampaignUsageError(f"--line : ID:TITRE:MIN:MAX attendu, pas « {value} »")
    return {"id": parts[0], "title": parts[1], "min": cents(parts[2], "--line"), "max": cents(parts[3], "--line")}


def _goal(value: str) -> dict[str, Any]:
    amount, _, title = value.partition(":")
    if not title:
        raise CampaignUsageError(f"--stretch : MONTANT:TITRE attendu, pas « {value} »")
    return {"amount": cents(amount, "--stretch"), "title": title}


def _beneficiary(value: str) -> dict[str, Any]:
    node, _, name = value.partition(":")
    if is_node_id(node):
        return {"node": node, **({"name": name} if name else {})}
    return {"name": value}


def campaign_terms(args: argparse.Namespace) -> dict[str, Any]:
    zone = _zone(args.tz)
    if args.federation and args.node:
        raise CampaignUsageError("--federation et --node s'excluent : choisissez qui peut promettre")
    eligibility: dict[str, Any] = {"scope": "public"}
    if args.federation:
        eligibility = {"scope": "federations", "federations": args.federation}
    elif args.node:
        eligibility = {"scope": "nodes", "nodes": [_node_id(n, "--node") for n in args.node]}
    terms: dict[str, Any] = {
        "title": args.title,
        "purpose": args.purpose,
        "beneficiaries": [_beneficiary(b) for b in args.beneficiary],
        "currency": args.currency.upper(),
        "target": cents(args.target, "--target"),
        "minimum": cents(args.minimum, "--minimum"),
        "deadline": moment(args.deadline, zone, "--deadline"),
        "mode": MODES[args.mode],
        "eligibility": eligibility,
    }
    if args.line:
        terms["lines"] = [_line(v) for v in args.line]
    if args.stretch:
        terms["stretch_goals"] = [_goal(v) for v in args.stretch]
    if args.co_organiser:
        terms["co_organisers"] = [_node_id(n, "--co-organiser") for n in args.co_organiser]
    if args.withdraw_until:
        terms["withdraw_until"] = moment(args.withdraw_until, zone, "--withdraw-until")
    return terms


def cmd_create(args: argparse.Namespace) -> None:
    shown = _client(args).call("POST", "/campaigns", json_body=campaign_terms(args))
    text = t("campaign.created", title=shown["title"], id=shown["id"])
    if shown["state"] == "draft":
        text += "\n" + t("campaign.draft")
    _emit(args, shown, text)


def cmd_list(args: argparse.Namespace) -> None:
    zone = _zone(args.tz)
    client = _client(args)
    found = client.call("GET", "/campaigns")
    if args.json:
        for c in found["campaigns"]:
            print(json.dumps(c, ensure_ascii=False))
        for c in found["announced"]:
            print(json.dumps({**c, "state": "announced"}, ensure_ascii=False))
        return
    if not found["campaigns"] and not found["announced"]:
        print(t("campaign.none"))
    for c in found["campaigns"]:
        print(t("campaign.row", id=c["id"], state=_known("state", c["state"]), title=c["title"],
                counted=money_text(c["counted"], c["currency"]), minimum=money_text(c["minimum"], c["currency"]),
                target=money_text(c["target"], c["currency"]), deadline=local_text(c["deadline"], zone)))
    names = _names(client) if found["announced"] else {}
    for c in found["announced"]:
        print(t("campaign.announced", id=c["id"], title=c["title"], organiser=names.get(c["organiser"], c["organiser"][:12] + "…"),
                deadline=local_text(c.get("deadline"), zone)))


def show_text(shown: Mapping[str, Any], zone: ZoneInfo, names: Mapping[str, str]) -> str:
    terms, counted = shown["terms"], shown["tally"]
    currency = terms["currency"]

    def m(amount: int) -> str:
        return money_text(amount, currency)

    def who(key: str) -> str:
        return names.get(key) or (key[:12] + "…" if is_node_id(key) else key)

    lines = [
        t("campaign.header", title=shown["title"], state=_known("state", shown["state"])),
        t("campaign.id", id=shown["id"]),
        t("campaign.organiser", organiser=who(shown["organiser"])),
        t("campaign.terms", minimum=m(terms["minimum"]), target=m(terms["target"]),
          deadline=local_text(terms["deadline"], zone), mode=_known("mode", terms["mode"])),
        t("campaign.progress", pledged=m(counted["pledged"]), counted=m(counted["counted"]),
          percent=counted["percent_of_minimum"], total=m(counted["total"])),
    ]
    if shown["state"] in ("succeeded", "closed"):
        lines.append(t("campaign.books", bound=m(counted["bound"]), paid=m(counted["paid"]),
                       confirmed=m(counted["confirmed"]), outstanding=m(counted["outstanding"])))
    for line in counted["lines"]:
        flag = "" if line["min_reached"] else t("campaign.line_short")
        lines.append(t("campaign.line", id=line["id"], title=line["title"], allocated=m(line["allocated"]),
                       min=m(line["min"]), max=m(line["max"]), flag=flag))
    if counted["lines"] and counted["unallocated"]:
        lines.append(t("campaign.unallocated", amount=m(counted["unallocated"])))
    for goal in counted["stretch_goals"]:
        lines.append(t("campaign.goal", amount=m(goal["amount"]), title=goal["title"],
                       reached=t("campaign.reached") if goal["reached"] else t("campaign.not_reached")))
    for c in counted["contributions"]:
        extra = ""
        if c["hours"]:
            extra += f", {c['hours']} h"
        if c["line"]:
            extra += f", ligne {c['line']}"
        if c["paid"]:
            extra += f", payé {m(c['paid'])}"
        lines.append(t("campaign.contribution", who=who(c["key"]), what=_known("type", c["type"]), value=m(c["value"]),
                       counted=m(c["counted"]), status=_known("status", c["status"]), extra=extra))
    for p in shown["payments"]:
        receipt = t("campaign.receipt", amount=m(p["receipt"]["amount"])) if p["receipt"] else ""
        lines.append(t("campaign.payment", id=p["id"], who=who(p["contributor"]), amount=m(p["amount"]),
                       method=_known("method", p["method"]), receipt=receipt))
    return "\n".join(lines)


def _names(client: ApiClient) -> dict[str, str]:
    names = {p["node_id"]: p["name"] for p in client.call("GET", "/peers")["peers"] if p.get("name")}
    me = client.call("GET", "/node")
    names[me["node_id"]] = me["name"]
    return names


def cmd_show(args: argparse.Namespace) -> None:
    client = _client(args)
    shown = client.call("GET", f"/campaigns/{resolve(client, args.campaign)}")
    _emit(args, shown, show_text(shown, _zone(args.tz), _names(client)))


def cmd_import(args: argparse.Namespace) -> None:
    client = _client(args)
    campaign = resolve(client, args.campaign)
    data = Path(args.file).read_bytes()
    query = {"platform": args.platform, "reference": args.reference or Path(args.file).name, "tz": args.tz}
    done = client.call("POST", f"/campaigns/{campaign}/import", query=query, data=data, content_type="text/csv")
    summary = done["import"]
    _emit(args, done, t("campaign.imported", platform=args.platform, count=summary["count"],
                        amount=money_text(summary["amount"]), tips=money_text(summary["tips_excluded"]),
                        unpaid=summary["skipped"]["unpaid"]))


def _organiser_step(action: str) -> Any:
    def command(args: argparse.Namespace) -> None:
        client = _client(args)
        campaign = resolve(client, args.campaign)
        body = {"reason": args.reason} if getattr(args, "reason", None) else {}
        shown = client.call("POST", f"/campaigns/{campaign}/{action}", json_body=body)
        _emit(args, shown, show_text(shown, _zone(args.tz), _names(client)))

    return command


# ---- pledge commands --------------------------------------------------------


def pledge_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any]
    if args.amount is not None and not (args.hours or args.equipment):
        body = {"type": "money", "value": cents(args.amount, "--amount")}
    elif args.value is not None and args.hours is not None:
        body = {"type": "work", "value": cents(args.value, "--value"), "hours": args.hours}
        if args.description:
            body["description"] = args.description
    elif args.value is not None and args.equipment:
        body = {"type": "equipment", "value": cents(args.value, "--value"), "description": args.equipment}
    else:
        raise CampaignUsageError(t("campaign.pledge_kind"))
    if args.line:
        body["line"] = args.line
    conditions: dict[str, Any] = {}
    if args.if_minimum:
        conditions["if_minimum"] = True
    if args.cap is not None:
        conditions["cap_percent"] = args.cap
    if conditions:
        body["conditions"] = conditions
    return body


def _say(action: str, shape: Any) -> Any:
    def command(args: argparse.Namespace) -> None:
        client = _client(args)
        campaign = resolve(client, args.campaign)
        body = shape(args)
        if getattr(args, "organiser", None):
            body["organiser"] = _node_id(args.organiser, "--organiser")
        done = client.call("POST", f"/campaigns/{campaign}/{action}", json_body=body)
        if done["campaign"] is None:
            _emit(args, done, t("campaign.in_transit"))
            return
        _emit(args, done, t("campaign.recorded") + "\n" + show_text(done["campaign"], _zone(args.tz), _names(client)))

    return command


def _paid(args: argparse.Namespace) -> dict[str, Any]:
    method = METHODS.get(args.method.lower())
    if method is None:
        raise CampaignUsageError(f"--method : {', '.join(sorted(k for k in METHODS if k.isascii()))}")
    body: dict[str, Any] = {"amount": cents(args.amount, "--amount"), "method": method}
    if args.reference:
        body["reference"] = args.reference
    if args.date:
        body["date"] = moment(args.date, _zone(args.tz), "--date")
    return body


def _received(args: argparse.Namespace) -> dict[str, Any]:
    return {"payment": args.payment, "amount": cents(args.amount, "--amount")}


def _reason(args: argparse.Namespace) -> dict[str, Any]:
    return {"reason": args.reason} if args.reason else {}


# ---- parser -----------------------------------------------------------------


def _command(parent: Any, name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
    p = parent.add_parser(name, help=help_text)
    p.add_argument("--home", required=True, help="dossier du nœud / node home folder")
    p.add_argument("--json", action="store_true", help="un objet JSON par ligne / one JSON object per line")
    p.add_argument("--tz", default=DEFAULT_TZ, help="fuseau des dates (défaut : Europe/Paris)")
    p.set_defaults(func=func)
    return p


def _campaign_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("campaign", metavar="CAMPAGNE", help="id de la campagne ou préfixe unique (6 caractères au moins)")


def _pledge_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--amount", metavar="MONTANT", help="promesse en argent, ex. 1500 ou 1 500,50")
    p.add_argument("--hours", type=int, metavar="H", help="heures de travail promises (avec --value)")
    p.add_argument("--equipment", metavar="DESCRIPTION", help="matériel mis à disposition (avec --value)")
    p.add_argument("--value", metavar="MONTANT", help="valorisation de l'apport en nature")
    p.add_argument("--description", help="précision sur le travail promis")
    p.add_argument("--line", metavar="LIGNE", help="ligne budgétaire à laquelle l'apport est affecté")
    p.add_argument("--if-minimum", action="store_true", help="seulement si le minimum de la campagne est atteint")
    p.add_argument("--cap", type=int, metavar="1..100", help="au plus ce pourcentage du total final")
    p.add_argument("--organiser", metavar="NODE_ID", help="nœud organisateur, si la campagne n'est pas encore connue ici")


def add_commands(sub: Any) -> None:
    """`maillage campaign …` and `maillage pledge …` (wired by node/cli.py's build_parser)."""
    campaign = sub.add_parser("campaign", help="co-financer un projet commun entre associations").add_subparsers(
        dest="action", required=True)
    p = _command(campaign, "create", "ouvrir une campagne de co-financement (nous l'organisons)", cmd_create)
    p.add_argument("--title", required=True, help="titre")
    p.add_argument("--purpose", required=True, help="objet du projet")
    p.add_argument("--beneficiary", action="append", required=True, metavar="NODE_ID[:NOM]|NOM",
                   help="bénéficiaire : une association du réseau ou une personne morale nommée (jamais une personne)")
    p.add_argument("--target", required=True, metavar="MONTANT", help="objectif, ex. 5000")
    p.add_argument("--minimum", required=True, metavar="MONTANT", help="minimum pour que le projet se fasse")
    p.add_argument("--deadline", required=True, metavar="'AAAA-MM-JJ HH:MM'", help="échéance (une date seule : 23:59)")
    p.add_argument("--mode", choices=sorted(MODES), default="tout-ou-rien",
                   help="tout-ou-rien : rien n'est dû sous le minimum ; tout-garder : on garde ce qui est promis")
    p.add_argument("--currency", default="EUR", help="code ISO 4217 (défaut : EUR)")
    p.add_argument("--line", action="append", default=[], metavar="ID:TITRE:MIN:MAX", help="ligne budgétaire")
    p.add_argument("--stretch", action="append", default=[], metavar="MONTANT:TITRE", help="palier au-delà de l'objectif")
    p.add_argument("--federation", action="append", default=[], metavar="ID",
                   help="seuls les membres de cette fédération peuvent promettre")
    p.add_argument("--node", action="append", default=[], metavar="NODE_ID", help="seuls ces nœuds peuvent promettre")
    p.add_argument("--co-organiser", action="append", default=[], metavar="NODE_ID",
                   help="co-organisateur : la campagne s'ouvre quand tous ont signé")
    p.add_argument("--withdraw-until", metavar="'AAAA-MM-JJ HH:MM'",
                   help="dernier moment pour modifier ou retirer une promesse (défaut : l'échéance)")
    _command(campaign, "list", "lister les campagnes (les nôtres et celles annoncées)", cmd_list)
    _campaign_arg(_command(campaign, "show", "afficher une campagne et son décompte", cmd_show))
    p = _command(campaign, "import", "importer l'export CSV d'une plateforme de financement participatif", cmd_import)
    _campaign_arg(p)
    p.add_argument("file", metavar="FICHIER", help="export CSV (HelloAsso ou semblable) ; seuls les totaux sont gardés")
    p.add_argument("--platform", default="HelloAsso", help="plateforme (défaut : HelloAsso)")
    p.add_argument("--reference", help="nom de l'export (défaut : nom du fichier) ; le réimporter le remplace")
    _campaign_arg(_command(campaign, "conclude", "conclure maintenant (organisateur, après l'échéance)",
                           _organiser_step("conclude")))
    p = _command(campaign, "cancel", "annuler la campagne (organisateur, avant l'échéance)", _organiser_step("cancel"))
    _campaign_arg(p)
    p.add_argument("--reason", help="motif")
    _campaign_arg(_command(campaign, "cosign", "co-signer la campagne (co-organisateur)", _say("cosign", lambda a: {})))

    pledge = sub.add_parser("pledge", help="promettre, payer et confirmer dans une campagne").add_subparsers(
        dest="action", required=True)
    for name, help_text in (("make", "promettre un apport (argent, travail ou matériel)"),
                            ("amend", "remplacer notre promesse")):
        p = _command(pledge, name, help_text, _say("pledge" if name == "make" else "amend", pledge_body))
        _campaign_arg(p)
        _pledge_options(p)
    p = _command(pledge, "withdraw", "retirer notre promesse (avant la limite de retrait)", _say("withdraw", _reason))
    _campaign_arg(p)
    p.add_argument("--reason", help="motif")
    p = _command(pledge, "paid", "déclarer un paiement fait (après la réussite de la campagne)", _say("paid", _paid))
    _campaign_arg(p)
    p.add_argument("--amount", required=True, metavar="MONTANT")
    p.add_argument("--method", default="virement",
                   help="virement, cheque, especes, carte, plateforme, nature ou autre (défaut : virement)")
    p.add_argument("--reference", help="référence du virement ou n° de chèque (jamais le nom d'une personne)")
    p.add_argument("--date", metavar="'AAAA-MM-JJ HH:MM'", help="date du paiement (défaut : maintenant)")
    p = _command(pledge, "received", "confirmer un paiement reçu (organisateur ou bénéficiaire)", _say("received", _received))
    _campaign_arg(p)
    p.add_argument("payment", metavar="PAIEMENT", help="id du paiement (voir campaign show)")
    p.add_argument("--amount", required=True, metavar="MONTANT", help="montant reçu")


__all__ = ["add_commands", "cents", "moment", "money_text"]
