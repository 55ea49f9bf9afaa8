"""The `maillage` command as an operator uses it: the real console script, in subprocesses,
against real nodes running in their own processes.

Two nodes are started for the whole module (starting a node costs about a second); every
test that uses them publishes words of its own, so tests do not depend on each other's order.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from protocol import SigningKey, fingerprint

from .harness import REPO, NodeProcess, make_home

# Variables that choose the CLI's language or override the configuration: the tests set them
# explicitly so that the machine running them (LANG=en_US…, MAILLAGE_DB=…) changes nothing.
_ENV_SCRUB = ("LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE")

FINGERPRINT = re.compile(r"\b[A-Z2-7]{4}(?:-[A-Z2-7]{4}){3}\b")


def _start(args: tuple[str, ...], lang: str | None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in _ENV_SCRUB and not k.startswith("MAILLAGE_")}
    env.update(PYTHONUTF8="1", PYTHONIOENCODING="utf-8")
    if lang is not None:
        env["MAILLAGE_LANG"] = lang
    return subprocess.Popen([sys.executable, "-m", "node.cli", *args], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8")


def maillage_all(*commands: tuple[str, ...], lang: str | None = None, timeout: float = 60) -> list[subprocess.CompletedProcess[str]]:
    """Run independent `maillage` commands at the same time (each one is a separate process)."""
    processes = [_start(args, lang) for args in commands]
    results = []
    try:
        for args, process in zip(commands, processes):
            stdout, stderr = process.communicate(timeout=timeout)
            results.append(subprocess.CompletedProcess(list(args), process.returncode, stdout, stderr))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return results


def maillage(*args: str, lang: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `maillage ARGS` as a separate process, French by default as for a French user."""
    return maillage_all(args, lang=lang, timeout=timeout)[0]


