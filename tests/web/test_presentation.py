"""Presentation: complete catalogues, English pages without French left over, readable colours, styled error pages."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from node.web import i18n
from node.web.i18n import LOCALES
from node.web.render import environment, gettext_for

from .conftest import Browser

CSS = Path(i18n.__file__).with_name("static") / "maillage.css"
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def catalogue(lang: str):  # type: ignore[no-untyped-def]
    with (LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


# ---- catalogues ----------------------------------------------------------------------------------


def test_every_english_message_is_translated_with_the_same_placeholders() -> None:
    untranslated, fuzzy, wrong = [], [], []
    for message in catalogue("en"):
        if not message.id:
            continue
        if message.fuzzy:
            fuzzy.append(message.id)
        ids = message.id if message.pluralizable else (message.id,)
        strings = message.string if message.pluralizable else (message.string,)
        if not all(strings):
            untranslated.append(message.id)
            continue
        wanted = sorted(set(PLACEHOLDER.findall(ids[-1])))
        for form in strings:
            if sorted(set(PLACEHOLDER.findall(form))) != wanted and sorted(set(PLACEHOLDER.findall(form))) != sorted(
                    set(PLACEHOLDER.findall(ids[0]))):
                wrong.append((message.id, form))
    assert not untranslated, f"untranslated English messages (fill messages.po, then compile): {untranslated}"
    assert not fuzzy, f"fuzzy English messages: {fuzzy}"
    assert not wrong, f"placeholders differ: {wrong}"


def test_french_plurals_follow_french_rules() -> None:
    source = catalogue("fr")
    assert source.plural_expr == "(n > 1)" and source.num_plurals == 2
    for message in source:
        if message.id and message.pluralizable:
            assert tuple(message.string) == tuple(message.id), message.id
    ngettext = i18n.translations("fr").ngettext
    one, many = "%(num)s résultat", "%(num)s résultats"
    assert ngettext(one, many, 0) == one and ngettext(one, many, 1) == one and ngettext(one, many, 2) == many
    english = i18n.translations("en").ngettext
    assert english(one, many, 0) == "%(num)s results" and english(one, many, 1) == "%(num)s result"


# ---- English pages ---------------------------------------------------------------------------------

FRENCH_UI_WORDS = ("Accueil", "Chercher", "Accords", "Pairs", "Compte", "Notre catalogue", "Se déconnecter",
                   "Aller au contenu", "Demandes reçues", "Nos demandes", "Comptes de l'association",
                   "Vérifier un accord")
MAIN_PAGES = ("/", "/catalogue", "/catalogue/nouveau", "/chercher", "/accords", "/pairs", "/audit", "/compte")


class Chrome(HTMLParser):
    """The text of the navigation, headings, captions, labels, legends and buttons of a page."""

    WATCHED = frozenset({"nav", "h1", "h2", "h3", "caption", "label", "legend", "button", "th", "title"})

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.text: list[str] = []
        self.lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.lang = dict(attrs).get("lang") or ""
        if tag in self.WATCHED:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.WATCHED and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)


async def test_main_pages_in_english_keep_no_french_in_navigation_and_headings(browser: Browser) -> None:
    assert (await browser.login("admin"))[0] == 303
    for path in MAIN_PAGES:
        status, html, _ = await browser.get(path + "?lang=en")
        assert status == 200, (path, html[:500])
        chrome = Chrome()
        chrome.feed(html)
        text = " ".join(" ".join(chrome.text).split())
        assert chrome.lang == "en", path
        for word in FRENCH_UI_WORDS:
            assert word not in text, f"{path}: {word!r} in English page chrome: {text}"
        assert "Home" in text and "Agreements" in text and "Peers" in text and "Account" in text, path
    # The cookie keeps English on the next page, French comes back on request.
    status, html, _ = await browser.get("/accords")
    assert status == 200 and "Requests received: we lend" in html
    status, html, _ = await browser.get("/accords?lang=fr")
    assert status == 200 and "Demandes reçues : nous prêtons" in html


def test_agreement_states_are_badges_with_words_in_both_languages() -> None:
    template = environment().from_string('{% import "_agreement_labels.html" as l with context %}{{ l.badge(s) }}')
    for lang, word in (("fr", "scellé"), ("en", "sealed")):
        gettext, ngettext = gettext_for(lang)
        html = template.render(s="sealed", _=gettext, gettext=gettext, ngettext=ngettext)
        assert html == f'<span class="badge state-sealed">{word}</span>'


# ---- stylesheet -------------------------------------------------------------------------------------


def css() -> str:
    return CSS.read_text(encoding="utf-8")


def custom_properties() -> dict[str, str]:
    root = re.search(r":root\s*\{(.*?)\}", css(), re.DOTALL)
    assert root
    return {name: value.lower() for name, value in re.findall(r"--([\w-]+)\s*:\s*(#[0-9a-fA-F]{3,6})\b", root.group(1))}


def luminance(colour: str) -> float:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)

    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(digits[i:i + 2]) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_wcag_formula() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


TEXT_PAIRS = [  # (text, background): every text colour on the backgrounds it is used on
    ("ink", "paper"), ("ink", "soft"), ("ink", "ok-bg"), ("muted", "paper"), ("muted", "soft"),
    ("accent", "paper"), ("accent", "soft"), ("accent-ink", "accent"), ("accent", "ok-bg"),
    ("warn-ink", "warn-bg"), ("error-ink", "error-bg"), ("error-ink", "paper"), ("ok-ink", "ok-bg"),
    ("info-ink", "info-bg"), ("paper", "error-ink"), ("paper", "ink"),
]


@pytest.mark.parametrize(("text", "background"), TEXT_PAIRS)
def test_text_colours_meet_wcag_aa(text: str, background: str) -> None:
    colours = custom_properties()
    ratio = contrast(colours[text], colours[background])
    assert ratio >= 4.5, f"--{text} on --{background}: {ratio:.2f}:1"


def test_focus_outline_and_field_borders_are_visible() -> None:
    colours = custom_properties()
    for background in ("paper", "soft"):  # non-text contrast (WCAG 1.4.11): 3:1
        assert contrast(colours["focus"], colours[background]) >= 3
        assert contrast(colours["field-line"], colours[background]) >= 3
    assert re.search(r":focus-visible\s*\{[^}]*outline:\s*3px solid var\(--focus\)", css())


@pytest.mark.parametrize("selector", [
    ".a-vous", "dl.terms", "ol.timeline", ".visually-hidden", ".badge", ".badge.state-sealed", ".badge.state-closed",
    "input[type=radio]", "input[type=checkbox]", "label.inline", "input[type=date]", "input[type=datetime-local]",
    "input[type=time]", ".table-wrap", ".choice", ".error-page",
])
def test_the_stylesheet_styles_what_the_pages_use(selector: str) -> None:
    assert re.search(re.escape(selector) + r"[\s,:{>]", css()), selector


def test_the_stylesheet_loads_nothing_from_elsewhere() -> None:
    text = css()
    assert "@import" not in text and "url(" not in text and "@font-face" not in text
    assert "system-ui" in text


def test_badges_do_not_rely_on_colour_alone() -> None:
    text = css()
    for state in ("requested", "sealed", "closed", "declined"):
        assert re.search(r"\.badge\.state-" + state + r"::before[^{]*\{\s*content:", text), state
    assert "border-style: dashed" in text and "border-style: dotted" in text and "border-style: double" in text


# ---- error pages ------------------------------------------------------------------------------------


def styled(html: str) -> bool:
    return '<link rel="stylesheet" href="/static/maillage.css">' in html and 'aria-label="' in html and "<h1" in html


async def test_unknown_agreements_records_and_resources_get_a_styled_404(browser: Browser) -> None:
    assert (await browser.login("admin"))[0] == 303
    for path in ("/accords/pas-un-accord", f"/accords/{'0' * 32}", "/catalogue/inconnu/modifier",
                 "/chercher/demander?proprietaire=rien&ressource=x", f"/audit/{'0' * 32}/bundle"):
        status, html, resp = await browser.get(path)
        assert status == 404, path
        assert resp.headers["Content-Type"].startswith("text/html"), path
        assert styled(html) and "Page introuvable" in html and '<html lang="fr">' in html, (path, html[:800])
    status, html, _ = await browser.get("/accords/pas-un-accord?lang=en")
    assert status == 404 and styled(html) and '<html lang="en">' in html
    assert "Page not found" in html and "This node has no agreement with that identifier." in html
    assert "Page introuvable" not in html


async def test_refusals_and_bad_requests_use_the_layout_in_the_requests_language(make_browser: Any) -> None:
    reader = make_browser()
    assert (await reader.login("lucien"))[0] == 303
    token = await reader.csrf("/catalogue")
    status, html, _ = await reader.post("/catalogue?lang=en", {"csrf_token": token, "type": "resource"})
    assert status == 403 and styled(html) and "Access denied" in html and '<html lang="en">' in html

    admin = make_browser()
    assert (await admin.login("admin"))[0] == 303
    token = await admin.csrf("/compte")
    status, html, _ = await admin.post("/compte/reinitialiser?lang=en", {"csrf_token": token, "user_id": "douze"})
    assert status == 400 and styled(html) and "Request not understood" in html
    token = await admin.csrf("/catalogue/nouveau")
    status, html, _ = await admin.post("/catalogue", {"csrf_token": token, "type": "martien"})
    assert status == 400 and styled(html) and "Demande incomprise" in html and "Type de fiche inconnu." in html


async def test_an_address_no_page_answers_gets_the_styled_404_but_machine_paths_do_not(browser: Browser) -> None:
    status, html, resp = await browser.get("/nimporte-quoi?lang=en")
    assert status == 404 and styled(html) and "Page not found" in html and '<html lang="en">' in html
    status, body, resp = await browser.get("/api/v1/nimporte-quoi")
    assert status in (401, 404) and not resp.headers.get("Content-Type", "").startswith("text/html")
    status, body, resp = await browser.get("/fed/v1/nimporte-quoi")
    assert status == 404 and not resp.headers.get("Content-Type", "").startswith("text/html")
