"""The compiled catalogues (.mo) match their sources (.po): run `python -m node.web.i18n` after editing."""

from __future__ import annotations

import gettext

import pytest
from babel.messages.pofile import read_po

from node.web.i18n import LANGUAGES, LOCALES


@pytest.mark.parametrize("lang", LANGUAGES)
def test_mo_files_are_compiled_from_the_po_files(lang: str) -> None:
    folder = LOCALES / lang / "LC_MESSAGES"
    with (folder / "messages.po").open("rb") as f:
        source = read_po(f, locale=lang)
    with (folder / "messages.mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    for message in source:
        if not message.id or not message.string or message.fuzzy:
            continue
        if message.pluralizable:
            for index, form in enumerate(message.string):
                if form:
                    assert compiled._catalog[(message.id[0], index)] == form, message.id  # type: ignore[attr-defined]
        else:
            assert compiled.gettext(message.id) == message.string, (
                f"{lang}: {message.id!r} differs in messages.mo: run `python -m node.web.i18n --compile-only`")
    translated = {m.id for m in source if m.id and m.string and not m.fuzzy}
    assert set(k for k in compiled._catalog if isinstance(k, str) and k) <= translated  # type: ignore[attr-defined]