def _succeeded(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"maillage {' '.join(result.args)} → {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def ok(*args: str, lang: str | None = None) -> str:
    """stdout of a command that must succeed (its stderr is shown when it does not)."""
    return _succeeded(maillage(*args, lang=lang))


def ok_all(*commands: tuple[str, ...], lang: str | None = None) -> list[str]:
    """stdout of independent commands run at the same time, each of which must succeed."""
    return [_succeeded(r) for r in maillage_all(*commands, lang=lang)]


def json_lines(stdout: str) -> list[dict[str, Any]]:
    """--json output: every line is exactly one JSON object (no blank lines, no text around)."""
    objects = []
    for line in stdout.splitlines():
        obj = json.loads(line)
        assert isinstance(obj, dict), line
        objects.append(obj)
    return objects


@dataclass
class Federation:
    alpha: NodeProcess  # where catalogue tests publish and search
    beta: NodeProcess  # used to follow alpha as a peer

    @property
    def a(self) -> str:
        return str(self.alpha.config.home)

    @property
    def b(self) -> str:
        return str(self.beta.config.home)


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    base = tmp_path_factory.mktemp("cli")
    started: list[NodeProcess] = []
    try:
        # Background sync is slow here: the tests drive rounds with `maillage sync`.
        started.append(NodeProcess(make_home(base, "Banque alimentaire du Rhône"), sync_interval_s=60))
        started.append(NodeProcess(make_home(base, "Club sportif de Vénissieux"), sync_interval_s=60))
        yield Federation(*started)
    finally:
        for process in started:
            process.stop()


# ---- init and id -----------------------------------------------------------


def test_init_prints_id_and_fingerprint_and_keeps_secrets_private(tmp_path: Path) -> None:
    home = tmp_path / "asso"
    out = ok("init", "--home", str(home), "--name", "Maison des jeunes")
    key_before = (home / "node.key").read_bytes()
    plain, as_json, again = maillage_all(("id", "--home", str(home)), ("id", "--home", str(home), "--json"),
                                         ("init", "--home", str(home), "--name", "Autre association"))
    node_id = _succeeded(plain).strip()
    assert len(node_id) == 52 and f"Identifiant du nœud : {node_id}" in out
    (shown,) = FINGERPRINT.findall(out)
    assert shown == fingerprint(node_id)
    assert json_lines(_succeeded(as_json)) == [{"node_id": node_id, "fingerprint": shown, "key": node_id}]

    for secret in ("node.key", "api-token"):
        assert stat.S_IMODE((home / secret).stat().st_mode) == 0o600, secret
    assert (home / "config.toml").exists() and (home / "node.sqlite").exists()

    # A second init in the same home must not replace the association's identity.
    assert again.returncode != 0
    assert "node.key" in again.stderr and str(home) in again.stderr
    assert "Traceback" not in again.stderr and again.stdout == ""
    assert (home / "node.key").read_bytes() == key_before
    assert ok("id", "--home", str(home)).strip() == node_id


def test_init_json_is_one_object_matching_id(tmp_path: Path) -> None:
    home = tmp_path / "club"
    (created,) = json_lines(ok("init", "--home", str(home), "--name", "Club", "--json"))
    assert created["node_id"] == ok("id", "--home", str(home)).strip()
    assert created["fingerprint"] == fingerprint(created["node_id"])
    assert Path(created["home"]) == home.resolve()


# ---- commands need a running node; `run` refuses bad seeds -------------------


def test_commands_against_a_stopped_node_say_how_to_start_it(tmp_path: Path) -> None:
    home = str(tmp_path / "arret")
    ok("init", "--home", home, "--name", "Association à l'arrêt")
    commands = (["search", "velo"], ["resource", "add", "--title", "Tente"], ["peers", "--json"], ["sync"])
    for args, result in zip(commands, maillage_all(*((*args, "--home", home) for args in commands))):
        assert result.returncode != 0, args
        assert "ne tourne pas" in result.stderr and f"maillage run --home {home}" in result.stderr, result.stderr
        assert result.stdout == "" and "Traceback" not in result.stderr
    english = maillage("search", "--home", home, "velo", lang="en")
    assert english.returncode != 0
    assert "is not running" in english.stderr and f"maillage run --home {home}" in english.stderr


def test_commands_after_a_crash_say_how_to_start_the_node(tmp_path: Path) -> None:
    home = tmp_path / "panne"
    ok("init", "--home", str(home), "--name", "Association en panne")
    with socket.socket() as s:  # a port where nothing listens any more, as after a crash
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    (home / "run.json").write_text(json.dumps({"url": url, "api_url": url, "node_id": "x", "pid": 1}))
    result = maillage("search", "--home", str(home), "velo")
    assert result.returncode != 0 and result.stdout == ""
    assert f"maillage run --home {home}" in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_run_refuses_a_malformed_seed_with_code_2(tmp_path: Path) -> None:
    home = tmp_path / "graine"
    ok("init", "--home", str(home), "--name", "Association semée")
    other_id = SigningKey.generate().node_id
    seeds = ("http://x", f"ftp://127.0.0.1:8470#{other_id}", "http://127.0.0.1:8470#pas-un-identifiant")
    results = maillage_all(*(("run", "--home", str(home), "--port", "0", "--seed", seed) for seed in seeds), timeout=30)
    for seed, result in zip(seeds, results):
        assert result.returncode == 2, (seed, result.stdout, result.stderr)
        assert "seed" in result.stderr and seed.split("#")[0] in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert "node-id" in results[0].stderr
    assert not (home / "run.json").exists()


# ---- the catalogue through a running node -----------------------------------


def test_resource_add_then_search_folds_accents(fed: Federation) -> None:
    (created,) = json_lines(ok("resource", "add", "--home", fed.a, "--title", "Vélo cargo Zéphyrin", "--kind", "vehicle",
                               "--quantity", "2", "--unit", "vélos", "--json"))
    assert created["type"] == "resource" and len(created["message_id"]) == 64

    queries = (["velo", "zephyrin"], ["VÉLO", "Zéphyrin"], ["zephyr"])
    *found, text, other_kind, other_kind_text = ok_all(
        *(("search", "--home", fed.a, *query, "--json") for query in queries),
        ("search", "--home", fed.a, "velo", "zephyrin"),
        ("search", "--home", fed.a, "zephyrin", "--kind", "space", "--json"),
        ("search", "--home", fed.a, "zephyrin", "--kind", "space"),
    )
    for query, stdout in zip(queries, found):
        hits = json_lines(stdout)
        assert [h["id"] for h in hits] == [created["id"]], query
        (hit,) = hits
        assert hit["body"]["title"] == "Vélo cargo Zéphyrin" and hit["body"]["quantity"] == 2
        assert hit["association"] == "Banque alimentaire du Rhône" and hit["own"] is True
    assert text == "Vélo cargo Zéphyrin — Banque alimentaire du Rhône [ressource, véhicule]\n"
    assert json_lines(other_kind) == []
    assert other_kind_text == "Aucun résultat.\n"


def test_near_and_km_keep_records_within_the_distance(fed: Federation) -> None:
    places = {"Bellecour": ("45.7578", "4.8320"), "Villeurbanne": ("45.7719", "4.8902"), "Vieux-Port": ("43.2965", "5.3698")}
    *located, unlocated = ok_all(
        *(("resource", "add", "--home", fed.a, "--title", f"Remorque Quintal {place}", "--lat", lat, "--lon", lon, "--json")
          for place, (lat, lon) in places.items()),
        ("resource", "add", "--home", fed.a, "--title", "Remorque Quintal sans adresse", "--json"),
    )
    ids = {json_lines(out)[0]["id"]: place for out, place in zip(located, places)}

    search = ("search", "--home", fed.a, "remorque", "quintal")
    close, town, far, everywhere, text = ok_all(
        *((*search, "--near", "45.76,4.83", "--km", km, "--json") for km in ("2", "10", "400")),
        (*search, "--json"),
        (*search, "--near", "45.76,4.83", "--km", "2"),
    )
    close_hits, town_hits = json_lines(close), json_lines(town)
    assert [ids[h["id"]] for h in close_hits] == ["Bellecour"] and 0 < close_hits[0]["distance_km"] < 2
    assert [ids[h["id"]] for h in town_hits] == ["Bellecour", "Villeurbanne"]  # nearest first
    assert town_hits[0]["distance_km"] < town_hits[1]["distance_km"] < 10
    assert sorted(ids[h["id"]] for h in json_lines(far)) == ["Bellecour", "Vieux-Port", "Villeurbanne"]
    assert {h["id"] for h in json_lines(everywhere)} == set(ids) | {json_lines(unlocated)[0]["id"]}
    assert re.fullmatch(r"Remorque Quintal Bellecour — Banque alimentaire du Rhône \[ressource, matériel\] à 0,\d\d km\n", text)

    lonely = maillage(*search, "--km", "10")
    assert lonely.returncode == 2 and "--near" in lonely.stderr


def test_offer_and_need_are_published_and_found(fed: Federation) -> None:
    offer, need = (json_lines(out)[0] for out in ok_all(
        ("offer", "add", "--home", fed.a, "--title", "Prêt de barnum Ondine", "--json"),
        ("need", "add", "--home", fed.a, "--title", "Graphiste Ondine", "--kind", "skill",
         "--description", "affiche pour la fête de quartier, 4 h", "--json"),
    ))
    assert (offer["type"], need["type"]) == ("offer", "need")
    both, described, listed = ok_all(
        ("search", "--home", fed.a, "ondine", "--json"),
        ("search", "--home", fed.a, "ondine", "affiche", "--json"),
        ("offer", "list", "--home", fed.a, "--json"),
    )
    assert {(h["type"], h["id"]) for h in json_lines(both)} == {("offer", offer["id"]), ("need", need["id"])}
    assert [h["id"] for h in json_lines(described)] == [need["id"]]
    types = {r["id"]: r["type"] for r in json_lines(listed)}
    assert types[offer["id"]] == "offer" and need["id"] not in types  # `offer list` lists offers only
    assert set(types.values()) == {"offer"}


def test_resource_delete_removes_it_from_search(fed: Federation) -> None:
    (created,) = json_lines(ok("resource", "add", "--home", fed.a, "--title", "Sono Bérénice", "--json", "--id", "sono-berenice"))
    assert created["id"] == "sono-berenice"
    assert len(json_lines(ok("search", "--home", fed.a, "berenice", "--json"))) == 1
    assert "sono-berenice" in ok("resource", "delete", "--home", fed.a, "sono-berenice")
    found, listed = ok_all(("search", "--home", fed.a, "berenice", "--json"), ("resource", "list", "--home", fed.a, "--json"))
    assert found == ""
    assert "sono-berenice" not in {r["id"] for r in json_lines(listed)}
    again = maillage("resource", "delete", "--home", fed.a, "sono-berenice")
    assert again.returncode == 1 and "Refusé (invalid)" in again.stderr


def test_import_keeps_good_rows_and_reports_bad_ones_by_line(fed: Federation, tmp_path: Path) -> None:
    sheet = tmp_path / "inventaire.csv"
    sheet.write_bytes(
        "titre;type;quantité;latitude;longitude\n"
        "Chaises Pampelune;matériel;120;45,76;4,83\n"
        "Téléporteur Pampelune;science-fiction;1;;\n"
        "\n"
        "Barnum Pampelune;matériel;deux;;\n"
        "Salle Pampelune;salle;1;;\n".encode("cp1252")  # Excel's CSV on a French Windows
    )
    result = maillage("import", "--home", fed.a, str(sheet))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0].strip() for line in lines[:2]] == ["ligne 3", "ligne 5"]
    assert "science-fiction" in lines[0] and "deux" in lines[1]
    assert lines[2:] == ["2 ressource(s) publiée(s), 0 inchangée(s), 2 ligne(s) refusée(s)."]
    found = {h["body"]["title"]: h["body"] for h in json_lines(ok("search", "--home", fed.a, "pampelune", "--json"))}
    assert sorted(found) == ["Chaises Pampelune", "Salle Pampelune"]
    assert found["Chaises Pampelune"]["quantity"] == 120 and found["Salle Pampelune"]["kind"] == "space"

    other = tmp_path / "inventaire-2.csv"
    other.write_text("titre;quantité\nTables Pampelune;8\nBancs Pampelune;-3\n", encoding="utf-8")
    errors, summary = json_lines(ok("import", "--home", fed.a, str(other), "--json"))
    assert errors["line"] == 3 and "-3" in errors["error"]
    assert summary == {"published": 1, "unchanged": 0, "errors": 1}
    assert len(json_lines(ok("search", "--home", fed.a, "pampelune", "--json"))) == 3


