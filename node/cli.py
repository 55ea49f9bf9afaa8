"""The `maillage` command."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import signal
import sys
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from protocol import InvalidMessage, ProtocolError, fingerprint, is_node_id

from storage.identity import KeyFileError

from . import cli_campaign, cli_federation, cli_fund, keys
from .apiclient import ApiClient, ApiError, NotRunning
from .app import StartupError
from .config import DEFAULT_PORT, ConfigError, Seed, load
from .home import HomeError
from .i18n import MESSAGES, number, t, weekday
from .keys import RotationError


class UsageError(Exception):
    pass


def _home(args: argparse.Namespace) -> Path:
    return Path(args.home).expanduser().resolve()


def _emit(args: argparse.Namespace, obj: Any, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(obj, ensure_ascii=False))
    else:
        print(text)


def _client(args: argparse.Namespace) -> ApiClient:
    config = load(_home(args))
    try:
        return ApiClient(config)
    except NotRunning:
        raise UsageError(t("error.not_running", home=args.home)) from None


# ---- commands -------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> None:
    from .home import init_home

    from storage.users import new_password

    from .home import FIRST_ADMIN

    password = new_password()  # printed once below; only its hash is stored
    config = init_home(_home(args), name=args.name, port=args.port, db_url=args.db, admin_password=password)
    from storage.identity import read_key_file

    node_id = read_key_file(config.key_path).node_id
    if args.json:
        print(json.dumps({"node_id": node_id, "fingerprint": fingerprint(node_id), "home": str(config.home),
                          "admin": {"name": FIRST_ADMIN, "password": password}}))
        return
    print(t("init.done", name=config.name))
    print(t("init.id", node_id=node_id))
    print(t("init.fingerprint", fingerprint=fingerprint(node_id)))
    print(t("init.admin", name=FIRST_ADMIN, password=password))
    print(t("init.next", home=args.home))


def set_web_password(engine: Any, name: str, role: str | None) -> tuple[str, str, bool]:
    """Give web account ``name`` a new one-time password, creating it (with ``role``, default admin) if missing.

    Returns (password, role, created). Written straight to the database, so it works whether the node
    runs or not; an existing account's sessions are closed, and its role changes only when ``role`` is given.
    """
    from storage import session, users

    from .clock import now_ms

    password = users.new_password()
    with session(engine) as s, s.begin():
        user = users.get_by_name(s, name)
        if user is None:
            role = role or "admin"
            users.create(s, name, role, users.hash_password(password), now_ms=now_ms())
            return password, role, True
        users.set_password(s, user.id, users.hash_password(password))
        if role is not None and role != user.role:
            users.set_role(s, user.id, role)
        return password, role or user.role, False


def cmd_admin_password(args: argparse.Namespace) -> None:
    from storage.users import AccountError

    config = load(_home(args))
    try:
        password, role, created = _with_engine(config, lambda engine: set_web_password(engine, args.name, args.role))
    except AccountError as exc:
        raise UsageError(str(exc)) from None
    obj = {"name": args.name.strip(), "role": role, "password": password, "created": created}
    text = t("admin.password_set", name=args.name.strip(), role=role, password=password)
    _emit(args, obj, (t("admin.created") + "\n" if created else "") + text)


def cmd_id(args: argparse.Namespace) -> None:
    config = load(_home(args))
    key = _with_engine(config, lambda engine: keys.load_signing_key(config, engine))
    obj = {"node_id": key.node_id, "fingerprint": fingerprint(key.node_id), "key": key.key_id}
    _emit(args, obj, key.node_id)


def cmd_key_rotate(args: argparse.Namespace) -> None:
    config = load(_home(args))
    rotation = _with_engine(config, lambda engine: keys.rotate_key(config, engine))
    obj = {"node_id": rotation.node_id, "key": rotation.current_key, "retired_key": rotation.retired_key,
           "since": rotation.since}
    text = t("key.rotated", node_id=rotation.node_id, new_key=rotation.current_key,
             fingerprint=fingerprint(rotation.current_key))
    _emit(args, obj, text)


def _with_engine(config: Any, fn: Any) -> Any:
    """Run ``fn(engine)`` on the node's (migrated) database while the node is stopped or running."""
    from storage import make_engine, upgrade

    engine = make_engine(config.database_url)
    try:
        upgrade(engine)
        return fn(engine)
    finally:
        engine.dispose()


def cmd_fingerprint(args: argparse.Namespace) -> None:
    if not is_node_id(args.node_id):
        raise UsageError(f"{args.node_id!r} n'est pas un identifiant de nœud (52 caractères a-z, 2-7)")
    _emit(args, {"node_id": args.node_id, "fingerprint": fingerprint(args.node_id)}, fingerprint(args.node_id))


