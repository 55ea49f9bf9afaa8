"""`maillage fund …`: a federation's territorial fund from the command line (through the local API).

Members contribute, apply to calls and confirm what they received; the
secretariat confirms money arrived, records outside funders, opens and closes
calls, pays out and releases what is not needed. Allocation criteria and
allocations are decisions: `maillage proposal …` (the federation's commands).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .cli_federation import _cli, _command, _federation
from .i18n import MESSAGES, language, t

MESSAGES.update({
    "fund.header": ("Fonds territorial — {name} ({currency})", "Territorial fund — {name} ({currency})"),
    "fund.totals": ("Disponible : {available} · détenu : {held}", "Available: {available} · held: {held}"),
    "fund.balanced": ("Grand livre équilibré ({entries} écriture(s)).", "Ledger balanced ({entries} entry(ies))."),
    "fund.unbalanced": ("GRAND LIVRE DÉSÉQUILIBRÉ : {problem}", "LEDGER OUT OF BALANCE: {problem}"),
    "fund.accounts": ("Comptes :", "Accounts:"),
    "fund.contributions": ("Contributions :", "Contributions:"),
    "fund.calls": ("Appels à projets :", "Calls for applications:"),
    "fund.applications": ("Candidatures :", "Applications:"),
    "fund.distributions": ("Versements :", "Distributions:"),
    "fund.alerts": ("Alertes :", "Alerts:"),
    "fund.account.fund": ("fonds, non attribué", "fund, not granted"),
    "fund.account.allocated": ("attribué, à verser", "granted, to pay"),
    "fund.account.contributor": ("contributeur", "contributor"),
    "fund.account.external": ("financeur extérieur", "outside funder"),
    "fund.account.beneficiary": ("bénéficiaire", "beneficiary"),
    "fund.none": ("  (aucun)", "  (none)"),
    "fund.status.pledged": ("promise, en attente de réception", "pledged, awaiting receipt"),
    "fund.status.received": ("reçue", "received"),
    "fund.status.withdrawn": ("retirée", "withdrawn"),
    "fund.call_open": ("ouvert jusqu'au {deadline}", "open until {deadline}"),
    "fund.call_closed": ("clos", "closed"),
    "fund.application": (
        "  {id}  {who} — {title} : demandé {requested}, accordé {granted}, reste à verser {remaining}",
        "  {id}  {who} — {title}: requested {requested}, granted {granted}, left to pay {remaining}",
    ),
    "fund.distribution": ("  {id}  {application} → {who} : {amount} ({reference}) {status}",
                          "  {id}  {application} → {who}: {amount} ({reference}) {status}"),
    "fund.confirmed": ("reçu ✓", "received ✓"),
    "fund.unconfirmed": ("réception non confirmée", "receipt not confirmed"),
    "fund.done": ("Fait : {step} (événement {event}…)", "Done: {step} (event {event}…)"),
    "fund.step.contribute": ("contribution promise", "contribution pledged"),
    "fund.step.withdraw-contribution": ("contribution retirée", "contribution withdrawn"),
    "fund.step.apply": ("candidature déposée", "application made"),
    "fund.step.received": ("réception confirmée", "receipt confirmed"),
    "fund.step.receive-contribution": ("réception de la contribution confirmée", "contribution receipt confirmed"),
    "fund.step.external": ("financement extérieur enregistré", "outside funding recorded"),
    "fund.step.open-call": ("appel ouvert", "call opened"),
    "fund.step.close-call": ("appel clos", "call closed"),
    "fund.step.distribute": ("versement enregistré", "distribution recorded"),
    "fund.step.release": ("reliquat rendu au fonds", "remainder returned to the fund"),
    "fund.bad_line": ("--budget-line : « libellé=montant » attendu, reçu « {value} »",
                      "--budget-line: “label=amount” expected, got “{value}”"),
    "fund.report": ("Rapport d'activité {year} — {name}", "Activity report {year} — {name}"),
    "fund.report.resources": (("Ressources reçues : {total} (membres {members}, extérieures {external} ; "
                               "publiques {public}, de l'étranger {foreign})"),
                              ("Resources received: {total} (members {members}, outside {external}; "
                               "public {public}, from abroad {foreign})")),
    "fund.report.granted": ("Attribué par décision : {allocated} · versé : {distributed}",
                            "Granted by decision: {allocated} · paid: {distributed}"),
    "fund.report.end": ("Au 31 décembre : détenu {held}, disponible {available}",
                        "On 31 December: held {held}, available {available}"),
    "fund.report.beneficiaries": ("Subventions versées par bénéficiaire :", "Grants paid per beneficiary:"),
    "fund.report.beneficiary": ("  {who} : {total}", "  {who}: {total}"),
    "fund.report.grant": ("    {application} « {title} » : {amount}", "    {application} “{title}”: {amount}"),
    "fund.report.csv": ("Registre des subventions écrit : {path} (complétez adresse, courriel, téléphone et nature).",
                        "Grants register written: {path} (fill in address, email, phone and legal nature)."),
})

CSV_COLUMNS = ("beneficiaire_noeud", "nom", "adresse", "courriel", "telephone", "nature", "candidature", "appel",
               "projet", "montant", "devise")


def _money(args: argparse.Namespace, client: Any, fid: str, value: str, option: str) -> dict[str, Any]:
    """An amount in the fund's currency unless --currency says otherwise."""
    currency = getattr(args, "currency", None)
    if not currency:
        currency = client.call("GET", f"/federations/{fid}/fund").get("currency") or "EUR"
    return {"amount": _cli()._cents(value, option), "currency": currency.upper()}


