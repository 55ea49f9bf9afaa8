"""Import an association's inventory spreadsheet (CSV) as resource bodies.

Associations keep their inventory in a spreadsheet, usually French Excel: the
CSV it exports is Windows-1252 (or UTF-8 with a BOM for "CSV UTF-8"), uses
``;`` between cells and ``,`` as the decimal separator. ``parse_inventory``
reads such a file, whatever the encoding, delimiter and header language, and
turns every good row into a plain ``dict`` that validates as
``protocol.records.ResourceBody``. Each bad row becomes a ``RowError`` with
its line number (as the spreadsheet shows it: the header is line 1) and a
reason naming the column; good rows are kept. Problems with the file as a
whole (too large, too many rows, unreadable encoding, no title column) give a
single error and no rows at all.

Numbers are read with ``Decimal``, never ``float``: coordinates become integer
micro-degrees and money integer minor units (cents), exactly.

The columns are documented in ``docs/inventory-import.md``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from protocol.errors import InvalidMessage
from protocol.records import ResourceBody
from protocol.schema import MAX_TEXT, parse

MAX_BYTES = 5 * 1024 * 1024  # 5 MiB
MAX_ROWS = 10_000  # data rows, header and empty lines not counted
DEFAULT_CURRENCY = "EUR"

_MAX_ID = 64
_MAX_TITLE = 200
_MAX_LABEL = 100
_MAX_UNIT = 32
_MAX_QUANTITY = 1_000_000_000
_MAX_AMOUNT = 10**15


@dataclass(frozen=True)
class RowError:
    """A rejected row (or, on the header's line, the whole file) and why."""

    line: int  # 1-based, as a spreadsheet shows it: the header is line 1
    reason: str


@dataclass(frozen=True)
class InventoryResult:
    bodies: list[dict[str, Any]]  # each validates as ResourceBody; absent fields left out
    errors: list[RowError]
    lines: list[int] = field(default_factory=list)  # the line each body came from


# --------------------------------------------------------------------------- text


# Letters NFKD does not decompose but French readers treat as plain letters.
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "ł": "l", "đ": "d"})
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def _fold(text: str) -> str:
    """Lower-case ASCII words separated by single spaces ("Qté." -> "qte").

    Kept here rather than shared with search: generated ids depend on it and
    must not change when search folding evolves.
    """
    text = text.casefold().translate(_LIGATURES)
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_ALNUM.sub(" ", stripped).strip()


# --------------------------------------------------------------------------- columns

# field -> header names accepted, compared after _fold (case, accents, punctuation ignored)
_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "identifiant", "reference", "ref"),
    "kind": ("kind", "type", "nature", "type de ressource"),
    "title": ("title", "titre", "nom", "designation", "intitule", "libelle", "name"),
    "description": ("description", "descriptif"),
    "category": ("category", "categorie", "famille"),
    "quantity": ("quantity", "quantite", "qte", "qty", "nombre"),
    "unit": ("unit", "unite"),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lon", "lng", "long"),
    "visibility": ("visibility", "visibilite"),
    "conditions": ("conditions", "conditions de pret", "conditions d utilisation"),
    "replacement_value": (
        "replacement value",
        "value",
        "valeur de remplacement",
        "valeur",
        "valeur de remplacement eur",
        "valeur de remplacement en euros",
        "valeur eur",
        "valeur en euros",
    ),
    "currency": ("currency", "devise", "monnaie"),
}
_HEADER_TO_FIELD = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
_REQUIRED = ("title",)

_KINDS: dict[str, str] = {}
for _kind, _names in {
    "equipment": ("equipment", "equipments", "equipement", "equipements", "materiel", "materiels"),
    "vehicle": ("vehicle", "vehicles", "vehicule", "vehicules"),
    "space": ("space", "spaces", "room", "rooms", "local", "locaux", "salle", "salles", "espace", "espaces", "lieu"),
    "skill": ("skill", "skills", "competence", "competences", "savoir faire"),
    "other": ("other", "others", "autre", "autres", "divers"),
}.items():
    for _name in _names:
        _KINDS[_name] = _kind
DEFAULT_KIND = "other"