def cmd_run(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from .app import start_node

    overrides = {
        "host": args.host,
        "port": args.port,
        "db_url": args.db,
        "public_url": args.public_url,
        "sync_interval_s": args.sync_interval,
        "mdns": args.mdns,
    }
    config = load(_home(args), overrides)
    # --seed flags add to the seeds of the config file.
    config = replace(config, seeds=tuple(dict.fromkeys(config.seeds + tuple(Seed.parse(s) for s in args.seed))))

    async def main() -> None:
        running = await start_node(config)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print(t("run.listening", name=running.config.name, url=running.url), flush=True)
        try:
            await stop.wait()
        finally:
            await running.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    print(t("run.stopped"))


def _decimal_micro(value: str, what: str) -> int:
    try:
        return int((Decimal(value.replace(",", ".")) * 1_000_000).to_integral_value())
    except InvalidOperation:
        raise UsageError(f"{what}: {value!r} n'est pas un nombre décimal") from None


def _cents(value: str, option: str = "--value") -> int:
    """A French or English amount ("20,00", "20.5", "1 250") in integer cents."""
    try:
        amount = Decimal(value.replace(",", ".").replace(" ", "").replace("\u202f", ""))
    except InvalidOperation:
        raise UsageError(f"{option}: {value!r} n'est pas un montant") from None
    if not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise UsageError(f"{option}: montant positif, deux décimales au plus")
    return int(amount * 100)


def _record_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": args.kind, "title": args.title}
    for field in ("id", "description", "category", "unit", "conditions", "visibility"):
        value = getattr(args, field, None)
        if value:
            body[field] = value
    if getattr(args, "federations", None):
        body["federations"] = args.federations
    if args.quantity is not None:
        body["quantity"] = args.quantity
    if (args.lat is None) != (args.lon is None):
        raise UsageError("--lat et --lon vont ensemble")
    if args.lat is not None:
        body["location"] = {"lat": _decimal_micro(args.lat, "--lat"), "lon": _decimal_micro(args.lon, "--lon")}
    if getattr(args, "value", None):
        body["replacement_value"] = {"amount": _cents(args.value), "currency": args.currency}
    if getattr(args, "resource", None):
        body["resource"] = args.resource
    if getattr(args, "availability", None):
        body["availability"] = _json_argument(args.availability, "--availability")
    return body


def _json_argument(value: str, option: str) -> Any:
    """A JSON object given inline or as @FILE (rules are easier to keep in a file)."""
    try:
        text = Path(value[1:]).read_text("utf-8") if value.startswith("@") else value
        parsed = json.loads(text)
    except OSError as exc:
        raise UsageError(f"{option}: fichier illisible ({exc.strerror}) : {value[1:]}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{option}: JSON invalide ({exc.msg}, colonne {exc.colno})") from None
    if not isinstance(parsed, dict):
        raise UsageError(f"{option}: un objet JSON est attendu")
    return parsed


def cmd_publish(args: argparse.Namespace) -> None:
    result = _client(args).call("POST", "/records", json_body={"type": args.record_type, "body": _record_body(args)})
    _emit(args, result, t("resource.published", type=result["type"], id=result["id"], message_id=result["message_id"][:16]))


def cmd_delete(args: argparse.Namespace) -> None:
    result = _client(args).call("DELETE", f"/records/{args.record_id}")
    _emit(args, result, t("resource.deleted", id=result["id"]))


def cmd_list(args: argparse.Namespace) -> None:
    result = _client(args).call("GET", "/records", query={"type": args.record_type})
    for record in result["records"]:
        body = record["body"]
        title = body.get("title", body.get("name", ""))
        _emit(args, record, f"{record['id']}\t{record['type']}\t{_scope_label(record)}\t{title}")


def _scope_label(record: Mapping[str, Any]) -> str:
    """Who may hold the record: public, private, or federation and the federations' ids."""
    scope = str(record.get("scope", "public"))
    federations = record.get("federations") or []
    return f"{scope}:{','.join(federations)}" if federations else scope


def cmd_import(args: argparse.Namespace) -> None:
    data = Path(args.file).read_bytes()
    result = _client(args).call("POST", "/import", data=data, content_type="text/csv")
    if args.json:
        for error in result["errors"]:
            print(json.dumps({"line": error["line"], "error": error["reason"]}, ensure_ascii=False))
        summary = {k: result[k] for k in ("published", "unchanged")}
        print(json.dumps({**summary, "errors": len(result["errors"])}))
        return
    for error in result["errors"]:
        print(t("import.row_error", line=error["line"], reason=error["reason"]))
    print(t("import.summary", published=result["published"], unchanged=result["unchanged"], errors=len(result["errors"])))


def cmd_search(args: argparse.Namespace) -> None:
    if args.km is not None and not args.near:
        raise UsageError("--km demande --near LAT,LON")
    query = {"q": " ".join(args.query), "kind": args.kind, "near": args.near, "km": args.km, "limit": args.limit}
    free = _period(args, required=False)
    if free is not None:
        query.update(free_from=free["start"], free_to=free["end"], quantity=args.quantity)
    results = _client(args).call("GET", "/search", query=query)["results"]
    if not results and not args.json:
        print(t("search.none"))
    for hit in results:
        distance = t("search.distance", km=number(hit["distance_km"])) if hit["distance_km"] is not None else ""
        kind = hit["body"].get("kind")
        what = t(f"type.{hit['type']}") + (f", {t(f'kind.{kind}')}" if kind else "")
        title = hit["body"].get("title", "")
        text = t("search.hit", title=title, association=hit["association"] or hit["author"][:12], what=what, distance=distance)
        if hit.get("available", True) is None:
            text += t("search.unknown")
        _emit(args, hit, text)


def cmd_peers(args: argparse.Namespace) -> None:
    result = _client(args).call("GET", "/peers")["peers"]
    if not result and not args.json:
        print(t("peers.none"))
    for peer in result:
        text = t("peers.row", name=peer["name"] or "?", node_id=peer["node_id"], fingerprint=peer["fingerprint"],
                 state=peer["state"],
                 address=(peer["addresses"] or [""])[0])
        if peer.get("equivocated"):
            text += "\n    " + t("peers.equivocated")
        _emit(args, peer, text)


def cmd_peer_add(args: argparse.Namespace) -> None:
    result = _client(args).call("POST", "/peers", json_body={"seed": args.seed})
    _emit(args, result, t("peer.added", seed=result["added"]))


def cmd_deny(args: argparse.Namespace) -> None:
    body = {"node_id": args.node_id, **({"reason": args.reason} if args.reason else {})}
    result = _client(args).call("POST", "/denylist", json_body=body)
    _emit(args, result, t("peer.denied", node_id=args.node_id))


def cmd_allow(args: argparse.Namespace) -> None:
    result = _client(args).call("DELETE", f"/denylist/{args.node_id}")
    _emit(args, result, t("peer.allowed", node_id=args.node_id))


def cmd_sync(args: argparse.Namespace) -> None:
    report = _client(args).call("POST", "/sync")
    _emit(args, report, t("sync.report", **{k: report[k] for k in ("contacted", "stored", "failed", "refused")}))


def cmd_demo(args: argparse.Namespace) -> None:
    from .demo import run_demo

    try:
        asyncio.run(run_demo(Path(args.dir), base_port=args.base_port, host=args.host))
    except KeyboardInterrupt:
        print(t("run.stopped"))


# ---- loans and agreements -------------------------------------------------

DEFAULT_TZ = "Europe/Paris"
MIN_PREFIX = 6  # shorter prefixes collide too soon to be worth typing


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(t("loan.bad_tz", tz=name)) from None


def _parse_day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(t("loan.bad_date", option=option, value=value)) from None


def _parse_wall(value: str, option: str) -> datetime:
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise UsageError(t("loan.bad_datetime", option=option, value=value)) from None


def _wall_ms(moment: datetime, zone: ZoneInfo, option: str) -> int:
    """A local wall-clock time as epoch ms; a time the clocks skip (spring forward) is refused."""
    aware = moment.replace(tzinfo=zone, fold=0)
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        raise UsageError(t("loan.nonexistent", option=option, value=f"{moment:%Y-%m-%d %H:%M}", tz=zone.key))
    return int(aware.timestamp() * 1000)


def _period(args: argparse.Namespace, *, required: bool) -> dict[str, int] | None:
    """--from/--to (whole local days, inclusive) or --start/--end (local times) as a period in ms."""
    from protocol.availability import day_period, local_period

    days = (args.date_from, args.date_to)
    times = (args.start, args.end)
    if any(days) and any(times):
        raise UsageError(t("loan.period_both"))
    try:
        if any(days):
            if not all(days):
                raise UsageError(t("loan.period_pair", first="--from", second="--to"))
            first, last = _parse_day(days[0], "--from"), _parse_day(days[1], "--to")
            if last < first:
                raise UsageError(t("loan.period_order"))
            return day_period(first, last, _zone(args.tz).key).to_wire()
        if any(times):
            if not all(times):
                raise UsageError(t("loan.period_pair", first="--start", second="--end"))
            zone = _zone(args.tz)
            start, end = _parse_wall(times[0], "--start"), _parse_wall(times[1], "--end")
            _wall_ms(start, zone, "--start"), _wall_ms(end, zone, "--end")
            if end <= start:
                raise UsageError(t("loan.period_order"))
            return local_period(start, end, zone.key).to_wire()
    except InvalidMessage as exc:  # bounds the engine checks (years, lengths)
        raise UsageError(f"{t('loan.bad_period')} : {exc.message}") from None
    if required:
        raise UsageError(t("loan.period_missing"))
    return None


def _money(value: str, option: str, currency: str) -> dict[str, Any]:
    return {"amount": _cents(value, option), "currency": currency.upper()}


def _terms(args: argparse.Namespace, *, period_required: bool) -> dict[str, Any]:
    """The terms the operator set on the command line (others stay as they are on the table)."""
    terms: dict[str, Any] = {}
    period = _period(args, required=period_required)
    if period is not None:
        terms["period"] = period
    if getattr(args, "quantity", None) is not None:
        if args.quantity < 1:
            raise UsageError(t("loan.bad_quantity"))
        terms["quantity"] = args.quantity
    for option, field in (("--fee", "fee"), ("--deposit", "deposit")):
        value = getattr(args, field, None)
        if value is not None:
            terms[field] = _money(value, option, args.currency)
    for field in ("purpose", "conditions"):
        if getattr(args, field, None):
            terms[field] = getattr(args, field)
    zone = _zone(args.tz)
    place, at = getattr(args, "pickup_place", None), getattr(args, "pickup_at", None)
    if place or at:
        if not (place and at):
            raise UsageError(t("loan.period_pair", first="--pickup-place", second="--pickup-at"))
        terms["pickup"] = {"place": place, "at": _wall_ms(_parse_wall(at, "--pickup-at"), zone, "--pickup-at")}
    free_until, cancel_fee = getattr(args, "free_until", None), getattr(args, "cancel_fee", None)
    if free_until or cancel_fee:
        if not (free_until and cancel_fee):
            raise UsageError(t("loan.period_pair", first="--free-until", second="--cancel-fee"))
        terms["cancellation"] = {
            "free_until": _wall_ms(_parse_wall(free_until, "--free-until"), zone, "--free-until"),
            "fee": _money(cancel_fee, "--cancel-fee", args.currency),
        }
    return terms


def _resolve(client: ApiClient, text: str) -> str:
    """An agreement id from its 32 hex characters or a unique prefix of at least six."""
    wanted = text.strip().lower()
    if len(wanted) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in wanted) or len(wanted) > 32:
        raise UsageError(t("loan.bad_id", id=text, min=MIN_PREFIX))
    if len(wanted) == 32:
        return wanted
    matches = [a["id"] for a in client.call("GET", "/agreements")["agreements"] if a["id"].startswith(wanted)]
    if not matches:
        raise UsageError(t("loan.unknown_id", id=text))
    if len(matches) > 1:
        raise UsageError(t("loan.ambiguous_id", id=text, count=len(matches), ids=", ".join(m[:12] + "…" for m in matches[:5])))
    return matches[0]