def _text(money_cents: int, currency: str | None) -> str:
    return _cli()._money_text({"amount": money_cents, "currency": currency or "EUR"})


def _optional(body: dict[str, Any], args: argparse.Namespace, *names: str) -> dict[str, Any]:
    for name in names:
        value = getattr(args, name, None)
        if value is not None:
            body[name] = value
    return body


def _post(args: argparse.Namespace, client: Any, fid: str, step: str, body: dict[str, Any]) -> None:
    result = client.call("POST", f"/federations/{fid}/fund/{step}", json_body=body)
    fund = result["fund"]
    totals = t("fund.totals", available=_text(fund["available"], fund["currency"]),
               held=_text(fund["held"], fund["currency"]))
    ids = [i for found in result.get("created", {}).values() for i in found]
    done = t("fund.done", step=t(f"fund.step.{step}") + (f" : {', '.join(ids)}" if ids else ""),
             event=result["event"][:12])
    _cli()._emit(args, result, done + "\n" + totals)


# ---- members ----------------------------------------------------------------------------------


def _contribute(args: argparse.Namespace, client: Any) -> None:
    fid = _federation(client, args.federation)
    body = {"amount": _money(args, client, fid, args.amount, "--amount"), "method": args.method}
    _post(args, client, fid, "contribute", _optional(body, args, "reference", "note"))


def _withdraw(args: argparse.Namespace, client: Any) -> None:
    fid = _federation(client, args.federation)
    _post(args, client, fid, "withdraw-contribution", _optional({"contribution": args.contribution}, args, "reason"))


def _budget_lines(args: argparse.Namespace, client: Any, fid: str) -> list[dict[str, Any]]:
    lines = []
    for value in args.budget_line or ():
        label, sep, amount = value.rpartition("=")
        if not sep or not label.strip():
            raise _cli().UsageError(t("fund.bad_line", value=value))
        lines.append({"label": label.strip(), "amount": _money(args, client, fid, amount, "--budget-line")})
    return lines


def _apply(args: argparse.Namespace, client: Any) -> None:
    fid = _federation(client, args.federation)
    body: dict[str, Any] = {"call": args.call, "title": args.title, "project": args.project,
                            "amount": _money(args, client, fid, args.amount, "--amount")}
    lines = _budget_lines(args, client, fid)
    if lines:
        body["budget"] = lines
    _post(args, client, fid, "apply", body)


def _received(args: argparse.Namespace, client: Any) -> None:
    fid = _federation(client, args.federation)
    _post(args, client, fid, "received", _optional({"distribution": args.distribution}, args, "note"))


# ---- the secretariat ------------------------------------------------------------------------


def _confirm(args: argparse.Namespace, client: Any) -> None:
    fid = _federation(client, args.federation)
    body: dict[str, Any] = {"contribution": args.contribution}
    if args.amount is not None:
        body["amount"] = _money(args, client, fid, args.amount, "--amount")
    _post(args, client, fid, "receive-contribution", _optional(body, args, "reference"))