_VISIBILITIES = {
    "public": "public",
    "publique": "public",
    "private": "private",
    "prive": "private",
    "privee": "private",
}

# --------------------------------------------------------------------------- numbers

_SPACES = " \u00a0\u202f\u2009"  # space, no-break space, narrow no-break space, thin space
_MINUS = "-\u2212"  # hyphen-minus and the minus sign
_INTEGER_RE = re.compile(r"(\d{1,3}(?:[" + _SPACES + r"]\d{3})+|\d+)(?:[.,]0{1,2})?")
_DEGREES_RE = re.compile(r"[+-]?\d+(?:[.,]\d+)?")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")
# ISO 4217 currencies whose minor unit is not the cent (2 decimals is the default).
_MINOR_UNITS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip


class _CellError(ValueError):
    """A cell that cannot be read; the message names no column (the caller adds it)."""


def _parse_quantity(text: str) -> int:
    match = _INTEGER_RE.fullmatch(text)
    if match is None:
        raise _CellError(f"{text!r} is not a whole number")
    value = int(re.sub(f"[{_SPACES}]", "", match.group(1)))
    if value < 1:
        raise _CellError("must be at least 1")
    if value > _MAX_QUANTITY:
        raise _CellError(f"must be at most {_MAX_QUANTITY:,}".replace(",", " "))
    return value