# -- what the operator reads --


def _local(ms: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ms / 1000, zone)


def _day_text(day: date) -> str:
    return f"{weekday(day.isoweekday())} {day.isoformat()}"


def _period_text(period: Mapping[str, int], zone: ZoneInfo) -> str:
    """A period in local time: whole days as days (last one inclusive), otherwise times."""
    start, end = _local(period["start"], zone), _local(period["end"], zone)
    if start.time() == end.time() == time(0):
        last = end.date() - timedelta(days=1)
        if last == start.date():
            return _day_text(last)
        return t("period.days", first=_day_text(start.date()), last=_day_text(last))
    if start.date() == end.date():
        return f"{_day_text(start.date())} {start:%H:%M}–{end:%H:%M}"
    return f"{_day_text(start.date())} {start:%H:%M} → {_day_text(end.date())} {end:%H:%M}"


def _money_text(money: Mapping[str, Any]) -> str:
    return f"{number(money['amount'] / 100)} {money['currency']}"


def _state_text(state: str) -> str:
    return _known("state", state)


def _refusal_text(refusal: Mapping[str, Any], zone: ZoneInfo) -> str:
    """A refusal on one line: what it means, why (availability reasons or the state) and the free slots."""
    code = str(refusal.get("code", "invalid"))
    details = refusal.get("details") or {}
    text = _known("code", code)
    reasons = [_known("reason", str(r)) for r in details.get("reasons") or ()]
    if reasons:
        text += f" ({', '.join(reasons)})"
    elif isinstance(details.get("state"), str):  # a step that does not fit the agreement's state
        text += " " + t("refusal.state", state=_state_text(details["state"]))
        allowed = [_known("action", str(a)) for a in details.get("allowed") or ()]
        if allowed:
            text += " ; " + t("refusal.allowed", actions=", ".join(allowed))
    elif refusal.get("message"):  # the node's own words (English): better than nothing
        text += f" — {refusal['message']}"
    if code == "conflict" and "free" in details:
        free = details["free"]
        slots = ", ".join(_period_text(slot, zone) for slot in free)
        text += " — " + (t("refusal.free", slots=slots) if free else t("refusal.no_free"))
    return text