def test_peers_after_sync_lists_the_other_node_as_active(fed: Federation) -> None:
    alpha = fed.alpha.seed
    assert "Pair ajouté" in ok("peer", "add", "--home", fed.b, str(alpha))
    (report,) = json_lines(ok("sync", "--home", fed.b, "--json"))
    assert (report["failed"], report["refused"], report["errors"]) == (0, 0, []), report

    listed, text, published = ok_all(
        ("peers", "--home", fed.b, "--json"),
        ("peers", "--home", fed.b),
        ("resource", "add", "--home", fed.a, "--title", "Minibus Orphée", "--kind", "vehicle", "--json"),
    )
    peers = {p["node_id"]: p for p in json_lines(listed)}
    assert list(peers) == [alpha.node_id]
    assert peers[alpha.node_id]["name"] == "Banque alimentaire du Rhône"
    assert peers[alpha.node_id]["state"] == "active"
    assert peers[alpha.node_id]["addresses"][0] == alpha.url
    assert "Banque alimentaire du Rhône" in text and alpha.node_id in text and "active" in text

    # What alpha publishes, beta finds; what alpha deletes, beta forgets (tombstone).
    ok("sync", "--home", fed.b)
    (hit,) = json_lines(ok("search", "--home", fed.b, "orphee", "--json"))
    assert hit["id"] == json_lines(published)[0]["id"]
    assert hit["association"] == "Banque alimentaire du Rhône" and hit["own"] is False
    ok("resource", "delete", "--home", fed.a, hit["id"])
    ok("sync", "--home", fed.b)
    assert ok("search", "--home", fed.b, "orphee", "--json") == ""

    # A seed that pins another id than the node at that address is refused, not trusted.
    impostor = SigningKey.generate().node_id
    ok("peer", "add", "--home", fed.b, f"{alpha.url}#{impostor}")
    ok("sync", "--home", fed.b)  # `peer add` also wakes the background loop: either round may see it first
    peers = {p["node_id"]: p for p in json_lines(ok("peers", "--home", fed.b, "--json"))}
    assert peers[impostor]["state"] == "refused" and peers[alpha.node_id]["state"] == "active"
    assert peers[impostor]["name"] != "Banque alimentaire du Rhône" and impostor in peers[impostor]["last_error"]

    unpinned = maillage("peer", "add", "--home", fed.b, alpha.url)
    assert unpinned.returncode == 1 and "node-id" in unpinned.stderr


