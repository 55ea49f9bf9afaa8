"""`maillage federation …` and `maillage proposal …`: federations and their decisions (through the local API).

A federation is founded by its secretariat's node with a charter (colleges,
founding members, one decision rule per kind of decision); every founder
adheres with its own signature. Members then propose, ask, object, amend
and vote; the secretariat's node closes each proposal when its window ends,
with the outcome the signed statements give (docs/governance.md).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, time
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

from .i18n import MESSAGES, t

MIN_PREFIX = 6
DAY_MS = 86_400_000

MESSAGES.update({
    "fed.founded": ("Fédération « {name} » fondée : {id}\nLes membres fondateurs sont invités à adhérer "
                    "(maillage federation adhere {short}).",
                    "Federation “{name}” founded: {id}\nThe founding members are invited to adhere "
                    "(maillage federation adhere {short})."),
    "fed.none": ("Aucune fédération sur ce nœud.", "No federation on this node."),
    "fed.row": ("{id}  {name} ({territory}) — {state}, {members} membre(s), {open} proposition(s) ouverte(s) ; "
                "nous : {role}",
                "{id}  {name} ({territory}) — {state}, {members} member(s), {open} open proposal(s); us: {role}"),
    "fed.header": ("Fédération « {name} » — {territory} — {state}", "Federation “{name}” — {territory} — {state}"),
    "fed.id": ("  Identifiant : {id}", "  Id: {id}"),
    "fed.purpose": ("  Objet : {purpose}", "  Purpose: {purpose}"),
    "fed.secretariat": ("  Secrétariat : {who}", "  Secretariat: {who}"),
    "fed.our_role": ("  Ce nœud : {role}", "  This node: {role}"),
    "fed.digest": ("  Empreinte de la charte : {digest}", "  Charter digest: {digest}"),
    "fed.colleges": ("  Collèges :", "  Colleges:"),
    "fed.college": ("    {title} [{id}]{weight} : {members}", "    {title} [{id}]{weight}: {members}"),
    "fed.weight": (" — {percent} % des voix", " — {percent} % of the votes"),
    "fed.invited_suffix": (" (invitée)", " (invited)"),
    "fed.nobody": ("personne", "nobody"),
    "fed.rules": ("  Règles de décision :", "  Decision rules:"),
    "fed.rule.consent": ("    {kind} : consentement — questions {questions}, objections {objections}, révision après "
                         "{months} mois",
                         "    {kind}: consent — questions {questions}, objections {objections}, review after "
                         "{months} months"),
    "fed.rule.ballot": ("    {kind} : scrutin — {voting}, quorum {quorum} %, majorité {majority} %{weighted}",
                        "    {kind}: ballot — {voting}, quorum {quorum} %, majority {majority} %{weighted}"),
    "fed.rule.weighted": (", pondéré par collège", ", weighted by college"),
    "fed.links": ("  Fédérations liées :", "  Linked federations:"),
    "fed.link": ("    {name} ({id}…), secrétariat {secretariat}…", "    {name} ({id}…), secretariat {secretariat}…"),
    "fed.proposals": ("  Propositions :", "  Proposals:"),
    "fed.adhered": ("Adhésion enregistrée : « {name} » — {state}, {members} membre(s).",
                    "Adhesion recorded: “{name}” — {state}, {members} member(s)."),
    "fed.bad_id": ("Fédération « {id} » : donnez son identifiant (32 caractères hexadécimaux) ou un préfixe "
                   "d'au moins {min} caractères.",
                   "Federation “{id}”: give its id (32 hexadecimal characters) or a prefix of at least {min}."),
    "fed.unknown_id": ("Aucune fédération « {id} » sur ce nœud.", "No federation “{id}” on this node."),
    "fed.ambiguous_id": ("« {id} » désigne plusieurs fédérations : {ids}", "“{id}” names several federations: {ids}"),
    "fed.bad_college": ("--college : « id:titre » ou « id:titre:poids » attendu, reçu « {value} »",
                        "--college: “id:title” or “id:title:weight” expected, got “{value}”"),
    "fed.bad_member": ("--member : « NODE_ID=collège » attendu, reçu « {value} »",
                       "--member: “NODE_ID=college” expected, got “{value}”"),
    "fed.bad_duration": ("Durée « {value} » : un nombre suivi de s, min, h ou j (ex. 3j, 12h, 90s).",
                         "Duration “{value}”: a number followed by s, min, h or j (e.g. 3j, 12h, 90s)."),
    "fed.charter_or_options": ("Donnez soit --charter, soit --name, --territory, --purpose, --college et --self-college.",
                               "Give either --charter, or --name, --territory, --purpose, --college and --self-college."),
    "prop.row": ("{id}  [{kind}] « {title} » — {state}{federation}", "{id}  [{kind}] “{title}” — {state}{federation}"),
    "prop.none": ("Aucune proposition.", "No proposals."),
    "prop.made": ("Proposition « {id} » faite : {state}, fenêtre close le {closes}.",
                  "Proposal “{id}” made: {state}, window closes {closes}."),
    "prop.header": ("Proposition « {title} » [{id}] — {kind}, version {version}",
                    "Proposal “{title}” [{id}] — {kind}, version {version}"),
    "prop.proposer": ("  Proposée par : {who}", "  Proposed by: {who}"),
    "prop.state": ("  État : {state}", "  State: {state}"),
    "prop.window.consent": ("  Questions jusqu'au {questions}, objections jusqu'au {closes}",
                            "  Questions until {questions}, objections until {closes}"),
    "prop.window.ballot": ("  Vote ouvert jusqu'au {closes}", "  Voting open until {closes}"),
    "prop.text": ("  Texte : {text}", "  Text: {text}"),
    "prop.payload": ("  Objet de la décision : {payload}", "  What it decides: {payload}"),
    "prop.questions": ("  Questions :", "  Questions:"),
    "prop.question": ("    {number}. {who} : {text}", "    {number}. {who}: {text}"),
    "prop.answer": ("       → {text}", "       → {text}"),
    "prop.unanswered": ("       → (sans réponse)", "       → (unanswered)"),
    "prop.objections": ("  Objections :", "  Objections:"),
    "prop.objection": ("    {number}. [{status}, version {version}] {who} : {reason} (objectif : {aim})",
                       "    {number}. [{status}, version {version}] {who}: {reason} (aim: {aim})"),
    "prop.ballots": ("  Bulletins : {voted} sur {electorate} — pour {for_}, contre {against}, abstention {abstain}",
                     "  Ballots: {voted} of {electorate} — for {for_}, against {against}, abstain {abstain}"),
    "prop.quorum": ("  Participation {participation} % (quorum {quorum} % : {reached})",
                    "  Turnout {participation} % (quorum {quorum} %: {reached})"),
    "prop.share": ("  Résultat : {share} % pour (majorité requise {majority} %, plus de la moitié)",
                   "  Result: {share} % for (majority needed {majority} %, more than half)"),
    "prop.no_share": ("  Résultat : aucun suffrage exprimé", "  Result: no vote expressed"),
    "prop.college": ("    collège {college} (poids {weight} %) : pour {for_}, contre {against}, abstention {abstain}"
                     " → {share}",
                     "    college {college} (weight {weight} %): for {for_}, against {against}, abstain {abstain}"
                     " → {share}"),
    "prop.tally": ("  Décompte à cet instant : {outcome}", "  Tally now: {outcome}"),
    "prop.review": ("  À réviser le {review}", "  Review on {review}"),
    "prop.not_applied": ("  Adoptée sans effet : {note}", "  Adopted without effect: {note}"),
    "prop.yes": ("atteint", "reached"),
    "prop.no": ("non atteint", "not reached"),
    "prop.done": ("Fait. {title} [{id}] — {state}", "Done. {title} [{id}] — {state}"),
    "party.secretariat": ("Secrétariat", "Secretariat"),  # the federation's party, in `maillage audit`
    "state.forming": ("en formation", "forming"),
    "state.active": ("active", "active"),
    "fed.state.forming": ("en formation (des fondateurs n'ont pas encore adhéré)", "forming (founders yet to adhere)"),
    "fed.state.active": ("active", "active"),
    "fed.role.secretariat": ("secrétariat", "secretariat"),
    "fed.role.member": ("membre", "member"),
    "fed.role.invited": ("invitée, à adhérer", "invited, to adhere"),
    "fed.role.former": ("plus membre", "no longer a member"),
    "fed.kind.admit": ("admission", "admission"),
    "fed.kind.remove": ("retrait d'un membre", "removal of a member"),
    "fed.kind.amend_charter": ("modification de la charte", "charter amendment"),
    "fed.kind.link": ("lien avec une autre fédération", "link to another federation"),
    "fed.kind.general": ("décision générale", "general decision"),
    "fed.kind.fund_criteria": ("critères du fonds", "fund criteria"),
    "fed.kind.fund_allocation": ("attribution du fonds", "fund allocation"),
    "prop.phase.questions": ("questions de clarification", "clarifying questions"),
    "prop.phase.objections": ("tour d'objections", "objection round"),
    "prop.phase.voting": ("vote en cours", "voting"),
    "prop.phase.ended": ("fenêtre close, clôture en attente", "window ended, awaiting closing"),
    "prop.phase.adopted": ("adoptée", "adopted"),
    "prop.phase.rejected": ("rejetée", "rejected"),
    "prop.objection.open": ("ouverte", "open"),
    "prop.objection.withdrawn": ("retirée", "withdrawn"),
    "prop.objection.integrated": ("intégrée", "integrated"),
})

CHOICES = {"pour": "for", "contre": "against", "abstention": "abstain", "for": "for", "against": "against",
           "abstain": "abstain"}
KINDS = ("admit", "remove", "amend_charter", "link", "general", "fund_criteria", "fund_allocation")
UNITS = {"s": 1_000, "min": 60_000, "h": 3_600_000, "j": DAY_MS, "d": DAY_MS}
DURATION_FIELDS = ("questions_ms", "objections_ms", "voting_ms")


def default_rules(weighted: bool) -> dict[str, Any]:
    """Rules a federation starts from: consent for its life (a week's round), ballots for the fund's money."""
    consent = {"method": "consent", "questions_ms": 3 * DAY_MS, "objections_ms": 7 * DAY_MS, "review_months": 12}
    ballot: dict[str, Any] = {"method": "ballot", "voting_ms": 14 * DAY_MS, "quorum_percent": 50,
                              "majority_percent": 50}
    if weighted:
        ballot["weighted"] = True
    rules = {kind: dict(consent) for kind in ("admit", "remove", "amend_charter", "link", "general")}
    rules.update({kind: dict(ballot) for kind in ("fund_criteria", "fund_allocation")})
    return rules


def _cli() -> ModuleType:
    # node.cli imports this module: import it back lazily (it may run as __main__ under `python -m`).
    from . import cli

    return cli


def _usage(message: str) -> Exception:
    return _cli().UsageError(message)  # type: ignore[no-any-return]


def _command(fn: Callable[[argparse.Namespace, Any], None]) -> Callable[[argparse.Namespace], None]:
    """Run ``fn(args, client)``; usage errors end with status 2, whichever copy of the CLI raised them."""

    def command(args: argparse.Namespace) -> None:
        cli = _cli()
        try:
            fn(args, cli._client(args))
        except cli.UsageError as exc:
            print(str(exc), file=sys.stderr)
            raise SystemExit(2) from None

    return command


def _federation(client: Any, text: str) -> str:
    """A federation id from its 32 hex characters or a unique prefix of at least six."""
    wanted = text.strip().lower()
    if len(wanted) < MIN_PREFIX or len(wanted) > 32 or any(c not in "0123456789abcdef" for c in wanted):
        raise _usage(t("fed.bad_id", id=text, min=MIN_PREFIX))
    matches = [f["id"] for f in client.call("GET", "/federations")["federations"] if f["id"].startswith(wanted)]
    if not matches:
        raise _usage(t("fed.unknown_id", id=text))
    if len(matches) > 1:
        raise _usage(t("fed.ambiguous_id", id=text, ids=", ".join(m[:12] + "…" for m in matches[:5])))
    return str(matches[0])


def duration_ms(value: Any) -> Any:
    """"3j", "12h", "30min", "90s" in ms; integers (ms) stay as they are."""
    if isinstance(value, int) or not isinstance(value, str):
        return value
    match = re.fullmatch(r"\s*(\d+)\s*(s|min|h|j|d)\s*", value)
    if match is None:
        raise _usage(t("fed.bad_duration", value=value))
    return int(match.group(1)) * UNITS[match.group(2)]


def _rules(text: str | None, weighted: bool) -> dict[str, Any]:
    rules = default_rules(weighted)
    if text:
        for kind, rule in _cli()._json_argument(text, "--rules").items():
            rules[kind] = {k: duration_ms(v) if k in DURATION_FIELDS else v for k, v in dict(rule).items()}
    return rules


def _colleges(values: list[str]) -> list[dict[str, Any]]:
    colleges = []
    for value in values:
        parts = value.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            raise _usage(t("fed.bad_college", value=value))
        college: dict[str, Any] = {"id": parts[0].strip(), "title": parts[1].strip()}
        if len(parts) == 3:
            if not parts[2].strip().isdigit():
                raise _usage(t("fed.bad_college", value=value))
            college["weight_percent"] = int(parts[2])
        colleges.append(college)
    return colleges


def _charter(args: argparse.Namespace, client: Any) -> dict[str, Any]:
    if args.charter:
        return dict(_cli()._json_argument(args.charter, "--charter"))
    if not (args.name and args.territory and args.purpose and args.college and args.self_college):
        raise _usage(t("fed.charter_or_options"))
    colleges = _colleges(args.college)
    us = client.call("GET", "/node")["node_id"]
    founders = {us: args.self_college}
    for value in args.member:
        node, _, college = value.partition("=")
        if not node.strip() or not college.strip():
            raise _usage(t("fed.bad_member", value=value))
        founders[node.strip()] = college.strip()
    charter: dict[str, Any] = {
        "name": args.name, "territory": args.territory, "purpose": args.purpose, "colleges": colleges,
        "founders": founders, "rules": _rules(args.rules, any("weight_percent" in c for c in colleges)),
    }
    if args.scic:
        charter["scic"] = True
    if args.currency:
        charter["currency"] = args.currency.upper()
    return charter


# ---- what the operator reads ---------------------------------------------------------------------


def _known(key: str, fallback: str) -> str:
    return t(key) if key in MESSAGES else fallback


def _when(ms: int | None, tz: str) -> str:
    if ms is None:
        return "—"
    return f"{datetime.fromtimestamp(ms / 1000, ZoneInfo(tz)):%Y-%m-%d %H:%M:%S}"


def _span(ms: int) -> str:
    for unit, size in (("j", DAY_MS), ("h", 3_600_000), ("min", 60_000), ("s", 1_000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size} {unit}"
    return f"{ms} ms"


def _who(names: Mapping[str, str], node: str) -> str:
    name = names.get(node)
    return f"{name} ({node[:8]}…)" if name else node[:12] + "…"


def _emit(args: argparse.Namespace, obj: Any, lines: list[str]) -> None:
    if args.json:
        print(json.dumps(obj, ensure_ascii=False))
    else:
        print("\n".join(lines))


def _state_text(proposal: Mapping[str, Any]) -> str:
    return _known(f"prop.phase.{proposal['phase']}", proposal["phase"])


def _proposal_row(proposal: Mapping[str, Any], with_federation: bool) -> str:
    federation = f" — {proposal.get('federation_name', '')}" if with_federation else ""
    return t("prop.row", id=proposal["id"], kind=_known(f"fed.kind.{proposal['kind']}", proposal["kind"]),
             title=proposal["title"], state=_state_text(proposal), federation=federation)


def federation_lines(found: Mapping[str, Any], tz: str) -> list[str]:
    names = found.get("names") or {}
    lines = [
        t("fed.header", name=found["name"], territory=found["territory"],
          state=_known(f"fed.state.{found['state']}", found["state"])),
        t("fed.id", id=found["id"]),
        t("fed.purpose", purpose=found["purpose"]),
        t("fed.secretariat", who=_who(names, found["secretariat"])),
        t("fed.our_role", role=_known(f"fed.role.{found['our_role']}", found["our_role"])),
        t("fed.digest", digest=found["charter_digest"][:16] + "…"),
        t("fed.colleges"),
    ]
    for college in found["colleges"]:
        who = [_who(names, n) for n in college["members"]]
        who += [_who(names, n) + t("fed.invited_suffix") for n in college["invited"]]
        weight = t("fed.weight", percent=college["weight_percent"]) if "weight_percent" in college else ""
        lines.append(t("fed.college", title=college["title"], id=college["id"], weight=weight,
                       members=", ".join(who) or t("fed.nobody")))
    lines.append(t("fed.rules"))
    for kind, rule in found["charter"]["rules"].items():
        label = _known(f"fed.kind.{kind}", kind)
        if rule["method"] == "consent":
            lines.append(t("fed.rule.consent", kind=label, questions=_span(rule["questions_ms"]),
                           objections=_span(rule["objections_ms"]), months=rule["review_months"]))
        else:
            lines.append(t("fed.rule.ballot", kind=label, voting=_span(rule["voting_ms"]), quorum=rule["quorum_percent"],
                           majority=rule["majority_percent"], weighted=t("fed.rule.weighted") if rule.get("weighted") else ""))
    if found["links"]:
        lines.append(t("fed.links"))
        lines += [t("fed.link", name=link["name"], id=link["federation"][:8], secretariat=link["secretariat"][:8])
                  for link in found["links"]]
    if found["proposals"]:
        lines.append(t("fed.proposals"))
        lines += ["    " + _proposal_row(p, False) for p in found["proposals"]]
    return lines


def proposal_lines(proposal: Mapping[str, Any], tz: str) -> list[str]:
    names = proposal.get("names") or {}
    window = proposal["window"]
    lines = [
        t("prop.header", title=proposal["title"], id=proposal["id"],
          kind=_known(f"fed.kind.{proposal['kind']}", proposal["kind"]), version=proposal["version"]),
        t("prop.proposer", who=_who(names, proposal["proposer"])),
        t("prop.state", state=_state_text(proposal)),
    ]
    if proposal["method"] == "consent":
        lines.append(t("prop.window.consent", questions=_when(window["questions_until"], tz), closes=_when(window["closes"], tz)))
    else:
        lines.append(t("prop.window.ballot", closes=_when(window["closes"], tz)))
    lines.append(t("prop.text", text=proposal["text"]))
    if proposal["payload"]:
        lines.append(t("prop.payload", payload=json.dumps(proposal["payload"], ensure_ascii=False)))
    if proposal["questions"]:
        lines.append(t("prop.questions"))
        for q in proposal["questions"]:
            lines.append(t("prop.question", number=q["number"], who=_who(names, q["by"]), text=q["text"]))
            lines.append(t("prop.answer", text=q["answer"]) if q.get("answer") else t("prop.unanswered"))
    if proposal["objections"]:
        lines.append(t("prop.objections"))
        lines += [t("prop.objection", number=o["number"], status=_known(f"prop.objection.{o['status']}", o["status"]),
                    version=o["version"], who=_who(names, o["by"]), reason=o["reason"], aim=o["aim"])
                  for o in proposal["objections"]]
    tally = proposal["tally"]
    if tally["method"] == "ballot":
        lines.append(t("prop.ballots", voted=tally["voted"], electorate=tally["electorate"], for_=tally["for"],
                       against=tally["against"], abstain=tally["abstain"]))
        lines.append(t("prop.quorum", participation=tally["participation"]["percent"], quorum=tally["quorum_percent"],
                       reached=t("prop.yes") if tally["quorum_reached"] else t("prop.no")))
        lines.append(t("prop.share", share=tally["share"]["percent"], majority=tally["majority_percent"])
                     if tally["share"] else t("prop.no_share"))
        for c in tally["colleges"]:
            lines.append(t("prop.college", college=c["college"], weight=c["weight"]["percent"], for_=c["for"],
                           against=c["against"], abstain=c["abstain"],
                           share=f"{c['share']['percent']} %" if c["share"] else "—"))
    if proposal["status"] == "open":
        lines.append(t("prop.tally", outcome=_known(f"prop.phase.{tally['outcome']}", tally["outcome"])))
    if proposal.get("review_at"):
        lines.append(t("prop.review", review=_when(proposal["review_at"], tz)))
    if proposal.get("applied") is False:
        lines.append(t("prop.not_applied", note=proposal.get("note") or ""))
    return lines


# ---- federation commands ----------------------------------------------------------------------------


def _found(args: argparse.Namespace, client: Any) -> None:
    found = client.call("POST", "/federations", json_body=_charter(args, client))
    _emit(args, found, [t("fed.founded", name=found["name"], id=found["id"], short=found["id"][:8])])


def _list(args: argparse.Namespace, client: Any) -> None:
    listed = client.call("GET", "/federations")["federations"]
    if not listed and not args.json:
        print(t("fed.none"))
    for f in listed:
        _emit(args, f, [t("fed.row", id=f["id"][:8], name=f["name"], territory=f["territory"],
                          state=_known(f"fed.state.{f['state']}", f["state"]), members=f["members"],
                          open=f["open_proposals"], role=_known(f"fed.role.{f['our_role']}", f["our_role"]))])


def _show(args: argparse.Namespace, client: Any) -> None:
    found = client.call("GET", f"/federations/{_federation(client, args.federation)}")
    _emit(args, found, federation_lines(found, args.tz))


def _adhere(args: argparse.Namespace, client: Any) -> None:
    found = client.call("POST", f"/federations/{_federation(client, args.federation)}/adhere")
    _emit(args, found, [t("fed.adhered", name=found["name"], state=_known(f"fed.state.{found['state']}", found["state"]),
                          members=found["members"])])


def _link(args: argparse.Namespace, client: Any) -> None:
    body = {"federation": args.other, "name": args.name, "secretariat": args.secretariat, "title": args.title,
            "text": args.text, "id": args.id}
    made = client.call("POST", f"/federations/{_federation(client, args.federation)}/link",
                       json_body={k: v for k, v in body.items() if v is not None})
    _made(args, made)


# ---- proposal commands ------------------------------------------------------------------------------


def _review_ms(day: str | None, tz: str) -> int | None:
    if day is None:
        return None
    cli = _cli()
    parsed = cli._parse_day(day, "--review")
    return int(cli._wall_ms(datetime.combine(parsed, time(0)), ZoneInfo(tz), "--review"))


def _payload(args: argparse.Namespace) -> dict[str, Any] | None:
    payload: dict[str, Any] = dict(_cli()._json_argument(args.payload, "--payload")) if args.payload else {}
    if args.node:
        payload["node"] = args.node
    if getattr(args, "college", None):
        payload["college"] = args.college
    return payload or None


def _made(args: argparse.Namespace, made: Mapping[str, Any]) -> None:
    closes = made.get("window", {}).get("closes")
    _emit(args, made, [t("prop.made", id=made["id"], state=_state_text(made) if "phase" in made else made["status"],
                         closes=_when(closes, getattr(args, "tz", "Europe/Paris")))])


def _make(args: argparse.Namespace, client: Any) -> None:
    body: dict[str, Any] = {"kind": args.kind, "title": args.title, "text": args.text}
    if args.id:
        body["id"] = args.id
    payload = _payload(args)
    if payload is not None:
        body["payload"] = payload
    review = _review_ms(args.review, args.tz)
    if review is not None:
        body["review_at"] = review
    _made(args, client.call("POST", f"/federations/{_federation(client, args.federation)}/proposals", json_body=body))


def _list_proposals(args: argparse.Namespace, client: Any) -> None:
    query = {"status": args.status}
    if args.federation:
        query["federation"] = _federation(client, args.federation)
    listed = client.call("GET", "/proposals", query=query)["proposals"]
    if not listed and not args.json:
        print(t("prop.none"))
    for p in listed:
        _emit(args, p, [_proposal_row(p, not args.federation)])


def _show_proposal(args: argparse.Namespace, client: Any) -> None:
    found = client.call("GET", f"/proposals/{_federation(client, args.federation)}/{args.proposal}")
    _emit(args, found, proposal_lines(found, args.tz))


def _step(action: str, body: Callable[[argparse.Namespace], dict[str, Any]]) -> Callable[[argparse.Namespace, Any], None]:
    def run(args: argparse.Namespace, client: Any) -> None:
        path = f"/proposals/{_federation(client, args.federation)}/{args.proposal}/{action}"
        done = client.call("POST", path, json_body=body(args))
        if args.json:
            print(json.dumps(done, ensure_ascii=False))
            return
        print(t("prop.done", title=done["title"], id=done["id"], state=_state_text(done)))
        print("\n".join(proposal_lines(done, args.tz)[1:]))

    return run


def _amendment(args: argparse.Namespace) -> dict[str, Any]:
    body = {k: v for k, v in (("title", args.title), ("text", args.text)) if v}
    payload = _payload(args)
    if payload is not None:
        body["payload"] = payload
    return body


def _choice(args: argparse.Namespace) -> dict[str, Any]:
    choice = CHOICES.get(args.choice.strip().lower())
    if choice is None:
        raise _usage(f"vote : pour, contre ou abstention (reçu « {args.choice} »)")
    return {"choice": choice}


def add_commands(sub: Any) -> None:
    """`maillage federation …` and `maillage proposal …` under the CLI's sub-commands."""
    cli = _cli()

    federation = sub.add_parser("federation", help="fédérations : charte, membres, liens").add_subparsers(
        dest="action", required=True)
    p = cli._command(federation, "found", "fonder une fédération (ce nœud en est le secrétariat)", _command(_found))
    p.add_argument("--charter", metavar="JSON|@FICHIER", help="la charte entière en JSON (sinon les options ci-dessous)")
    p.add_argument("--name", help="nom de la fédération")
    p.add_argument("--territory", help="territoire")
    p.add_argument("--purpose", help="objet")
    p.add_argument("--college", action="append", default=[], metavar="ID:TITRE[:POIDS]",
                   help="un collège (répéter) ; poids en %% des voix, pour tous ou pour aucun, total 100")
    p.add_argument("--self-college", metavar="ID", help="le collège de notre association")
    p.add_argument("--member", action="append", default=[], metavar="NODE_ID=COLLÈGE",
                   help="un membre fondateur et son collège (répéter)")
    p.add_argument("--rules", metavar="JSON|@FICHIER",
                   help="règles par type de décision, remplaçant les règles par défaut (durées : 3j, 12h, 90s…)")
    p.add_argument("--scic", action="store_true", help="imposer les règles de la SCIC : 3 collèges au moins, 10 à 50 %% chacun")
    p.add_argument("--currency", help="devise du fonds territorial (ISO 4217, ex. EUR)")

    cli._command(federation, "list", "lister les fédérations dont ce nœud fait partie", _command(_list))

    def with_federation(group: Any, name: str, help_text: str, fn: Any) -> argparse.ArgumentParser:
        p = cli._command(group, name, help_text, _command(fn))
        p.add_argument("federation", metavar="FÉDÉRATION", help="id de la fédération ou préfixe unique (6 caractères au moins)")
        cli._add_tz(p)
        return p

    with_federation(federation, "show", "afficher la charte, les membres par collège et les propositions", _show)
    with_federation(federation, "adhere", "adhérer à la charte telle qu'elle est (signée par ce nœud)", _adhere)
    p = with_federation(federation, "link", "proposer de lier la fédération à une autre (une décision « link »)", _link)
    p.add_argument("--federation", dest="other", required=True, metavar="ID", help="id de l'autre fédération")
    p.add_argument("--name", required=True, help="son nom")
    p.add_argument("--secretariat", required=True, metavar="NODE_ID", help="le nœud de son secrétariat")
    p.add_argument("--title", help="titre de la proposition")
    p.add_argument("--text", help="texte de la proposition")
    p.add_argument("--id", help="identifiant court de la proposition")

    proposal = sub.add_parser("proposal", help="propositions et décisions d'une fédération").add_subparsers(
        dest="action", required=True)
    p = with_federation(proposal, "make", "faire une proposition", _make)
    p.add_argument("--kind", required=True, choices=KINDS, help="type de décision (sa règle vient de la charte)")
    p.add_argument("--title", required=True)
    p.add_argument("--text", required=True, help="le texte proposé")
    p.add_argument("--id", help="identifiant court (sinon tiré de la signature)")
    p.add_argument("--node", metavar="NODE_ID", help="admit / remove : le nœud concerné")
    p.add_argument("--college", help="admit : son collège")
    p.add_argument("--payload", metavar="JSON|@FICHIER", help="l'objet de la décision (champs de la charte modifiés…)")
    p.add_argument("--review", metavar="AAAA-MM-JJ", help="date de révision (sinon celle de la règle)")

    p = cli._command(proposal, "list", "lister les propositions", _command(_list_proposals))
    p.add_argument("federation", nargs="?", metavar="FÉDÉRATION", help="une seule fédération")
    p.add_argument("--status", choices=["open", "adopted", "rejected"])

    def on_proposal(name: str, help_text: str, fn: Any) -> argparse.ArgumentParser:
        p = with_federation(proposal, name, help_text, fn)
        p.add_argument("proposal", metavar="PROPOSITION", help="identifiant de la proposition")
        return p

    on_proposal("show", "afficher une proposition, ses questions, objections, bulletins et décompte", _show_proposal)
    p = on_proposal("ask", "poser une question de clarification", _step("ask", lambda a: {"text": a.text}))
    p.add_argument("--text", required=True)
    p = on_proposal("answer", "répondre à une question (auteur de la proposition)",
                    _step("answer", lambda a: {"question": a.question, "text": a.text}))
    p.add_argument("--question", required=True, type=int, metavar="N")
    p.add_argument("--text", required=True)
    p = on_proposal("object", "objecter, avec la raison et l'objectif de la fédération qu'elle protège",
                    _step("object", lambda a: {"reason": a.reason, "aim": a.aim}))
    p.add_argument("--reason", required=True, help="pourquoi la proposition ne peut pas passer en l'état")
    p.add_argument("--aim", required=True, help="l'objectif de la fédération qu'elle mettrait en péril")
    p = on_proposal("withdraw", "retirer notre objection", _step("withdraw-objection", lambda a: {"objection": a.objection}))
    p.add_argument("--objection", required=True, type=int, metavar="N")
    p = on_proposal("amend", "amender notre proposition (le tour recommence)", _step("amend", _amendment))
    p.add_argument("--title")
    p.add_argument("--text")
    p.add_argument("--node", metavar="NODE_ID")
    p.add_argument("--college")
    p.add_argument("--payload", metavar="JSON|@FICHIER")
    p = on_proposal("vote", "voter : pour, contre ou abstention", _step("vote", _choice))
    p.add_argument("choice", metavar="CHOIX", help="pour, contre ou abstention")
    on_proposal("close", "clore maintenant une proposition dont la fenêtre est passée (secrétariat)",
                _step("close-now", lambda a: {}))


__all__ = ["add_commands", "default_rules", "duration_ms", "federation_lines", "proposal_lines"]