def _known(prefix: str, code: str) -> str:
    """A code's French (or English) words when we have them, else the code itself."""
    key = f"{prefix}.{code}"
    return t(key) if key in MESSAGES else code


def _step_report(args: argparse.Namespace, result: Mapping[str, Any], action: str = "") -> None:
    """The agreement's new state after one of our steps (or the API's JSON with --json)."""
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    zone = _zone(getattr(args, "tz", DEFAULT_TZ))
    refusal = result.get("refusal")
    if refusal:
        print(t("loan.refused", state=_state_text(result["state"]), refusal=_refusal_text(refusal, zone)))
    elif action == "incident":  # the state does not move: say what was recorded
        print(t("done.incident", state=_state_text(result["state"])))
    else:
        print(_known("done", result["state"]))
    print(t("loan.id", id=result["id"]))
    if result.get("pending_deliveries"):
        print(t("loan.queued"))


def _names(client: ApiClient) -> dict[str, str]:
    """Association names of the peers we know, by node id."""
    return {p["node_id"]: p["name"] for p in client.call("GET", "/peers")["peers"] if p.get("name")}


def cmd_loan_request(args: argparse.Namespace) -> None:
    if not is_node_id(args.owner):
        raise UsageError(t("loan.bad_owner", owner=args.owner))
    terms = _terms(args, period_required=True)
    client = _client(args)
    body = {"owner": args.owner, "resource": args.resource, **terms}
    if args.weekly_until is None:
        _step_report(args, client.call("POST", "/loans", json_body=body))
        return
    _request_series(args, client, body)


def _request_series(args: argparse.Namespace, client: ApiClient, body: dict[str, Any]) -> None:
    """A weekly series (same local times each week): the node asks once per occurrence and lists
    the ones the owner refused, with its free slots."""
    zone = _zone(args.tz)
    last = _parse_day(args.weekly_until, "--weekly-until")
    until = _wall_ms(datetime.combine(last + timedelta(days=1), time(0)), zone, "--weekly-until")
    result = client.call("POST", "/loans", json_body={**body, "weekly_until": until})
    series = result["series"]
    for each in series:
        if args.json:
            print(json.dumps(each, ensure_ascii=False))
            continue
        state = each.get("refusal") and t("loan.refused", state=_state_text(each["state"]),
                                          refusal=_refusal_text(each["refusal"], zone))
        print(t("series.row", period=_period_text(each["terms"]["period"], zone), id=each["id"][:8],
                state=state or _state_text(each["state"])))
    if not args.json:
        print(t("series.summary", count=len(series), refused=len(result["conflicts"])))


def _step(action: str, data: Any) -> Any:
    """A command that takes ``action`` on an agreement with the data ``data(args)`` builds."""

    def command(args: argparse.Namespace) -> None:
        body = data(args)
        client = _client(args)
        agreement = _resolve(client, args.agreement)
        _step_report(args, client.call("POST", f"/agreements/{agreement}/{action}", json_body=body), action)

    return command


def _photo_hashes(paths: list[str]) -> list[str]:
    """Photos stay on our disk; the chain commits to each one by its SHA-256."""
    hashes = []
    for path in paths:
        try:
            hashes.append(hashlib.sha256(Path(path).read_bytes()).hexdigest())
        except OSError as exc:
            raise UsageError(t("loan.bad_photo", path=path, reason=exc.strerror)) from None
    return hashes


