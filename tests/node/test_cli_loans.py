"""Loans driven only through `maillage loan …` and `maillage agreements`, between two real node processes.

The club lends, the food bank borrows. Two nodes serve the whole module; each test uses its own
dates (or its own resource), so the tests do not depend on each other's order.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from node import cli
from node.i18n import WEEKDAYS
from protocol import SigningKey

from .harness import NodeProcess, make_home
from .test_cli import json_lines, maillage, ok, ok_all

PARIS = ZoneInfo("Europe/Paris")
MINIBUS_RULES = {"unit": "day", "stock": 1, "timezone": "Europe/Paris"}
ROOM_RULES = {"unit": "hour", "opening": [{"day": d, "opens": "09:00", "closes": "22:00"} for d in range(1, 8)],
              "buffer_minutes": 30}


@dataclass
class Pair:
    club: NodeProcess  # owner: lends the minibus and the room
    food: NodeProcess  # borrower

    @property
    def c(self) -> str:
        return str(self.club.config.home)

    @property
    def f(self) -> str:
        return str(self.food.config.home)

    @property
    def club_id(self) -> str:
        return self.club.seed.node_id


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    base = tmp_path_factory.mktemp("loans")
    started: list[NodeProcess] = []
    try:
        started.append(NodeProcess(make_home(base, "Club sportif de Vénissieux"), sync_interval_s=60))
        started.append(NodeProcess(make_home(base, "Banque alimentaire du Rhône"), sync_interval_s=60))
        pair = Pair(*started)
        ok_all(
            ("peer", "add", "--home", pair.f, str(pair.club.seed)),
            ("peer", "add", "--home", pair.c, str(pair.food.seed)),
            ("resource", "add", "--home", pair.c, "--id", "minibus", "--title", "Minibus 9 places", "--kind", "vehicle",
             "--availability", json.dumps(MINIBUS_RULES)),
            ("resource", "add", "--home", pair.c, "--id", "salle", "--title", "Salle de réunion", "--kind", "space",
             "--availability", json.dumps(ROOM_RULES)),
        )
        ok("sync", "--home", pair.f)  # the food bank learns the club's name and titles
        yield pair
    finally:
        for process in started:
            process.stop()


def day(offset: int) -> date:
    return datetime.now(PARIS).date() + timedelta(days=offset)


def both_sides(pair: Pair, agreement: str, *more: tuple[str, ...], lang: str | None = None) -> tuple[Any, ...]:
    """The agreement as `agreements --json` lists it on the borrower's node and on the owner's, then the
    stdout of ``more`` commands: all run at once (each command is a process that takes a while to start)."""
    food, club, *others = ok_all(("agreements", "--home", pair.f, "--json"), ("agreements", "--home", pair.c, "--json"),
                                 *more, lang=lang)
    return (_pick(food, agreement), _pick(club, agreement), *others)


def _pick(stdout: str, agreement: str) -> dict[str, Any]:
    (found,) = [a for a in json_lines(stdout) if a["id"] == agreement]
    return found


def agreement_id(stdout: str) -> str:
    (found,) = re.findall(r"^Accord ([0-9a-f]{32})$", stdout, re.MULTILINE)
    return found


def request_minibus(pair: Pair, first: date, last: date, *extra: str) -> str:
    return ok("loan", "request", "--home", pair.f, "--owner", pair.club_id, "--resource", "minibus",
              "--from", first.isoformat(), "--to", last.isoformat(), *extra)


# ---- a full loan ----------------------------------------------------------------------------


def test_a_full_loan_driven_by_the_cli_reaches_closed_on_both_nodes(pair: Pair, tmp_path: Path) -> None:
    saturday = day(3)
    out = request_minibus(pair, saturday, saturday, "--purpose", "Collecte nationale", "--fee", "20,00",
                          "--deposit", "300")
    assert out.splitlines()[0] == "Demande envoyée : en attente de réponse", out
    loan = agreement_id(out)
    prefix = loan[:8]
    mine, theirs, text = both_sides(pair, loan, ("agreements", "--home", pair.c))
    assert (mine["state"], mine["role"], theirs["state"], theirs["role"]) == ("requested", "borrower", "requested", "owner")
    assert mine["association"] == "Club sportif de Vénissieux" and theirs["association"] == "Banque alimentaire du Rhône"
    assert mine["terms"]["fee"] == {"amount": 2000, "currency": "EUR"}
    assert mine["terms"]["deposit"] == {"amount": 30000, "currency": "EUR"}
    row = next(line for line in text.splitlines() if line.startswith(prefix))
    assert "demandé" in row and "prêté à Banque alimentaire du Rhône" in row and "Minibus 9 places" in row
    assert f"{WEEKDAYS[0][saturday.isoweekday() - 1]} {saturday}" in row  # e.g. "sam. 2026-11-28"

    out = ok("loan", "offer", "--home", pair.c, prefix, "--fee", "20.5", "--conditions", "Plein fait au retour",
             "--pickup-place", "Gymnase Jean Macé", "--pickup-at", f"{saturday} 08:30")
    assert out.startswith("Proposition envoyée : en attente de réponse\n") and loan in out
    assert ok("loan", "accept", "--home", pair.f, prefix).startswith("Accord scellé : signé par les deux associations\n")
    mine, theirs, english = both_sides(pair, loan, ("agreements", "--home", pair.f), lang="en")
    assert mine["state"] == theirs["state"] == "sealed"
    assert mine["terms"]["fee"] == {"amount": 2050, "currency": "EUR"} and mine["terms"]["conditions"] == "Plein fait au retour"
    assert f"{prefix}  sealed  borrowed from Club sportif de Vénissieux" in english

    photo = tmp_path / "avant.jpg"
    photo.write_bytes(b"\xff\xd8 not really a jpeg")
    for home, args, first_line, state in [
        (pair.c, ("handover", "--condition", "Propre, 45 210 km", "--photo", str(photo)),
         "Remise enregistrée : prêt en cours", "in_custody"),
        (pair.c, ("return", "--condition", "Rayure porte arrière"), "Retour enregistré", "returned"),
        (pair.c, ("incident", "--kind", "damage", "--description", "Rayure porte arrière", "--keep", "80,00",
                  "--reason", "Retouche carrosserie"), "Incident enregistré", "returned"),
        (pair.c, ("close", "--rating", "4", "--comment", "Bonne collaboration"), "Clôture signée", "closing"),
        (pair.f, ("close", "--rating", "5"), "Prêt clos : signé par les deux associations", "closed"),
    ]:
        out = ok("loan", args[0], "--home", home, prefix, *args[1:])
        assert out.startswith(first_line) and "En file d'attente" not in out, (args, out)
        if args[0] in ("return", "close"):  # the other node holds each step at once (no queue)
            mine, theirs = both_sides(pair, loan)
            assert mine["state"] == theirs["state"] == state, args

    mine, theirs, as_json, shown = both_sides(pair, loan, ("loan", "show", "--home", pair.f, prefix, "--json"),
                                              ("loan", "show", "--home", pair.c, prefix))
    assert mine["state"] == theirs["state"] == "closed"
    (detail,) = json_lines(as_json)
    assert detail["seal_verified"] is True
    assert [e["action"] for e in detail["events"]] == [
        "request", "offer", "accept", "handover", "return", "incident", "close", "close"]
    assert detail["events"][3]["data"]["photos"] == [hashlib.sha256(photo.read_bytes()).hexdigest()]
    assert detail["facts"]["deposit_kept"] == {"amount": 8000, "currency": "EUR"}
    assert "2 signatures vérifiées" in shown and "Retenu sur la caution : 80,00 EUR" in shown
    assert f"{prefix}  clos  prêté à Banque alimentaire du Rhône" in shown


# ---- availability: a conflict names the free slots -------------------------------------------


def test_a_conflicting_request_prints_the_free_slots_in_local_time(pair: Pair) -> None:
    taken = day(20)
    first = agreement_id(request_minibus(pair, taken, taken))
    assert "Accord scellé" in ok("loan", "accept", "--home", pair.c, first[:6])

    out = request_minibus(pair, taken, taken)
    lines = out.splitlines()
    assert lines[0].startswith("refusé : conflit (déjà réservé) — créneaux libres : "), out
    assert lines[0].endswith("état : « refusé par le prêteur »")
    free_days = re.findall(r"\d{4}-\d\d-\d\d", lines[0])
    assert set(free_days[:2]) == {(taken + timedelta(days=1)).isoformat(), (taken - timedelta(days=1)).isoformat()}
    refused = agreement_id(out)
    as_json, text = ok_all(("agreements", "--home", pair.f, "--json"), ("agreements", "--home", pair.f))
    mine = _pick(as_json, refused)
    assert mine["refusal"]["code"] == "conflict" and mine["refusal"]["details"]["free"]
    row = text.split(refused[:8], 1)[1]
    assert "dernière étape refusée : conflit (déjà réservé) — créneaux libres :" in row.split("\n", 2)[1]

    # The owner proposing a day that is taken is refused by its own node, on one French line.
    other = agreement_id(request_minibus(pair, day(21), day(21)))
    moved = maillage("loan", "offer", "--home", pair.c, other, "--from", taken.isoformat(), "--to", taken.isoformat())
    assert moved.returncode == 1 and moved.stdout == ""
    assert moved.stderr.startswith("Refusé (conflict) : conflit (déjà réservé) — créneaux libres : ")
    assert len(moved.stderr.splitlines()) == 1 and "Traceback" not in moved.stderr


def test_a_weekly_series_makes_one_request_per_occurrence_and_lists_the_refused_ones(pair: Pair) -> None:
    tuesday = day(7 + (2 - day(7).isoweekday()) % 7)  # a Tuesday at least a week ahead
    taken = tuesday + timedelta(weeks=1)
    single = ok("loan", "request", "--home", pair.f, "--owner", pair.club_id, "--resource", "salle",
                "--start", f"{taken} 19:00", "--end", f"{taken} 21:00")
    ok("loan", "accept", "--home", pair.c, agreement_id(single))

    out = ok("loan", "request", "--home", pair.f, "--owner", pair.club_id, "--resource", "salle",
             "--start", f"{tuesday} 18:30", "--end", f"{tuesday} 20:30",
             "--weekly-until", (tuesday + timedelta(weeks=2)).isoformat())
    rows = out.splitlines()
    assert len(rows) == 4 and rows[-1] == "3 demande(s) envoyée(s), 1 refusée(s).", out
    assert rows[0].startswith(f"mar. {tuesday} 18:30–20:30") and rows[0].endswith("demandé")
    assert rows[1].startswith(f"mar. {taken} 18:30–20:30") and "refusé : conflit (déjà réservé)" in rows[1]
    assert "créneaux libres : " in rows[1]
    assert rows[2].startswith(f"mar. {tuesday + timedelta(weeks=2)} 18:30–20:30") and rows[2].endswith("demandé")


def test_search_for_what_is_free_asks_the_owner(pair: Pair) -> None:
    taken = day(30)
    ok("loan", "accept", "--home", pair.c, agreement_id(request_minibus(pair, taken, taken)))
    busy, free = ok_all(
        ("search", "--home", pair.f, "minibus", "--free-from", taken.isoformat(), "--free-to", taken.isoformat()),
        ("search", "--home", pair.f, "minibus", "--free-from", day(31).isoformat(), "--free-to", day(32).isoformat()),
    )
    assert "Minibus 9 places" not in busy
    assert "Minibus 9 places" in free and "Club sportif de Vénissieux" in free


# ---- what operators get wrong ----------------------------------------------------------------


def test_unknown_or_short_prefixes_and_bad_input_are_usage_errors(pair: Pair) -> None:
    unknown, short, not_hex, gap, both, step = (
        maillage("loan", "accept", "--home", pair.f, "000000"),
        maillage("loan", "accept", "--home", pair.f, "abc"),
        maillage("loan", "accept", "--home", pair.f, "zzzzzzzz"),
        maillage("loan", "request", "--home", pair.f, "--owner", pair.club_id, "--resource", "salle",
                 "--start", "2027-03-28 02:30", "--end", "2027-03-28 04:00"),
        maillage("loan", "request", "--home", pair.f, "--owner", pair.club_id, "--resource", "salle",
                 "--from", "2027-03-28", "--start", "2027-03-28 10:00", "--end", "2027-03-28 11:00"),
        maillage("loan", "handover", "--home", pair.c, "0" * 32, "--condition", "?"),
    )
    assert unknown.returncode == 2 and "Aucun accord ne commence par « 000000 »" in unknown.stderr
    assert short.returncode == 2 and "au moins 6" in short.stderr
    assert not_hex.returncode == 2
    assert gap.returncode == 2 and "2027-03-28 02:30 n'existe pas" in gap.stderr
    assert both.returncode == 2 and "pas les deux" in both.stderr
    assert step.returncode == 1 and step.stderr.startswith("Refusé (invalid) : demande invalide")
    for result in (unknown, short, not_hex, gap, both, step):
        assert result.stdout == "" and "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_step_the_other_node_cannot_receive_yet_is_queued(pair: Pair) -> None:
    nowhere = SigningKey.generate().node_id  # a valid node id whose address nobody knows
    out = ok("loan", "request", "--home", pair.f, "--owner", nowhere, "--resource", "tente", "--from", str(day(9)),
             "--to", str(day(9)))
    lines = out.splitlines()
    assert lines[0] == "Demande envoyée : en attente de réponse"
    assert lines[2] == "En file d'attente : ce sera transmis dès que le nœud de l'autre association sera joignable."
    (as_json,) = json_lines(ok("agreements", "--home", pair.f, "--json"))[:1]
    assert as_json["counterpart"] == nowhere and as_json["association"] is None


class _Listing:
    """An ApiClient stand-in that only lists agreements."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    def call(self, method: str, path: str, **_: Any) -> Any:
        assert (method, path) == ("GET", "/agreements")
        return {"agreements": [{"id": i} for i in self.ids]}


def test_an_ambiguous_prefix_names_the_candidates_and_exits_2(monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # Random ids share six characters too rarely to provoke it between real nodes.
    ids = ["abcdef01" + "0" * 24, "abcdef02" + "1" * 24, "12345678" + "2" * 24]
    monkeypatch.setenv("MAILLAGE_LANG", "fr")
    monkeypatch.setattr(cli, "_client", lambda args: _Listing(ids))
    assert cli.main(["loan", "accept", "--home", "/nonexistent", "abcdef"]) == 2
    err = capsys.readouterr().err
    assert "« abcdef » désigne 2 accords" in err and "abcdef01" in err and "abcdef02" in err
    assert cli._resolve(_Listing(ids), "ABCDEF02") == ids[1]  # type: ignore[arg-type]