def _parse_degrees(text: str, limit: int) -> int:
    """Decimal degrees ("45,7640" or "45.7640") -> integer micro-degrees, exactly."""
    cleaned = text.replace("\u2212", "-").rstrip("°").strip()
    if _DEGREES_RE.fullmatch(cleaned) is None:
        raise _CellError(f"{text!r} is not a number of decimal degrees (e.g. 45,7640)")
    degrees = Decimal(cleaned.replace(",", "."))
    if abs(degrees) > limit:
        raise _CellError(f"{text!r} is out of range (-{limit} to {limit})")
    # Beyond six decimals (a tenth of a metre) round to the nearest micro-degree.
    return int((degrees * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


# A currency sign or code written before or after an amount: "€", "EUR", "euros", "CHF".
_CURRENCY_WORD = r"(€|[Ee][Uu][Rr](?:[Oo][Ss]?)?|[A-Z]{3})"
_CURRENCY_BEFORE = re.compile(r"^" + _CURRENCY_WORD + r"\s*(?=[\d+\-\u2212])")
_CURRENCY_AFTER = re.compile(r"(?<=\d)\s*" + _CURRENCY_WORD + r"$")


def _split_currency(text: str) -> tuple[str, str | None]:
    """Take a currency sign or code off either end of an amount: "1 250,50 €" -> ("1 250,50", "EUR")."""
    currency: str | None = None
    rest = text.strip()
    for pattern in (_CURRENCY_BEFORE, _CURRENCY_AFTER):
        match = pattern.search(rest)
        if match is None:
            continue
        found = match.group(1).upper()
        found = "EUR" if found in ("€", "EURO", "EUROS") else found
        if currency is not None and currency != found:
            raise _CellError(f"{text!r} names two currencies")
        currency = found
        rest = (rest[: match.start()] + rest[match.end() :]).strip()
    return rest, currency


def _parse_amount(text: str) -> tuple[Decimal, str | None]:
    """An amount as written in French or English: "1 250,50 €", "1250.5", "1,250.50".

    Returns the exact decimal value and the currency the cell names, if any.
    """
    number, currency = _split_currency(text)
    if number[:1] in _MINUS:
        raise _CellError(f"{text!r} is negative")
    number = number.removeprefix("+")
    separators = [c for c in number if c in ".,"]
    decimal_mark = None
    if separators:
        last = separators[-1]
        # "1.250,50" / "1,250.50": the last mark is the decimal one; "1.250.000": only thousands.
        if len(set(separators)) == 2 or separators.count(last) == 1:
            decimal_mark = last
    integer_part, _, fraction = number.rpartition(decimal_mark) if decimal_mark else (number, "", "")
    thousands = "[" + _SPACES + "'’" + "".join(sorted({".", ","} - {decimal_mark or ""})) + "]"
    if not re.fullmatch(r"\d{1,3}(?:" + thousands + r"\d{3})+|\d+", integer_part) or not re.fullmatch(
        r"\d*", fraction
    ) or (decimal_mark and not fraction):
        raise _CellError(f"{text!r} is not an amount (e.g. 1 250,50)")
    digits = re.sub(thousands, "", integer_part)
    return Decimal(f"{digits}.{fraction}" if fraction else digits), currency


def _parse_currency(text: str) -> str:
    folded = _fold(text)
    if text.strip() == "€" or folded in ("euro", "euros"):
        return "EUR"
    code = text.strip().upper()
    if _CURRENCY_RE.fullmatch(code) is None:
        raise _CellError(f"{text!r} is not an ISO 4217 currency code (e.g. EUR)")
    return code


# --------------------------------------------------------------------------- ids

_RECORD_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _slug(title: str) -> str:
    """A record id from a title: "Vélo cargo électrique" -> "velo-cargo-electrique"."""
    slug = _fold(title).replace(" ", "-")[:_MAX_ID].rstrip("-")
    if not slug:  # a title with no Latin letter or digit
        slug = "ressource-" + hashlib.sha256(title.encode()).hexdigest()[:8]
    return slug


def _unique(base: str, taken: set[str], next_suffix: dict[str, int]) -> str:
    """``base``, or ``base-2``, ``base-3``… whichever is free (``next_suffix`` remembers where to resume)."""
    candidate, n = base, next_suffix.get(base, 2)
    if n > 2 or candidate in taken:
        while True:
            suffix = f"-{n}"
            candidate = base[: _MAX_ID - len(suffix)].rstrip("-") + suffix
            n += 1
            if candidate not in taken:
                break
    next_suffix[base] = n
    return candidate


# --------------------------------------------------------------------------- file


_UTF8_ACCENT = re.compile(rb"\xc3[\x80-\xbf]|\xe2\x82\xac")  # UTF-8 for À-ÿ, and €


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel "Unicode text"
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise _FileError(1, f"the file starts as UTF-16 but is not valid UTF-16: {exc.reason}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # UTF-8 "é" or "€" read as Windows-1252 is "Ã©" or "â‚¬": never meant in real text. A file
        # holding both is a UTF-8 file with a few stray bytes; guessing would garble every accent.
        if _UTF8_ACCENT.search(data) is not None:
            line = data.count(b"\n", 0, exc.start) + 1
            raise _FileError(
                line, f"the file mixes encodings: line {line} is not UTF-8 while other lines are; "
                      "save it again as CSV UTF-8"
            ) from None
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _FileError(
            line, f"the file is neither UTF-8 nor Windows-1252 (unreadable byte 0x{data[exc.start]:02x})"
        ) from None


class _FileError(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.error = RowError(line, reason)


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the header line into the most cells; ";" on a tie (French Excel)."""
    first = next((line for line in io.StringIO(text, newline="") if line.strip()), "")
    best, best_cells = ";", 1
    for delimiter in (";", ",", "\t"):
        cells = len(next(csv.reader([first], delimiter=delimiter), []))
        if cells > best_cells:
            best, best_cells = delimiter, cells
    return best


@dataclass(frozen=True)
class _Row:
    line: int
    cells: dict[str, str]  # field -> stripped, non-empty cell
    extra: int  # non-empty cells beyond the header


def _read_rows(text: str) -> tuple[dict[str, str], list[_Row], list[RowError]]:
    """Header (field -> header as written), data rows, and malformed-CSV errors."""
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    columns: list[str | None] | None = None
    headers: dict[str, str] = {}
    rows: list[_Row] = []
    errors: list[RowError] = []
    line = 0
    while True:
        line += 1  # a spreadsheet row: a cell holding a line break does not shift the count
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if "end of data" in str(exc):
                errors.append(RowError(line, "a quoted cell opened on this line is never closed; "
                                             "the rest of the file could not be read"))
                break
            errors.append(RowError(line, f"malformed CSV ({exc}); a quote inside a quoted cell is written \"\""))
            continue
        values = [unicodedata.normalize("NFC", value.strip(_SPACES + "\t\r\n")) for value in record]
        if not any(values):
            continue
        if columns is None:
            columns, headers = _read_header(values, line)
            continue
        if len(rows) == MAX_ROWS:
            raise _FileError(line, f"too many rows: at most {MAX_ROWS:,} can be imported at once".replace(",", " "))
        cells = {field: value for field, value in zip(columns, values) if field is not None and value}
        extra = sum(1 for value in values[len(columns) :] if value)
        rows.append(_Row(line, cells, extra))
    if columns is None:
        raise _FileError(1, "the file is empty: the first line must name the columns (e.g. titre;type;quantité)")
    return headers, rows, errors


def _read_header(values: list[str], line: int) -> tuple[list[str | None], dict[str, str]]:
    columns: list[str | None] = []
    headers: dict[str, str] = {}
    for value in values:
        field = _HEADER_TO_FIELD.get(_fold(value))
        if field is not None and field in headers:
            raise _FileError(line, f"columns {headers[field]!r} and {value!r} both mean {field}; keep one")
        if field is not None:
            headers[field] = value
        columns.append(field)  # unknown columns are ignored
    missing = [name for name in _REQUIRED if name not in headers]
    if missing:
        accepted = ", ".join(_ALIASES[missing[0]])
        raise _FileError(line, f"no {missing[0]} column: the header line must name one ({accepted})")
    return columns, headers


# --------------------------------------------------------------------------- rows


class _RowBuilder:
    """Builds one body from a row, collecting every problem instead of stopping at the first."""

    def __init__(self, row: _Row, headers: dict[str, str]) -> None:
        self.row = row
        self.headers = headers
        self.problems: list[str] = []

    def column(self, field: str) -> str:
        """The column as the file names it, with the field it stands for: "Qté (quantity)"."""
        header = self.headers.get(field, field)
        return header if _fold(header) == _fold(field) else f"{header} ({field})"

    def fail(self, field: str, reason: str) -> None:
        self.problems.append(f"{self.column(field)}: {reason}")

    def text(self, field: str, max_length: int, body: dict[str, Any]) -> None:
        value = self.row.cells.get(field)
        if value is None:
            return
        if len(value) > max_length:
            self.fail(field, f"too long ({len(value)} characters, at most {max_length})")
            return
        body[field] = value

    def build(self, record_id: str) -> dict[str, Any]:
        cells = self.row.cells
        body: dict[str, Any] = {"id": record_id}

        kind = cells.get("kind")
        if kind is None:
            body["kind"] = DEFAULT_KIND
        elif (mapped := _KINDS.get(_fold(kind))) is not None:
            body["kind"] = mapped
        else:
            self.fail("kind", f"unknown kind {kind!r} (matériel, véhicule, local, compétence, autre "
                              "or equipment, vehicle, space, skill, other)")

        if "title" not in cells:
            self.fail("title", "empty; every row needs a title")
        self.text("title", _MAX_TITLE, body)
        self.text("description", MAX_TEXT, body)
        self.text("category", _MAX_LABEL, body)

        if (quantity := cells.get("quantity")) is not None:
            try:
                body["quantity"] = _parse_quantity(quantity)
            except _CellError as exc:
                self.fail("quantity", str(exc))
        self.text("unit", _MAX_UNIT, body)

        self._location(body)

        if (visibility := cells.get("visibility")) is not None:
            if (mapped := _VISIBILITIES.get(_fold(visibility))) is not None:
                body["visibility"] = mapped
            else:
                self.fail("visibility", f"{visibility!r} is neither public nor privé (private)")

        self.text("conditions", MAX_TEXT, body)
        self._replacement_value(body)
        return body

    def _location(self, body: dict[str, Any]) -> None:
        lat_text, lon_text = self.row.cells.get("latitude"), self.row.cells.get("longitude")
        if lat_text is None and lon_text is None:
            return
        location: dict[str, int] = {}
        for column, text, limit, key in (("latitude", lat_text, 90, "lat"), ("longitude", lon_text, 180, "lon")):
            if text is None:
                other = "longitude" if column == "latitude" else "latitude"
                self.fail(column, f"missing while {other} is given; give both or neither")
                continue
            try:
                location[key] = _parse_degrees(text, limit)
            except _CellError as exc:
                self.fail(column, str(exc))
        if len(location) == 2:
            body["location"] = location

    def _replacement_value(self, body: dict[str, Any]) -> None:
        text = self.row.cells.get("replacement_value")
        currency_text = self.row.cells.get("currency")
        currency = DEFAULT_CURRENCY
        if currency_text is not None:
            try:
                currency = _parse_currency(currency_text)
            except _CellError as exc:
                self.fail("currency", str(exc))
                return
        if text is None:
            return  # a currency alone says nothing
        try:
            amount, named = _parse_amount(text)
        except _CellError as exc:
            self.fail("replacement_value", str(exc))
            return
        if named is not None and currency_text is not None and named != currency:
            self.fail("replacement_value", f"{text!r} is in {named} but the currency column says {currency}")
            return
        currency = named or currency
        if _CURRENCY_RE.fullmatch(currency) is None:
            self.fail("replacement_value", f"{text!r}: {currency!r} is not an ISO 4217 currency code")
            return
        places = _MINOR_UNITS.get(currency, 2)
        if -amount.as_tuple().exponent > places:  # type: ignore[operator]
            self.fail("replacement_value", f"{text!r} has more than {places} decimals "
                                                  "(write thousands with a space: 1 250,50)")
            return
        minor = int(amount.scaleb(places))
        if minor > _MAX_AMOUNT:
            self.fail("replacement_value", f"{text!r} is too large")
            return
        body["replacement_value"] = {"amount": minor, "currency": currency}


# field of ResourceBody -> inventory column, to name the column in a schema error
_BODY_FIELD_COLUMN = {"location": "latitude", "replacement_value": "replacement_value"}


def parse_inventory(data: bytes) -> InventoryResult:
    """Read an inventory CSV: good rows as ResourceBody dicts, bad rows as errors with their line."""
    if len(data) > MAX_BYTES:
        return InventoryResult([], [RowError(1, f"the file is too large ({len(data):,} bytes; at most "
                                                f"{MAX_BYTES:,})".replace(",", " "))])
    try:
        text = _decode(data)
        headers, rows, errors = _read_rows(text)
    except _FileError as exc:
        return InventoryResult([], [exc.error])

    # Explicit ids are reserved first, so a generated id never takes one a later row names.
    reserved = {cell for row in rows if (cell := row.cells.get("id")) and _RECORD_ID_RE.fullmatch(cell)}
    explicit_lines: dict[str, int] = {}
    taken: set[str] = set(reserved)
    next_suffix: dict[str, int] = {}
    bodies: list[tuple[int, dict[str, Any]]] = []
    for row in rows:
        builder = _RowBuilder(row, headers)
        explicit = row.cells.get("id")
        if explicit is not None:
            record_id = explicit
            if _RECORD_ID_RE.fullmatch(explicit) is None:
                builder.fail("id", f"{explicit!r} is not a valid identifier (up to {_MAX_ID} letters, digits, "
                                   "'.', '_' or '-', starting with a letter or digit)")
            elif explicit in explicit_lines:
                builder.fail("id", f"{explicit!r} is already used on line {explicit_lines[explicit]}")
            else:
                explicit_lines[explicit] = row.line
        else:
            record_id = _unique(_slug(row.cells.get("title", "")), taken, next_suffix)
            if "title" in row.cells:
                taken.add(record_id)
        if row.extra:
            builder.problems.append(
                f"{row.extra} cell(s) beyond the last column; a value containing the delimiter must be quoted"
            )
        body = builder.build(record_id)
        if not builder.problems:
            try:
                parse(ResourceBody, body)
            except InvalidMessage as exc:
                field = str(exc.details.get("problems", [{}])[0].get("field", "")).split(".")[0]
                column = builder.column(_BODY_FIELD_COLUMN.get(field, field)) if field else "row"
                builder.problems.append(f"{column}: {exc.message.split(': ', 2)[-1]}")
        if builder.problems:
            errors.append(RowError(row.line, "; ".join(builder.problems)))
        else:
            bodies.append((row.line, body))
    errors.sort(key=lambda error: error.line)
    return InventoryResult([body for _, body in bodies], errors, [line for line, _ in bodies])


__all__ = ["MAX_BYTES", "MAX_ROWS", "InventoryResult", "RowError", "parse_inventory"]