def _custody(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {"condition": args.condition}
    if args.photo:
        report["photos"] = _photo_hashes(args.photo)
    return report


def _incident(args: argparse.Namespace) -> dict[str, Any]:
    return {"kind": args.kind, "description": args.description, "reason": args.reason,
            "deposit_kept": _money(args.keep, "--keep", args.currency)}


def _closing(args: argparse.Namespace) -> dict[str, Any]:
    if not 1 <= args.rating <= 5:
        raise UsageError(t("loan.bad_rating"))
    return {"rating": args.rating, **({"comment": args.comment} if args.comment else {})}


def _reason(args: argparse.Namespace) -> dict[str, Any]:
    return {"reason": args.reason} if args.reason else {}


def _proposal(args: argparse.Namespace) -> dict[str, Any]:
    return {"terms": _terms(args, period_required=False)}


def cmd_agreements(args: argparse.Namespace) -> None:
    client = _client(args)
    listed = client.call("GET", "/agreements")["agreements"]
    names = _names(client) if listed else {}
    if not listed and not args.json:
        print(t("agreements.none"))
    zone = _zone(args.tz)
    for agreement in listed:
        name = names.get(agreement["counterpart"])
        if args.json:
            print(json.dumps({**agreement, "association": name}, ensure_ascii=False))
            continue
        print(_agreement_row(agreement, name, zone))


def _agreement_row(agreement: Mapping[str, Any], name: str | None, zone: ZoneInfo) -> str:
    terms = agreement.get("terms") or {}
    who = name or agreement["counterpart"][:12] + "…"
    direction = t(f"role.{agreement['role']}", who=who) if agreement["role"] in ("owner", "borrower") else who
    if agreement["kind"] != "loan":  # a campaign, a federation: its name says what it is
        row = t("agreements.row_convened", id=agreement["id"][:8], state=_state_text(agreement["state"]),
                kind=t(f"kind.{agreement['kind']}"), title=agreement.get("title") or "")
        return row
    period = _period_text(terms["period"], zone) if "period" in terms else ""
    row = t("agreements.row", id=agreement["id"][:8], state=_state_text(agreement["state"]), direction=direction,
            title=agreement.get("title") or agreement.get("resource") or "", period=period,
            quantity=terms.get("quantity", 1))
    if agreement.get("refusal"):
        row += "\n    " + t("agreements.refusal", refusal=_refusal_text(agreement["refusal"], zone))
    return row


def cmd_loan_show(args: argparse.Namespace) -> None:
    """One agreement in full, with its sealed document checked here, offline, from the signatures alone."""
    client = _client(args)
    found = client.call("GET", f"/agreements/{_resolve(client, args.agreement)}")
    verdict = _verify_sealed(found.get("sealed"))
    if args.json:
        print(json.dumps({**found, "seal_verified": verdict is None and "sealed" in found}, ensure_ascii=False))
        return
    zone = _zone(args.tz)
    names = _names(client)
    names[found["parties"][found["role"]]] = t("party.us")
    print(_agreement_row(found, names.get(found["counterpart"]), zone))
    for line in _terms_lines(found.get("terms") or {}, found.get("facts") or {}, zone):
        print("  " + line)
    for role, node_id in sorted(found["parties"].items()):
        print("  " + _label(f"party.{role}", f"{names.get(node_id, '?')} ({node_id})"))
    for event in found.get("events", []):
        issuer = names.get(event["issuer"], event["issuer"][:12] + "…")
        print(f"  #{event['seq']} {_local(event['issued_at'], zone):%Y-%m-%d %H:%M} "
              f"{_known('action', event['action'])} — {issuer}  ({event['message_id'][:16]}…)")
    if "sealed" not in found:
        print(t("seal.none"))
    elif verdict is None:
        print(t("seal.ok", count=len(found["sealed"]["sigs"])))
    else:
        print(t("seal.bad", reason=verdict))


def _terms_lines(terms: Mapping[str, Any], facts: Mapping[str, Any], zone: ZoneInfo) -> list[str]:
    """The money, conditions and what happened, one line each."""
    lines = [_label(f"terms.{field}", _money_text(terms[field])) for field in ("fee", "deposit") if field in terms]
    if "conditions" in terms:
        lines.append(_label("terms.conditions", terms["conditions"]))
    if "pickup" in terms:
        at = _local(terms["pickup"]["at"], zone)
        lines.append(_label("terms.pickup", f"{terms['pickup']['place']}, {_day_text(at.date())} {at:%H:%M}"))
    if "cancellation" in terms:
        until = _local(terms["cancellation"]["free_until"], zone)
        lines.append(t("terms.cancellation", until=f"{_day_text(until.date())} {until:%H:%M}",
                       fee=_money_text(terms["cancellation"]["fee"])))
    if "deposit_kept" in facts:
        lines.append(_label("facts.deposit_kept", _money_text(facts["deposit_kept"])))
    return lines


def _label(key: str, value: str) -> str:
    return t("label", name=t(key), value=value)


def _verify_sealed(sealed: Mapping[str, Any] | None) -> str | None:
    """None when the sealed document's signatures verify (or there is none); otherwise why not."""
    from protocol.agreements import SealedAgreement

    if sealed is None:
        return None
    try:
        wire = {"doc": bytes.fromhex(sealed["doc"]), "sigs": {k: bytes.fromhex(v) for k, v in sealed["sigs"].items()}}
        if sealed.get("keys"):
            wire["keys"] = dict(sealed["keys"])
        SealedAgreement.from_wire(wire).verify()
    except (ProtocolError, ValueError, KeyError, TypeError) as exc:
        return getattr(exc, "message", None) or str(exc)
    return None


def _api_error_text(exc: ApiError, args: argparse.Namespace) -> str:
    """The local API's typed refusal on one French line (free slots included on a conflict)."""
    zone = ZoneInfo(DEFAULT_TZ)
    try:
        zone = _zone(getattr(args, "tz", DEFAULT_TZ))
    except UsageError:
        pass
    refusal = {"code": exc.code, "message": exc.message, "details": exc.details}
    return t("error.refused", code=exc.code, message=_refusal_text(refusal, zone))


# ---- audit ----------------------------------------------------------------


class AuditFailed(Exception):
    """Something in the audited agreement or log does not hold: exit status 1."""


def _party_text(node_id: str | None, parties: Mapping[str, str]) -> str:
    if node_id is None:
        return "?"
    role = next((r for r, n in parties.items() if n == node_id), None)
    short = node_id[:12] + "…"
    return f"{t(f'party.{role}')} ({short})" if f"party.{role}" in MESSAGES else short


def _finding_text(finding: Any, parties: Mapping[str, str]) -> str:
    """One finding on one line: where, what is wrong (French or English), and the check's own words."""
    where = []
    if finding.seq is not None:
        key = {"leaves": "audit.where.entry", "checkpoints": "audit.where.size", "roots": "audit.where.size"}
        where.append(t(key.get(finding.check, "audit.where.seq") if not parties else "audit.where.seq", seq=finding.seq))
    if finding.party is not None:
        where.append(t("audit.where.party", party=_party_text(finding.party, parties)))
    if finding.witness is not None:
        where.append(t("audit.where.witness", witness=_party_text(finding.witness, parties)))
    text = _known("audit.problem", finding.problem)
    if finding.detail:
        text += f" — {finding.detail}"
    return "    ✗ " + (t("label", name=", ".join(where), value=text) if where else text)


def _print_groups(groups: Any, checked: Mapping[str, int], findings: Any, notes: Any,
                  parties: Mapping[str, str]) -> None:
    for group in groups:
        bad = [f for f in findings if f.check == group]
        label = t(f"audit.check.{group}")
        if bad:
            print(t("audit.group_bad", label=label, count=len(bad)))
            for finding in bad:
                print(_finding_text(finding, parties))
        elif checked.get(group):
            print(t("audit.group_ok", label=label, count=checked[group]))
        elif group == "equivocation":
            print(t("audit.no_equivocation"))
        for note in (n for n in notes if n.check == group):
            extra = f" ({_party_text(note.party, parties)})" if note.party else ""
            print(t("audit.note", text=_known("audit.note", note.problem) + extra))


def _report_bundle(args: argparse.Namespace, bundle: Any) -> None:
    from protocol.audit import CHECKS, verify_bundle

    report = verify_bundle(bundle)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        agreement = report.agreement.hex() if report.agreement else "?"
        print(t("audit.header", id=agreement, state=_state_text(report.state) if report.state else "?"))
        for role, node_id in sorted(report.parties.items()):
            print("  " + _label(f"party.{role}", node_id))
        _print_groups(CHECKS, report.checked, report.findings, report.notes, report.parties)
        print(t("audit.all_ok") if report.ok else t("audit.some_bad", count=len(report.findings)))
    if not report.ok:
        raise AuditFailed(t("audit.failed", count=len(report.findings)))


def _read_bundle(path: str) -> Any:
    from protocol.audit import load_bundle

    try:
        return load_bundle(Path(path).read_bytes())
    except OSError as exc:
        raise UsageError(t("audit.bad_file", path=path, reason=exc.strerror)) from None
    except ProtocolError as exc:
        raise UsageError(t("audit.bad_file", path=path, reason=exc.message)) from None


def _fetch_bundle(args: argparse.Namespace) -> Any:
    client = _client(args)
    return client.call("GET", f"/agreements/{_resolve(client, args.agreement)}/audit")


def cmd_audit_verify(args: argparse.Namespace) -> None:
    """Check an agreement offline: from a bundle file, or from one the running node builds now."""
    from protocol.audit import from_json

    if args.bundle:
        if args.agreement or args.home:
            raise UsageError(t("audit.usage"))
        _report_bundle(args, _read_bundle(args.bundle))
        return
    if not (args.agreement and args.home):
        raise UsageError(t("audit.usage"))
    _report_bundle(args, from_json(_fetch_bundle(args)))


def cmd_audit_export(args: argparse.Namespace) -> None:
    from protocol.audit import dumps, from_json

    bundle = from_json(_fetch_bundle(args))
    Path(args.output).write_text(dumps(bundle), encoding="utf-8")
    unreachable = [entry["node"] for entry in bundle["logs"] if "unreachable" in entry]
    obj = {"file": args.output, "events": len(bundle["events"]), "logs": len(bundle["logs"]), "unreachable": unreachable}
    _emit(args, obj, t("audit.exported", path=args.output, events=len(bundle["events"]), logs=len(bundle["logs"])))
    if unreachable and not args.json:
        for node_id in unreachable:
            print(t("audit.export_unreachable", node=node_id))


def cmd_audit_log(args: argparse.Namespace) -> None:
    """Check the node's whole log from its database, read-only, node running or not."""
    from .audit_api import LOG_CHUNK, audit_log, read_only_engine

    config = load(_home(args))

    def progress(done: int, total: int) -> None:
        if total > LOG_CHUNK:
            print(t("audit.progress", done=f"{done:,}".replace(",", "\u202f"), total=f"{total:,}".replace(",", "\u202f")),
                  file=sys.stderr, flush=True)

    engine = read_only_engine(config.database_url)
    try:
        try:
            origin, checked, findings = audit_log(engine, progress)
        except LookupError:
            raise UsageError(t("audit.no_identity", home=args.home)) from None
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps({"ok": not findings, "node_id": origin, "checked": checked,
                          "findings": [f.to_json() for f in findings]}, ensure_ascii=False))
    else:
        print(t("audit.log_header", node_id=origin, entries=checked["entries"]))
        _print_groups(("leaves", "checkpoints", "roots"), checked, findings, (), {})
        print(t("audit.all_ok") if not findings else t("audit.some_bad", count=len(findings)))
    if findings:
        raise AuditFailed(t("audit.failed", count=len(findings)))


