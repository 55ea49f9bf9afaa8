"""The web pages against a real node: sign-in, roles, CSRF, the catalogue form, languages, CSV import."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

from node.app import RunningNode
from node.web import auth
from storage import session, users

from ..node.harness import local_api
from .conftest import PASSWORDS, Browser


async def _own_titles(node: RunningNode) -> set[str]:
    async with local_api(node) as call:
        status, body = await call("GET", "/records")
    assert status == 200
    return {r["body"].get("title") for r in body["records"] if r["type"] != "descriptor"}


RESOURCE_FORM = {
    "type": "resource", "kind": "equipment", "title": "Perceuse à percussion", "description": "Avec sa mallette",
    "quantity": "2", "unit": "pièces", "lat": "45,7640", "lon": "4.8357", "booking": "day", "stock": "2",
    "buffer": "30", "opens_2": "09:00", "closes_2": "18:00", "opens_6": "10:00", "closes_6": "12:30",
}


async def test_private_pages_send_to_the_sign_in_page(browser: Browser) -> None:
    for path in ("/", "/catalogue", "/catalogue/nouveau", "/pairs", "/compte"):
        status, _, resp = await browser.get(path)
        assert status == 303, path
        assert resp.headers["Location"].startswith("/connexion?suivant="), path
    status, html, _ = await browser.get("/connexion")
    assert status == 200 and "Connexion" in html


async def test_sign_in_and_out(browser: Browser) -> None:
    status, _, resp = await browser.login("admin")
    assert status == 303 and resp.headers["Location"] == "/"
    cookie = resp.cookies[auth.SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"]  # http node: no Secure
    status, html, _ = await browser.get("/")
    assert status == 200 and "Ressourcerie du Plateau" in html and "En attente de notre réponse" in html
    token = await browser.csrf("/")
    status, _, resp = await browser.post("/deconnexion", {"csrf_token": token})
    assert status == 303
    assert (await browser.get("/"))[0] == 303


async def test_wrong_password_is_refused(browser: Browser) -> None:
    status, html, resp = await browser.login("admin", "not-the-password")
    assert status == 401 and "Nom ou mot de passe incorrect" in html
    assert auth.SESSION_COOKIE not in resp.cookies
    status, html, _ = await browser.login("personne", "whatever-it-is")
    assert status == 401
    assert (await browser.get("/"))[0] == 303


async def test_sign_in_is_rate_limited_after_repeated_failures(make_browser: Any) -> None:
    attacker = make_browser()
    for _ in range(auth.MAX_FAILURES):
        assert (await attacker.login("admin", "guess-guess"))[0] == 401
    status, html, _ = await attacker.login("admin")  # even the right password, for a while
    assert status == 429 and "Trop de tentatives de connexion" in html
    # Per name as well: another address (here: the same one; the name counter alone) …
    other = make_browser()
    status, _, _ = await other.login("marie", "bad-bad-bad")
    assert status == 429  # … this address is blocked for every name


async def test_name_limit_counts_across_addresses() -> None:
    limiter = auth.LoginLimiter(max_failures=3, window_s=60)
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert not limiter.blocked(address, "admin", now=0)
        limiter.failed(address, "admin", now=0)
    assert limiter.blocked("10.0.0.4", "Admin ", now=1)
    assert not limiter.blocked("10.0.0.4", "marie", now=1)
    assert not limiter.blocked("10.0.0.4", "admin", now=61)  # the failures aged out


async def test_reader_can_look_but_not_post_to_the_catalogue(node: RunningNode, browser: Browser) -> None:
    assert (await browser.login("lucien"))[0] == 303
    status, html, _ = await browser.get("/catalogue")
    assert status == 200 and "Ajouter une ressource" not in html
    assert (await browser.get("/catalogue/nouveau"))[0] == 403
    token = await browser.csrf("/catalogue")
    status, html, _ = await browser.post("/catalogue", {"csrf_token": token, **RESOURCE_FORM})
    assert status == 403 and "Votre rôle ne permet pas cette action" in html
    assert RESOURCE_FORM["title"] not in await _own_titles(node)
    # Nor manage accounts or peers.
    assert (await browser.post("/compte/utilisateurs", {"csrf_token": token, "name": "x", "role": "admin"}))[0] == 403
    assert (await browser.post("/pairs", {"csrf_token": token, "seed": "http://x#y"}))[0] == 403


async def test_a_form_without_the_right_csrf_token_is_refused_and_changes_nothing(
    node: RunningNode, browser: Browser, make_browser: Any
) -> None:
    assert (await browser.login("admin"))[0] == 303
    status, html, _ = await browser.post("/catalogue", RESOURCE_FORM)
    assert status == 403 and "Ce formulaire a expiré" in html
    status, _, _ = await browser.post("/catalogue", {"csrf_token": "0" * 64, **RESOURCE_FORM})
    assert status == 403
    # Another browser's token (another session) is no good either.
    other = make_browser()
    await other.login("marie")
    foreign = await other.csrf("/catalogue")
    assert (await browser.post("/catalogue", {"csrf_token": foreign, **RESOURCE_FORM}))[0] == 403
    # Nor is the sign-in form spared.
    assert (await make_browser().post("/connexion", {"name": "admin", "password": PASSWORDS["admin"]}))[0] == 403
    assert RESOURCE_FORM["title"] not in await _own_titles(node)


async def test_admin_adds_a_resource_through_the_form(node: RunningNode, browser: Browser) -> None:
    assert (await browser.login("admin"))[0] == 303
    token = await browser.csrf("/catalogue/nouveau?type=resource")
    status, _, resp = await browser.post("/catalogue", {"csrf_token": token, **RESOURCE_FORM})
    assert status == 303 and resp.headers["Location"] == "/catalogue?fait=added"
    status, html, _ = await browser.get("/catalogue?fait=added")
    assert status == 200 and "Perceuse à percussion" in html and "Publié." in html
    assert "/ical/" in html  # the resource's calendar feed

    async with local_api(node) as call:
        _, listed = await call("GET", "/records?type=resource")
    (record,) = listed["records"]
    body = record["body"]
    assert body["title"] == "Perceuse à percussion" and body["quantity"] == 2 and body["unit"] == "pièces"
    assert body["location"] == {"lat": 45_764_000, "lon": 4_835_700}
    assert body["availability"] == {
        "unit": "day", "stock": 2, "buffer_minutes": 30,
        "opening": [{"day": 2, "opens": "09:00", "closes": "18:00"}, {"day": 6, "opens": "10:00", "closes": "12:30"}],
    }

    # Edit it: the form shows what is published, a new version replaces it.
    record_id = record["id"]
    status, html, _ = await browser.get(f"/catalogue/{record_id}/modifier")
    assert status == 200 and 'value="Perceuse à percussion"' in html and 'name="opens_6" value="10:00"' in html
    token = await browser.csrf(f"/catalogue/{record_id}/modifier")
    changed = {**RESOURCE_FORM, "title": "Perceuse sans fil", "booking": "", "lat": "", "lon": ""}
    status, _, _ = await browser.post(f"/catalogue/{record_id}/modifier", {"csrf_token": token, **changed})
    assert status == 303
    assert await _own_titles(node) == {"Perceuse sans fil"}

    # A bad value is shown back with its error, nothing signed.
    status, html, _ = await browser.post("/catalogue", {"csrf_token": token, **RESOURCE_FORM, "opens_1": "18:00",
                                                        "closes_1": "09:00"})
    assert status == 400 and "Horaires du lundi" in html and 'value="Perceuse à percussion"' in html

    # Delete it.
    status, _, _ = await browser.post(f"/catalogue/{record_id}/supprimer", {"csrf_token": token})
    assert status == 303 and await _own_titles(node) == set()


async def test_member_adds_an_offer_but_cannot_manage_accounts(node: RunningNode, browser: Browser) -> None:
    assert (await browser.login("marie"))[0] == 303
    token = await browser.csrf("/catalogue/nouveau?type=offer")
    form = {"csrf_token": token, "type": "offer", "kind": "skill", "title": "Atelier réparation vélo"}
    assert (await browser.post("/catalogue", form))[0] == 303
    assert "Atelier réparation vélo" in await _own_titles(node)
    status, html, _ = await browser.get("/compte")
    assert status == 200 and "Ajouter un compte" not in html
    assert (await browser.post("/compte/reinitialiser", {"csrf_token": token, "user_id": "1"}))[0] == 403


async def test_admin_creates_an_account_with_a_one_time_password(node: RunningNode, browser: Browser,
                                                               make_browser: Any) -> None:
    assert (await browser.login("admin"))[0] == 303
    token = await browser.csrf("/compte")
    status, html, _ = await browser.post("/compte/utilisateurs", {"csrf_token": token, "name": "Zoé", "role": "member"})
    assert status == 200 and "Compte créé." in html
    (password,) = re.findall(r'<span class="secret">([^<]+)</span>', html)
    newcomer = make_browser()
    assert (await newcomer.login("Zoé", password))[0] == 303
    # The newcomer changes it; the one-time password no longer works.
    token = await newcomer.csrf("/compte")
    form = {"csrf_token": token, "current": password, "new": "un mot de passe à moi", "again": "un mot de passe à moi"}
    status, _, resp = await newcomer.post("/compte/mot-de-passe", form)
    assert status == 303 and resp.headers["Location"] == "/compte?fait=password"
    assert (await newcomer.get("/compte?fait=password"))[0] == 200  # still signed in on this browser
    assert (await make_browser().login("Zoé", password))[0] == 401
    assert (await make_browser().login("Zoé", "un mot de passe à moi"))[0] == 303
    with session(node.node.engine) as s:
        assert users.get_by_name(s, "Zoé") == users.User(users.get_by_name(s, "Zoé").id, "Zoé", "member")  # type: ignore[union-attr]


async def test_french_by_default_and_english_with_the_switch(browser: Browser) -> None:
    status, html, _ = await browser.get("/connexion")
    assert '<html lang="fr">' in html and "<h1>Connexion</h1>" in html and "Aller au contenu" in html
    status, html, resp = await browser.get("/connexion?lang=en")
    assert '<html lang="en">' in html and "<h1>Sign in</h1>" in html and "Skip to content" in html
    assert resp.cookies["maillage_lang"].value == "en"
    status, html, _ = await browser.get("/connexion")  # the cookie keeps the choice
    assert "<h1>Sign in</h1>" in html
    await browser.login("admin")
    status, html, _ = await browser.get("/")
    assert "Waiting for our answer" in html and "Our catalogue" in html
    status, html, _ = await browser.get("/?lang=fr")
    assert "En attente de notre réponse" in html and "Notre catalogue" in html


async def test_csv_import_shows_each_refused_row(node: RunningNode, browser: Browser) -> None:
    assert (await browser.login("marie"))[0] == 303
    token = await browser.csrf("/catalogue")
    csv = "titre;quantité;type\nTente 4 places;2;matériel\n;3;matériel\nRemorque;beaucoup;véhicule\nBarnum;1;\n"
    form = aiohttp.FormData()
    form.add_field("csrf_token", token)
    form.add_field("file", csv.encode("utf-8"), filename="inventaire.csv", content_type="text/csv")
    status, html, _ = await browser.post("/catalogue/import", form)
    assert status == 200, html[:3000]
    assert "2 ressource(s) publiée(s), 0 inchangée(s), 2 ligne(s) refusée(s)." in html
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td></tr>", html)
    assert [line for line, _ in rows] == ["3", "4"], rows
    assert all(reason.strip() for _, reason in rows)
    assert await _own_titles(node) == {"Tente 4 places", "Barnum"}


async def test_peers_page_and_admin_actions(node: RunningNode, browser: Browser) -> None:
    from protocol import SigningKey, fingerprint

    other = SigningKey.generate().node_id
    assert (await browser.login("admin"))[0] == 303
    token = await browser.csrf("/pairs")
    status, html, _ = await browser.post("/pairs", {"csrf_token": token, "seed": "pas une adresse"})
    assert status == 400 and "Adresse refusée" in html
    assert (await browser.post("/pairs", {"csrf_token": token, "seed": f"http://127.0.0.1:9#{other}"}))[0] == 303
    status, html, _ = await browser.get("/pairs")
    assert other in html and fingerprint(other) in html
    assert (await browser.post("/pairs/refuser", {"csrf_token": token, "node_id": other}))[0] == 303
    assert other in node.node.denied
    assert (await browser.post("/pairs/autoriser", {"csrf_token": token, "node_id": other}))[0] == 303
    assert other not in node.node.denied


def test_init_prints_the_first_administrators_one_time_password_once(tmp_path: Any) -> None:
    import json
    import subprocess
    import sys

    from storage import make_engine

    from ..node.harness import REPO

    home = tmp_path / "asso"
    out = subprocess.run([sys.executable, "-m", "node.cli", "init", "--home", str(home), "--name", "Asso", "--json"],
                         cwd=REPO, capture_output=True, text=True, timeout=60, check=True).stdout
    admin = json.loads(out)["admin"]
    assert admin["name"] == "admin" and len(admin["password"]) >= 16
    engine = make_engine(f"sqlite:///{home / 'node.sqlite'}")
    try:
        with session(engine) as s:
            assert users.authenticate(s, "admin", admin["password"]) == users.get_by_name(s, "admin")
            assert users.authenticate(s, "admin", "wrong") is None
        raw = (home / "node.sqlite").read_bytes()
        assert admin["password"].encode() not in raw  # only the hash is kept
    finally:
        engine.dispose()
