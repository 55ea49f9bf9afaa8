"""Languages of the web pages: French by default, English on request (``?lang=en``, kept in a cookie).

Strings are marked in templates (``{% trans %}``, ``_()``) and Python
(``_()`` from the render context), extracted with Babel into
``locales/messages.pot``, translated in ``locales/{fr,en}/LC_MESSAGES/messages.po``
and compiled to ``messages.mo`` beside them. The msgids are the French text:
the French catalogue is nearly empty (plural forms only) and English carries
the translations. Both .po and .mo are committed; ``python -m node.web.i18n``
re-extracts, updates and compiles them, and tests/web/test_i18n.py fails when a
.mo no longer matches its .po.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from aiohttp import web
from babel.support import NullTranslations, Translations

LOCALES = Path(__file__).with_name("locales")
LANGUAGES = ("fr", "en")
DEFAULT = "fr"
COOKIE = "maillage_lang"
DOMAIN = "messages"


def language(request: web.Request) -> str:
    """The page language: ``?lang=`` first, then the cookie, then French."""
    for value in (request.query.get("lang"), request.cookies.get(COOKIE)):
        if value in LANGUAGES:
            return value
    return DEFAULT


@functools.cache
def translations(lang: str) -> NullTranslations:
    found = Translations.load(str(LOCALES), [lang], DOMAIN)
    return found


def compile_catalogues() -> None:
    """Compile every messages.po to messages.mo (Babel's API, same as ``pybabel compile``)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for lang in LANGUAGES:
        folder = LOCALES / lang / "LC_MESSAGES"
        with (folder / f"{DOMAIN}.po").open("rb") as f:
            catalogue = read_po(f, locale=lang)
        with (folder / f"{DOMAIN}.mo").open("wb") as f:
            write_mo(f, catalogue, use_fuzzy=False)
    translations.cache_clear()


def extract_and_update() -> None:
    """Extract the marked strings to messages.pot and merge them into both .po files."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po, write_po

    root = Path(__file__).parent
    template = Catalog(project="maillage", charset="utf-8")
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}}
    for filename, lineno, message, comments, context in extract_from_dir(root, method_map, options):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    with (LOCALES / f"{DOMAIN}.pot").open("wb") as f:
        write_pot = write_po
        write_pot(f, template, omit_header=False, sort_output=True)
    for lang in LANGUAGES:
        path = LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        with path.open("rb") as f:
            catalogue = read_po(f, locale=lang)
        catalogue.update(template, no_fuzzy_matching=True)
        with path.open("wb") as f:
            write_po(f, catalogue, sort_output=True, ignore_obsolete=True, width=120)


if __name__ == "__main__":
    if "--compile-only" not in sys.argv:
        extract_and_update()
    compile_catalogues()