def _add_audit_commands(sub: Any) -> None:
    audit = sub.add_parser("audit", help="vérifier un accord ou le journal du nœud, hors ligne").add_subparsers(
        dest="action", required=True)
    p = _command(audit, "verify", "vérifier un accord : signatures, chaîne, journaux des parties", cmd_audit_verify,
                 home=False)
    p.add_argument("--home", help="dossier du nœud (qui fabrique le paquet maintenant)")
    p.add_argument("--bundle", metavar="FICHIER", help="vérifier un paquet exporté, sans nœud ni réseau")
    p.add_argument("agreement", nargs="?", metavar="ACCORD", help="id de l'accord ou préfixe unique (6 caractères au moins)")
    p = _command(audit, "export", "écrire le paquet d'audit d'un accord dans un fichier", cmd_audit_export)
    _add_agreement(p, tz=False)
    p.add_argument("-o", "--output", required=True, metavar="FICHIER", help="fichier à écrire (JSON)")
    _command(audit, "log", "vérifier tout le journal du nœud depuis sa base (lecture seule)", cmd_audit_log)


# ---- parser ---------------------------------------------------------------


def _add_home(p: argparse.ArgumentParser) -> None:
    p.add_argument("--home", required=True, help="dossier du nœud / node home folder")


def _add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="un objet JSON par ligne / one JSON object per line")


