"""The `maillage` command."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from protocol import fingerprint, is_node_id

from storage.identity import KeyFileError

from . import keys
from .apiclient import ApiClient, ApiError, NotRunning
from .app import StartupError
from .config import DEFAULT_PORT, ConfigError, Seed, load
from .home import HomeError
from .i18n import number, t
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

    config = init_home(_home(args), name=args.name, port=args.port, db_url=args.db)
    from storage.identity import read_key_file

    node_id = read_key_file(config.key_path).node_id
    if args.json:
        print(json.dumps({"node_id": node_id, "fingerprint": fingerprint(node_id), "home": str(config.home)}))
        return
    print(t("init.done", name=config.name))
    print(t("init.id", node_id=node_id))
    print(t("init.fingerprint", fingerprint=fingerprint(node_id)))
    print(t("init.next", home=args.home))


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


def _cents(value: str) -> int:
    try:
        amount = Decimal(value.replace(",", ".").replace(" ", ""))
    except InvalidOperation:
        raise UsageError(f"--value: {value!r} n'est pas un montant") from None
    if amount < 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise UsageError("--value: montant positif, deux décimales au plus")
    return int(amount * 100)


def _record_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": args.kind, "title": args.title}
    for field in ("id", "description", "category", "unit", "conditions", "visibility"):
        value = getattr(args, field, None)
        if value:
            body[field] = value
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
    return body


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
        _emit(args, record, f"{record['id']}\t{record['type']}\t{body.get('title', body.get('name', ''))}")


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
    results = _client(args).call("GET", "/search", query=query)["results"]
    if not results and not args.json:
        print(t("search.none"))
    for hit in results:
        distance = t("search.distance", km=number(hit["distance_km"])) if hit["distance_km"] is not None else ""
        kind = hit["body"].get("kind")
        what = t(f"type.{hit['type']}") + (f", {t(f'kind.{kind}')}" if kind else "")
        title = hit["body"].get("title", "")
        text = t("search.hit", title=title, association=hit["association"] or hit["author"][:12], what=what, distance=distance)
        _emit(args, hit, text)


def cmd_peers(args: argparse.Namespace) -> None:
    result = _client(args).call("GET", "/peers")["peers"]
    if not result and not args.json:
        print(t("peers.none"))
    for peer in result:
        text = t("peers.row", name=peer["name"] or "?", node_id=peer["node_id"], fingerprint=peer["fingerprint"],
                 state=peer["state"],
                 address=(peer["addresses"] or [""])[0])
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
    p.add_argument("--visibility", choices=["public", "private"])
    if record_type == "resource":
        p.add_argument("--conditions")
        p.add_argument("--value", help="valeur de remplacement, ex. 1250,50")
        p.add_argument("--currency", default="EUR")
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

    _command(sub, "peers", "lister les pairs", cmd_peers)
    peer = sub.add_parser("peer", help="gérer les pairs").add_subparsers(dest="action", required=True)
    _command(peer, "add", "ajouter un pair de départ", cmd_peer_add).add_argument("seed", metavar="URL#ID")
    p = _command(peer, "deny", "refuser désormais un nœud (liste de refus signée)", cmd_deny)
    p.add_argument("node_id")
    p.add_argument("--reason", help="motif, au sujet de l'association (jamais d'une personne)")
    _command(peer, "allow", "retirer un nœud de la liste de refus", cmd_allow).add_argument("node_id")

    _command(sub, "sync", "synchroniser maintenant", cmd_sync)

    p = _command(sub, "demo", "démarrer une petite fédération de démonstration", cmd_demo, home=False, json_output=False)
    p.add_argument("--dir", default="demo-homes")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--base-port", type=int, default=8471)
    return parser


OPERATOR_ERRORS: tuple[type[Exception], ...] = (
    StartupError, HomeError, KeyFileError, RotationError, FileExistsError, FileNotFoundError
)


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
        print(t("error.refused", code=exc.code, message=exc.message), file=sys.stderr)
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