def test_private_records_stay_on_their_node(fed: Federation) -> None:
    ok("peer", "add", "--home", fed.b, str(fed.alpha.seed))
    ok("sync", "--home", fed.b)
    ok("sync", "--home", fed.a)  # alpha learnt beta from its handshake; now alpha pushes news to it
    states = {p["node_id"]: p["state"] for p in json_lines(ok("peers", "--home", fed.a, "--json"))}
    assert states[fed.beta.seed.node_id] == "active"

    ok_all(("resource", "add", "--home", fed.a, "--title", "Coffre Théodule", "--visibility", "private"),
           ("resource", "add", "--home", fed.a, "--title", "Tente Théodule"))
    seen_by_alpha = {h["body"]["title"] for h in json_lines(ok("search", "--home", fed.a, "theodule", "--json"))}
    assert seen_by_alpha == {"Coffre Théodule", "Tente Théodule"}
    ok("sync", "--home", fed.b)
    seen_by_beta = {h["body"]["title"] for h in json_lines(ok("search", "--home", fed.b, "theodule", "--json"))}
    assert seen_by_beta == {"Tente Théodule"}  # the private record stayed on alpha


def test_english_output_with_maillage_lang_en(fed: Federation, tmp_path: Path) -> None:
    ok("resource", "add", "--home", fed.a, "--title", "Camionnette Ysaline", "--kind", "vehicle", "--lat", "45.75", "--lon", "4.85")
    found, nothing, created = ok_all(
        ("search", "--home", fed.a, "ysaline", "--near", "45.76,4.83", "--km", "5"),
        ("search", "--home", fed.a, "nothing-like-this"),
        ("init", "--home", str(tmp_path / "en"), "--name", "English-speaking club"),
        lang="en",
    )
    assert re.fullmatch(r"Camionnette Ysaline — Banque alimentaire du Rhône \[resource, vehicle\] \d\.\d\d km away\n", found)
    assert nothing == "No results.\n"
    assert "Node id:" in created and "Fingerprint" in created and "Nœud" not in created


def test_fingerprint_of_a_received_id_matches_the_one_init_printed(tmp_path: Path) -> None:
    created = json_lines(ok("init", "--home", str(tmp_path / "empreinte"), "--name", "Association empreinte", "--json"))[0]
    assert ok("fingerprint", created["node_id"]).strip() == created["fingerprint"]
    refused = maillage("fingerprint", created["node_id"][:-1] + "b")  # padding bits set: not an id
    assert refused.returncode == 2 and "identifiant" in refused.stderr