def _add_record_options(p: argparse.ArgumentParser, record_type: str) -> None:
    _add_home(p)
    _add_json(p)
    p.add_argument("--title", required=True)
    p.add_argument("--kind", default="equipment", choices=["equipment", "vehicle", "space", "skill", "other"])
    p.add_argument("--id")
    p.add_argument("--description")
    p.add_argument("--category")
    p.add_argument("--quantity", type=int)
    p.add_argument("--unit")
    p.add_argument("--lat", help="latitude en degrés décimaux")
    p.add_argument("--lon", help="longitude en degrés décimaux")
    p.add_argument("--visibility", choices=["public", "federation", "private"])
    p.add_argument("--federation", dest="federations", action="append", metavar="ID",
                   help="avec --visibility federation : une fédération dont le nœud est membre (répétable)"
                        " / with --visibility federation: a federation this node is a member of (repeatable)")
    if record_type == "resource":
        p.add_argument("--conditions")
        p.add_argument("--value", help="valeur de remplacement, ex. 1250,50")
        p.add_argument("--currency", default="EUR")
        p.add_argument("--availability", metavar="JSON|@FICHIER",
                       help="règles de prêt : unit day|hour, stock, opening, blocked, buffer_minutes… (docs/lending.md)")
    else:
        p.add_argument("--resource", help="id de la ressource concernée")
    p.set_defaults(func=cmd_publish, record_type=record_type)


def _command(
    parent: Any, name: str, help_text: str, func: Any, *, home: bool = True, json_output: bool = True, **defaults: Any
) -> argparse.ArgumentParser:
    """A sub-command with the usual --home and --json options."""
    p = parent.add_parser(name, help=help_text)
    if home:
        _add_home(p)
    if json_output:
        _add_json(p)
    p.set_defaults(func=func, **defaults)
    return p


def _add_agreement(p: argparse.ArgumentParser, *, tz: bool = True) -> None:
    p.add_argument("agreement", metavar="ACCORD", help="id de l'accord ou préfixe unique (6 caractères au moins)")
    if tz:  # the terms options bring their own --tz
        _add_tz(p)