def _external(args: argparse.Namespace, client: Any) -> None:
    fid = _federation(client, args.federation)
    body: dict[str, Any] = {"funder": args.funder, "amount": _money(args, client, fid, args.amount, "--amount"),
                            "reference": args.reference}
    if args.public:
        body["public"] = True
    _post(args, client, fid, "external", _optional(body, args, "authorisation", "country", "note"))


def _deadline(args: argparse.Namespace) -> int:
    """The end of the given day (inclusive) in the operator's time zone, in ms."""
    cli = _cli()
    zone: ZoneInfo = cli._zone(args.tz)
    day = cli._parse_day(args.deadline, "--deadline") + timedelta(days=1)
    return int(datetime.combine(day, time(0), zone).timestamp() * 1000)


def _call(args: argparse.Namespace, client: Any) -> None:
    fid = _federation(client, args.federation)
    body: dict[str, Any] = {"id": args.id, "title": args.title,
                            "budget": _money(args, client, fid, args.budget, "--budget"), "deadline": _deadline(args)}
    _post(args, client, fid, "open-call", _optional(body, args, "criteria", "description"))


def _close_call(args: argparse.Namespace, client: Any) -> None:
    fid = _federation(client, args.federation)
    _post(args, client, fid, "close-call", _optional({"call": args.call}, args, "reason"))


def _distribute(args: argparse.Namespace, client: Any) -> None:
    fid = _federation(client, args.federation)
    body = {"application": args.application, "amount": _money(args, client, fid, args.amount, "--amount"),
            "reference": args.reference}
    _post(args, client, fid, "distribute", body)


def _release(args: argparse.Namespace, client: Any) -> None:
    fid = _federation(client, args.federation)
    body = {"application": args.application, "amount": _money(args, client, fid, args.amount, "--amount"),
            "reason": args.reason}
    _post(args, client, fid, "release", body)


# ---- reading --------------------------------------------------------------------------------


def _who(node_id: str | None, name: str | None) -> str:
    short = (node_id or "?")[:12] + "…"
    return f"{name} ({short})" if name else short


def _day(ms: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, zone).date().isoformat()


def _show(args: argparse.Namespace, client: Any) -> None:
    fid = _federation(client, args.federation)
    fund = client.call("GET", f"/federations/{fid}/fund")
    if args.json:
        print(json.dumps(fund, ensure_ascii=False))
        return
    print("\n".join(show_lines(fund, _cli()._zone(args.tz))))


def show_lines(fund: Mapping[str, Any], zone: ZoneInfo) -> list[str]:
    currency = fund["currency"]
    money = lambda cents: _text(cents, currency)
    lines = [t("fund.header", name=fund.get("name") or fund["federation"], currency=currency or "—"),
             t("fund.totals", available=money(fund["available"]), held=money(fund["held"]))]
    lines.append(t("fund.balanced", entries=len(fund["ledger"])) if fund["balanced"]
                 else t("fund.unbalanced", problem=fund["problem"]))
    lines.append(t("fund.accounts"))
    for b in fund["balances"] or ():
        kind, _, rest = b["account"].partition(":")
        label = t(f"fund.account.{kind}") if f"fund.account.{kind}" in MESSAGES else kind
        if kind in ("contributor", "beneficiary"):
            label += " — " + _who(rest, b.get("name"))
        elif rest:
            label += " — " + rest
        lines.append(f"  {label:<56} {money(b['balance']):>18}")
    lines.append(t("fund.contributions"))
    for c in fund["contributions"] or ():
        amount = c["received"] or c["pledged"]
        who = c["account"].removeprefix("external:") if c["node"] is None else _who(c["node"], c.get("name"))
        lines.append(f"  {c['id']}  {who} : {_cli()._money_text(amount)} — {t('fund.status.' + c['status'])}")
    if not fund["contributions"]:
        lines.append(t("fund.none"))
    lines.append(t("fund.calls"))
    for call in fund["calls"] or ():
        status = (t("fund.call_open", deadline=_day(call["deadline"], zone)) if call["open"]
                  else t("fund.call_closed"))
        lines.append(f"  {call['id']}  {call['title']} — budget {_cli()._money_text(call['budget'])}, {status}")
    if not fund["calls"]:
        lines.append(t("fund.none"))
    lines.append(t("fund.applications"))
    for a in fund["applications"] or ():
        lines.append(t("fund.application", id=a["id"], who=_who(a["applicant"], a.get("applicant_name")),
                       title=a["title"], requested=_cli()._money_text(a["requested"]), granted=money(a["granted"]),
                       remaining=money(a["remaining"])))
    if not fund["applications"]:
        lines.append(t("fund.none"))
    lines.append(t("fund.distributions"))
    for d in fund["distributions"] or ():
        status = t("fund.confirmed") if d.get("received_at") else t("fund.unconfirmed")
        lines.append(t("fund.distribution", id=d["id"], application=d["application"],
                       who=_who(d["beneficiary"], d.get("beneficiary_name")), amount=_cli()._money_text(d["amount"]),
                       reference=d["reference"], status=status))
    if not fund["distributions"]:
        lines.append(t("fund.none"))
    if fund["alerts"]:
        lines.append(t("fund.alerts"))
        lines.extend(f"  ⚠ {_alert_text(a)}" for a in fund["alerts"])
    return lines


