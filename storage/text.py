"""Accent- and case-folding for search: "Vélo électrique" and "velo electrique" match."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^0-9a-z]+")
# Letters NFKD does not decompose but French (and neighbours) readers treat as plain.
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l", "đ": "d"})


def fold(text: str) -> str:
    """Lower-case ASCII words separated by single spaces."""
    text = text.casefold().translate(_LIGATURES)
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_WORD.sub(" ", stripped).strip()


def words(text: str) -> list[str]:
    folded = fold(text)
    return folded.split() if folded else []