def _add_tz(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tz", default=DEFAULT_TZ, help="fuseau des dates et heures (défaut : Europe/Paris)")


def _add_terms_options(p: argparse.ArgumentParser) -> None:
    """Options for loan terms; on an offer or counter-offer, what is not given stays as proposed."""
    p.add_argument("--from", dest="date_from", metavar="AAAA-MM-JJ", help="premier jour (journées entières)")
    p.add_argument("--to", dest="date_to", metavar="AAAA-MM-JJ", help="dernier jour, inclus")
    p.add_argument("--start", metavar="'AAAA-MM-JJ HH:MM'", help="début, heure locale")
    p.add_argument("--end", metavar="'AAAA-MM-JJ HH:MM'", help="fin, heure locale")
    p.add_argument("--quantity", type=int, help="nombre d'unités (défaut : 1)")
    p.add_argument("--purpose", help="pour quoi faire (au sujet de l'association, jamais d'une personne)")
    p.add_argument("--fee", help="participation aux frais, ex. 20,00")
    p.add_argument("--deposit", help="caution, ex. 300")
    p.add_argument("--currency", default="EUR", help="code ISO 4217 (défaut : EUR)")
    p.add_argument("--conditions", help="conditions du prêt")
    p.add_argument("--pickup-place", help="lieu de remise")
    p.add_argument("--pickup-at", metavar="'AAAA-MM-JJ HH:MM'", help="heure de remise")
    p.add_argument("--free-until", metavar="'AAAA-MM-JJ HH:MM'", help="annulation gratuite jusqu'à")
    p.add_argument("--cancel-fee", help="frais d'annulation ensuite, ex. 10,00")
    _add_tz(p)


def _add_loan_commands(sub: Any) -> None:
    loan = sub.add_parser("loan", help="emprunter et prêter entre associations").add_subparsers(dest="action", required=True)
    p = _command(loan, "request", "demander une ressource à une autre association", cmd_loan_request)
    p.add_argument("--owner", required=True, metavar="NODE_ID", help="identifiant du nœud de l'association prêteuse")
    p.add_argument("--resource", required=True, metavar="ID", help="id de la ressource chez elle")
    _add_terms_options(p)
    p.add_argument("--weekly-until", metavar="AAAA-MM-JJ",
                   help="répéter chaque semaine aux mêmes heures jusqu'à ce jour inclus (une demande par occurrence)")

    p = _command(loan, "offer", "proposer des conditions (association prêteuse)", _step("offer", _proposal))
    _add_agreement(p, tz=False)
    _add_terms_options(p)
    p = _command(loan, "counter", "contre-proposer (association emprunteuse)", _step("counter", _proposal))
    _add_agreement(p, tz=False)
    _add_terms_options(p)
    _add_agreement(_command(loan, "accept", "accepter les conditions proposées : l'accord est scellé", _step("accept", lambda a: {})))
    p = _command(loan, "decline", "décliner la demande ou la proposition", _step("decline", _reason))
    _add_agreement(p)
    p.add_argument("--reason", required=True, help="motif")
    p = _command(loan, "withdraw", "retirer notre demande (association emprunteuse)", _step("withdraw", _reason))
    _add_agreement(p)
    p.add_argument("--reason", help="motif")
    p = _command(loan, "cancel", "annuler un accord scellé", _step("cancel", _reason))
    _add_agreement(p)
    p.add_argument("--reason", required=True, help="motif")
    for action, help_text in (("handover", "enregistrer la remise (association prêteuse)"),
                              ("return", "enregistrer le retour (association prêteuse)")):
        p = _command(loan, action, help_text, _step(action, _custody))
        _add_agreement(p)
        p.add_argument("--condition", required=True, help="état constaté")
        p.add_argument("--photo", action="append", default=[], metavar="FICHIER",
                       help="photo (seule son empreinte SHA-256 est signée ; la photo reste chez vous)")
    p = _command(loan, "incident", "déclarer un dommage ou une perte (association prêteuse)", _step("incident", _incident))
    _add_agreement(p)
    p.add_argument("--kind", required=True, choices=["damage", "loss"], help="damage (dommage) ou loss (perte)")
    p.add_argument("--description", required=True)
    p.add_argument("--keep", required=True, help="montant retenu sur la caution, ex. 80,00")
    p.add_argument("--reason", required=True, help="motif de la retenue")
    p.add_argument("--currency", default="EUR")
    p = _command(loan, "close", "clore le prêt en notant l'autre association", _step("close", _closing))
    _add_agreement(p)
    p.add_argument("--rating", required=True, type=int, metavar="1..5", help="note de 1 à 5")
    p.add_argument("--comment", help="commentaire, au sujet de l'association")
    p = _command(loan, "show", "afficher un accord et vérifier ses signatures", cmd_loan_show)
    _add_agreement(p)

    _add_tz(_command(sub, "agreements", "lister nos accords (demandés, reçus, en cours)", cmd_agreements))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maillage", description="Maillage : mutualiser entre associations, sans plateforme centrale.")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = _command(sub, "init", "créer un nœud", cmd_init)
    p.add_argument("--name", required=True, help="nom de l'association")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--db", help="URL de base de données (défaut : SQLite dans le dossier)")

    p = _command(sub, "run", "démarrer le nœud", cmd_run, json_output=False)
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--seed", action="append", default=[], metavar="URL#ID", help="pair de départ, identifiant épinglé")
    p.add_argument("--db")
    p.add_argument("--public-url")
    p.add_argument("--sync-interval", type=float)
    p.add_argument("--mdns", metavar="off|default|all|ADRESSES",
                   help="découverte mDNS : off, default, all ou adresses IP séparées par des virgules")

    admin = sub.add_parser("admin", help="administrer les comptes des pages web").add_subparsers(
        dest="action", required=True)
    p = _command(admin, "password", "donner un mot de passe à usage unique à un compte web (le crée s'il manque)",
                 cmd_admin_password)
    p.add_argument("--name", default="admin", help="nom du compte (défaut : admin)")
    p.add_argument("--role", choices=["admin", "member", "reader"],
                   help="rôle (à la création, défaut admin ; pour un compte existant, le change)")

    _command(sub, "id", "afficher l'identifiant du nœud", cmd_id)
    key = sub.add_parser("key", help="gérer la clé de signature").add_subparsers(dest="action", required=True)
    _command(key, "rotate", "remplacer la clé de signature (nœud arrêté ; l'identifiant ne change pas)", cmd_key_rotate)
    p = _command(sub, "fingerprint", "empreinte d'un identifiant reçu, à comparer de vive voix", cmd_fingerprint, home=False)
    p.add_argument("node_id")

    for record_type, noun in (("resource", "ressource"), ("offer", "offre"), ("need", "besoin")):
        group = sub.add_parser(record_type, help=f"gérer les {noun}s").add_subparsers(dest="action", required=True)
        _add_record_options(group.add_parser("add", help=f"publier un(e) {noun}"), record_type)
        _command(group, "delete", f"supprimer un(e) {noun}", cmd_delete).add_argument("record_id")
        _command(group, "list", "lister nos enregistrements", cmd_list, record_type=record_type)

    _command(sub, "import", "importer un inventaire CSV", cmd_import).add_argument("file")

    p = _command(sub, "search", "chercher dans la fédération", cmd_search)
    p.add_argument("query", nargs="*")
    p.add_argument("--kind", choices=["equipment", "vehicle", "space", "skill", "other"])
    p.add_argument("--near", metavar="LAT,LON")
    p.add_argument("--km", type=float)
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--free-from", dest="date_from", metavar="AAAA-MM-JJ",
                   help="seulement ce qui est libre de ce jour… (les propriétaires sont interrogés)")
    p.add_argument("--free-to", dest="date_to", metavar="AAAA-MM-JJ", help="… à ce jour inclus")
    p.add_argument("--free-start", dest="start", metavar="'AAAA-MM-JJ HH:MM'", help="ou libre de cette heure…")
    p.add_argument("--free-end", dest="end", metavar="'AAAA-MM-JJ HH:MM'", help="… à cette heure")
    p.add_argument("--quantity", type=int, default=1, help="unités nécessaires en même temps")
    p.add_argument("--tz", default="Europe/Paris", help="fuseau des dates (défaut Europe/Paris)")

    _command(sub, "peers", "lister les pairs", cmd_peers)
    peer = sub.add_parser("peer", help="gérer les pairs").add_subparsers(dest="action", required=True)
    _command(peer, "add", "ajouter un pair de départ", cmd_peer_add).add_argument("seed", metavar="URL#ID")
    p = _command(peer, "deny", "refuser désormais un nœud (liste de refus signée)", cmd_deny)
    p.add_argument("node_id")
    p.add_argument("--reason", help="motif, au sujet de l'association (jamais d'une personne)")
    _command(peer, "allow", "retirer un nœud de la liste de refus", cmd_allow).add_argument("node_id")

    _command(sub, "sync", "synchroniser maintenant", cmd_sync)
    _add_loan_commands(sub)
    cli_campaign.add_commands(sub)
    cli_fund.add_commands(sub)
    cli_federation.add_commands(sub)
    _add_audit_commands(sub)

    p = _command(sub, "demo", "démarrer une petite fédération de démonstration", cmd_demo, home=False, json_output=False)
    p.add_argument("--dir", default="demo-homes")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--base-port", type=int, default=8471)
    return parser


OPERATOR_ERRORS: tuple[type[Exception], ...] = (
    StartupError, HomeError, KeyFileError, RotationError, FileExistsError, FileNotFoundError
)
OPERATOR_ERRORS += (AuditFailed,)  # audit commands: the report is printed, the exit status says it failed


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO if args.command == "run" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        args.func(args)
    except (UsageError, ConfigError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except ApiError as exc:
        print(_api_error_text(exc, args), file=sys.stderr)
        return 1
    except NotRunning as exc:
        # run.json names a node that does not answer: it crashed or was killed.
        print(t("error.unreachable", detail=str(exc)), file=sys.stderr)
        print(t("error.not_running", home=args.home), file=sys.stderr)
        return 1
    except OPERATOR_ERRORS as exc:
        # A readable last word instead of a traceback: these say what to fix.
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