def _alert_text(alert: Mapping[str, Any]) -> str:
    return str(alert["message_en"] if language() == "en" else alert["message_fr"])


def _report(args: argparse.Namespace, client: Any) -> None:
    fid = _federation(client, args.federation)
    query = {"year": args.year} if args.year is not None else None
    figures = client.call("GET", f"/federations/{fid}/fund/report", query=query)
    if args.csv:
        path = write_register(Path(args.csv), figures)
        print(t("fund.report.csv", path=path), file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
        return
    money = _cli()._money_text
    name = client.call("GET", f"/federations/{fid}/fund").get("name") or fid
    lines = [t("fund.report", year=figures["year"], name=name),
             t("fund.report.resources", total=money(figures["resources"]), members=money(figures["from_members"]),
               external=money(figures["from_external"]), public=money(figures["public"]),
               foreign=money(figures["foreign"])),
             t("fund.report.granted", allocated=money(figures["allocated"]), distributed=money(figures["distributed"])),
             t("fund.report.end", held=money(figures["held_at_end"]), available=money(figures["available_at_end"])),
             t("fund.report.beneficiaries")]
    for b in figures["beneficiaries"]:
        lines.append(t("fund.report.beneficiary", who=_who(b["beneficiary"], b.get("name")), total=money(b["total"])))
        lines.extend(t("fund.report.grant", application=g["application"], title=g["title"], amount=money(g["amount"]))
                     for g in b["grants"])
    if not figures["beneficiaries"]:
        lines.append(t("fund.none"))
    if figures["alerts"]:
        lines.append(t("fund.alerts"))
        lines.extend(f"  ⚠ {_alert_text(a)}" for a in figures["alerts"])
    print("\n".join(lines))


def write_register(path: Path, figures: Mapping[str, Any]) -> Path:
    """The grants register (one line per grant paid in the year), for the activity report to the préfet."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(CSV_COLUMNS)
        for b in figures["beneficiaries"]:
            for g in b["grants"]:
                writer.writerow([b["beneficiary"], b.get("name") or "", "", "", "", "", g["application"], g["call"],
                                 g["title"], f"{g['amount']['amount'] / 100:.2f}".replace(".", ","),
                                 g["amount"]["currency"]])
    return path


# ---- the parser -------------------------------------------------------------------------------


def add_commands(sub: Any) -> None:
    """`maillage fund …` under the CLI's sub-commands."""
    cli = _cli()
    fund = sub.add_parser("fund", help="le fonds territorial d'une fédération").add_subparsers(
        dest="action", required=True)

    def command(name: str, help_text: str, fn: Callable[[argparse.Namespace, Any], None]) -> argparse.ArgumentParser:
        p = cli._command(fund, name, help_text, _command(fn))
        p.add_argument("federation", metavar="FÉDÉRATION", help="id de la fédération ou préfixe unique (6 caractères au moins)")
        return p

    def amount(p: argparse.ArgumentParser, option: str = "--amount", help_text: str = "montant, ex. 1250,50") -> None:
        p.add_argument(option, required=True, help=help_text)
        p.add_argument("--currency", help="code ISO 4217 (défaut : la devise du fonds)")

    p = command("show", "afficher le fonds : soldes, grand livre, appels, candidatures, versements", _show)
    cli._add_tz(p)

    p = command("contribute", "promettre une contribution au fonds (comptée à sa réception)", _contribute)
    amount(p)
    p.add_argument("--method", default="transfer",
                   choices=["transfer", "cheque", "card", "cash", "direct_debit", "platform", "other"],
                   help="moyen de paiement (défaut : transfer, virement)")
    p.add_argument("--reference", help="référence du virement, pour le rapprochement bancaire")
    p.add_argument("--note")

    p = command("withdraw", "retirer une contribution promise et pas encore reçue", _withdraw)
    p.add_argument("contribution", metavar="CONTRIBUTION", help="ex. c3")
    p.add_argument("--reason", help="motif")

    p = command("confirm", "confirmer la réception d'une contribution (secrétariat)", _confirm)
    p.add_argument("contribution", metavar="CONTRIBUTION", help="ex. c3")
    p.add_argument("--amount", help="montant reçu s'il est inférieur à la promesse")
    p.add_argument("--currency", help="code ISO 4217 (défaut : la devise du fonds)")
    p.add_argument("--reference", help="ligne du relevé bancaire")

    p = command("external", "enregistrer un financement extérieur : collectivité, fondation… (secrétariat)", _external)
    p.add_argument("--funder", required=True, help="nom du financeur")
    amount(p)
    p.add_argument("--reference", required=True, help="convention, délibération ou reçu qui l'atteste")
    p.add_argument("--public", action="store_true", help="fonds publics (subvention)")
    p.add_argument("--authorisation", help="référence de l'autorisation (fonds publics reçus par un fonds de dotation)")
    p.add_argument("--country", help="pays du financeur, code ISO à 2 lettres (défaut : France)")
    p.add_argument("--note")

    p = command("call", "ouvrir un appel à projets (secrétariat ; critères adoptés au préalable)", _call)
    p.add_argument("--id", required=True, help="identifiant court, ex. velo-2026")
    p.add_argument("--title", required=True)
    amount(p, "--budget", "enveloppe de l'appel, ex. 5000")
    p.add_argument("--deadline", required=True, metavar="AAAA-MM-JJ", help="dernier jour de dépôt, inclus")
    p.add_argument("--description")
    p.add_argument("--criteria", type=int, help="version des critères appliqués (défaut : celle en vigueur)")
    cli._add_tz(p)

    p = command("close-call", "clore un appel à projets (secrétariat)", _close_call)
    p.add_argument("call", metavar="APPEL")
    p.add_argument("--reason", help="motif")

    p = command("apply", "déposer une candidature à un appel ouvert", _apply)
    p.add_argument("--call", required=True, metavar="APPEL")
    p.add_argument("--title", required=True)
    p.add_argument("--project", required=True, help="description du projet")
    amount(p, "--amount", "montant demandé au fonds, ex. 2000")
    p.add_argument("--budget-line", action="append", metavar="LIBELLÉ=MONTANT",
                   help="une ligne du budget du projet (répétable), ex. 'vélo cargo=3500'")

    p = command("distribute", "verser à une candidature retenue (secrétariat)", _distribute)
    p.add_argument("application", metavar="CANDIDATURE", help="ex. velo-2026/1")
    amount(p)
    p.add_argument("--reference", required=True, help="référence du virement")

    p = command("release", "rendre au fonds ce qui ne sera pas versé à une candidature (secrétariat)", _release)
    p.add_argument("application", metavar="CANDIDATURE")
    amount(p)
    p.add_argument("--reason", required=True, help="motif")

    p = command("received", "confirmer la réception d'un versement (association bénéficiaire)", _received)
    p.add_argument("distribution", metavar="VERSEMENT", help="ex. d2")
    p.add_argument("--note")

    p = command("report", "chiffres du rapport d'activité d'une année (et registre des subventions en CSV)", _report)
    p.add_argument("--year", type=int, help="année (défaut : l'année en cours)")
    p.add_argument("--csv", metavar="FICHIER", help="écrire le registre des subventions versées (CSV, « ; »)")


__all__ = ["add_commands", "show_lines", "write_register"]
