"""Accent- and case-folding for search: "Vélo électrique" and "velo electrique" match."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^0-9a-z]+")
# Combining marks of Latin scripts (accents, cedilla…) as NFKD separates them.
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
# Letters NFKD does not decompose but French (and neighbours) readers treat as plain.
_LIGATURES = {"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l", "đ": "d"}
_LIGATURE_RE = re.compile("[" + "".join(_LIGATURES) + "]")


def fold(text: str) -> str:
    """Lower-case ASCII words separated by single spaces."""
    text = text.casefold()
    if not text.isascii():
        text = _LIGATURE_RE.sub(lambda m: _LIGATURES[m.group()], text)
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return _NON_WORD.sub(" ", text).strip()


def words(text: str) -> list[str]:
    folded = fold(text)
    return folded.split() if folded else []
