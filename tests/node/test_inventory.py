"""Inventory spreadsheet import (node/inventory.py) and the demo sample data (node/sample_data.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from node.inventory import MAX_BYTES, MAX_ROWS, InventoryResult, RowError, parse_inventory
from node.sample_data import ASSOCIATIONS
from protocol.identity import SigningKey
from protocol.records import RECORD_TYPES, DescriptorBody, ResourceBody
from protocol.schema import parse

RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def excel_fr(*lines: str) -> bytes:
    """A file as French Excel saves "CSV (séparateur : point-virgule)": Windows-1252, CRLF."""
    return "".join(line + "\r\n" for line in lines).encode("cp1252")


def assert_valid(result: InventoryResult) -> None:
    """Every body validates as ResourceBody and is exactly its wire form (no None, nothing added)."""
    for body in result.bodies:
        assert parse(ResourceBody, body).to_wire() == body
        assert None not in body.values()


def reasons(result: InventoryResult) -> dict[int, str]:
    lines = [error.line for error in result.errors]
    assert len(lines) == len(set(lines)), "one error per bad line"
    return {error.line: error.reason for error in result.errors}


# --------------------------------------------------------------------------- formats

FRENCH_EXCEL = excel_fr(
    "Référence;Nature;Désignation;Description;Catégorie;Qté;Unité;Latitude;Longitude;Visibilité;"
    "Conditions;Valeur de remplacement;Devise;Commentaire interne",
    "MB-09;Véhicule;Minibus 9 places;Trafic, 9 places conducteur compris;Transport;1;minibus;"
    "45,775800;4,829700;Public;Permis B depuis 3 ans;32 000,00 €;EUR;garé au gymnase",
    ";Matériel;Chaises pliantes;;Mobilier;120;chaises;;;;;\"1\u00a0250,50 €\";;",
    ";matériel;Sono portable 2 × 500 W;Deux enceintes, table de mixage;Son;1;kit;45,7558;4,8429;privée;"
    "Caution 300 €;2800;;",
    ";Salle;Salle de réunion;;;;;;;;;;;",
    ";Compétence;Comptabilité associative;;Gestion;4;heures par mois;;;;;;;",
    ";autre;Bons d'achat;;;;;;;;;19,99;;",
)


def test_french_excel_export_parses_to_the_exact_bodies() -> None:
    with pytest.raises(UnicodeDecodeError):
        FRENCH_EXCEL.decode("utf-8")  # really Windows-1252, not UTF-8 in disguise
    result = parse_inventory(FRENCH_EXCEL)
    assert result.errors == []
    assert result.bodies == [
        {
            "id": "MB-09",
            "kind": "vehicle",
            "title": "Minibus 9 places",
            "description": "Trafic, 9 places conducteur compris",
            "category": "Transport",
            "quantity": 1,
            "unit": "minibus",
            "location": {"lat": 45_775_800, "lon": 4_829_700},
            "visibility": "public",
            "conditions": "Permis B depuis 3 ans",
            "replacement_value": {"amount": 3_200_000, "currency": "EUR"},
        },
        {
            "id": "chaises-pliantes",
            "kind": "equipment",
            "title": "Chaises pliantes",
            "category": "Mobilier",
            "quantity": 120,
            "unit": "chaises",
            "replacement_value": {"amount": 125_050, "currency": "EUR"},
        },
        {
            "id": "sono-portable-2-500-w",
            "kind": "equipment",
            "title": "Sono portable 2 × 500 W",
            "description": "Deux enceintes, table de mixage",
            "category": "Son",
            "quantity": 1,
            "unit": "kit",
            "location": {"lat": 45_755_800, "lon": 4_842_900},
            "visibility": "private",
            "conditions": "Caution 300 €",
            "replacement_value": {"amount": 280_000, "currency": "EUR"},
        },
        {"id": "salle-de-reunion", "kind": "space", "title": "Salle de réunion"},
        {
            "id": "comptabilite-associative",
            "kind": "skill",
            "title": "Comptabilité associative",
            "category": "Gestion",
            "quantity": 4,
            "unit": "heures par mois",
        },
        # 19.99 * 100 is 1998.999… in floating point: the import must not use floats
        {
            "id": "bons-d-achat",
            "kind": "other",
            "title": "Bons d'achat",
            "replacement_value": {"amount": 1999, "currency": "EUR"},
        },
    ]
    assert_valid(result)


def test_utf8_bom_comma_file_with_english_headers() -> None:
    data = (
        "\ufeffID,Kind,Title,Description,Quantity,Unit,Lat,Lng,Visibility,Replacement_Value,Currency\r\n"
        'van-1,vehicle,Cargo van,"Long wheelbase, 12 m³\nroof rack",1,van,45.7686,4.880010,private,"1,250.50",eur\r\n'
        "room-a,space,Meeting room,,,,,,public,,\r\n"
        'bike,vehicle,Vélo cargo électrique,,2,bikes,-0.000010,4.000010,,"1\u202f999,00\u00a0€",\r\n'
        "broken,gadget,Thing,,,,,,,,\r\n"
    ).encode("utf-8")
    result = parse_inventory(data)
    assert result.bodies == [
        {
            "id": "van-1",
            "kind": "vehicle",
            "title": "Cargo van",
            "description": "Long wheelbase, 12 m³\nroof rack",
            "quantity": 1,
            "unit": "van",
            "location": {"lat": 45_768_600, "lon": 4_880_010},
            "visibility": "private",
            "replacement_value": {"amount": 125_050, "currency": "EUR"},
        },
        {"id": "room-a", "kind": "space", "title": "Meeting room", "visibility": "public"},
        {
            "id": "bike",
            "kind": "vehicle",
            "title": "Vélo cargo électrique",
            "quantity": 2,
            "unit": "bikes",
            # float(4.000010) * 1e6 truncates to 4000009: Decimal is exact
            "location": {"lat": -10, "lon": 4_000_010},
            "replacement_value": {"amount": 199_900, "currency": "EUR"},
        },
    ]
    # the quoted line break does not shift the line numbers a spreadsheet shows
    assert [(e.line, e.reason.split(":")[0]) for e in result.errors] == [(5, "Kind")]
    assert_valid(result)


@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"])
def test_line_endings_and_no_trailing_newline(line_end: str) -> None:
    text = line_end.join(["titre;quantité", "Tables;20", "", "Bancs;x"])
    result = parse_inventory(text.encode())
    assert [b["title"] for b in result.bodies] == ["Tables"]
    assert [e.line for e in result.errors] == [4]


def test_tab_separated_utf16_excel_unicode_text() -> None:
    data = "Titre\tType\tQuantité\r\nVidéoprojecteur\tmatériel\t2\r\n".encode("utf-16")
    result = parse_inventory(data)
    assert result.errors == []
    assert result.bodies == [{"id": "videoprojecteur", "kind": "equipment", "title": "Vidéoprojecteur", "quantity": 2}]


def test_header_names_are_case_accent_and_punctuation_insensitive() -> None:
    data = excel_fr(
        "  IDENTIFIANT ;TYPE;NOM;CATEGORIE;QTE.;UNITE;LAT;LON;VISIBILITE;VALEUR (€);DEVISE",
        "x1;VÉHICULE;Remorque;Transport;2;remorques;45,1;4,2;PRIVÉ;900;eur",
    )
    result = parse_inventory(data)
    assert result.errors == []
    assert result.bodies == [
        {
            "id": "x1",
            "kind": "vehicle",
            "title": "Remorque",
            "category": "Transport",
            "quantity": 2,
            "unit": "remorques",
            "location": {"lat": 45_100_000, "lon": 4_200_000},
            "visibility": "private",
            "replacement_value": {"amount": 90_000, "currency": "EUR"},
        }
    ]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("matériel", "equipment"),
        ("Équipement", "equipment"),
        ("véhicule", "vehicle"),
        ("local", "space"),
        ("Salle", "space"),
        ("espace", "space"),
        ("compétence", "skill"),
        ("autre", "other"),
        ("", "other"),  # no kind given: "other", never a guess
    ],
)
def test_french_kinds(kind: str, expected: str) -> None:
    result = parse_inventory(excel_fr("titre;type", f"Chose;{kind}"))
    assert result.errors == []
    assert result.bodies[0]["kind"] == expected


def test_unknown_columns_are_ignored() -> None:
    result = parse_inventory(excel_fr("Titre;Numéro de série;Date d'achat", "Perceuse;AB-123;12/03/2021"))
    assert result.errors == []
    assert result.bodies == [{"id": "perceuse", "kind": "other", "title": "Perceuse"}]


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("cell", "amount"),
    [
        ("1 250,50 €", 125_050),
        ("1\u00a0250,50\u00a0€", 125_050),
        ("1\u202f250,50", 125_050),
        ("1250.5", 125_050),
        ("1250,5", 125_050),
        ("1.250,50", 125_050),
        ("1,250.50", 125_050),
        ("1 000 000", 100_000_000),
        ("€12", 1200),
        ("12 euros", 1200),
        ("0,29", 29),
        ("0", 0),
    ],
)
def test_replacement_value_formats_become_exact_cents(cell: str, amount: int) -> None:
    result = parse_inventory(f'titre;valeur\nX;"{cell}"\n'.encode())
    assert result.errors == []
    assert result.bodies[0]["replacement_value"] == {"amount": amount, "currency": "EUR"}


@pytest.mark.parametrize(
    ("cell", "currency", "fragment"),
    [
        ("-5", "", "negative"),
        ("−5 €", "", "negative"),
        ("12,555", "", "more than 2 decimals"),
        ("1.250", "", "more than 2 decimals"),  # ambiguous 1.25 / 1250: refused, never guessed
        ("12,5", "XOF", "more than 0 decimals"),  # CFA franc has no minor unit
        ("12 €", "CHF", "currency"),
        ("douze", "", "not an amount"),
        ("1 2", "", "not an amount"),
        ("12", "euro-ish", "currency"),
    ],
)
def test_bad_replacement_values_are_refused(cell: str, currency: str, fragment: str) -> None:
    result = parse_inventory(f"titre;valeur;devise\nX;{cell};{currency}\n".encode())
    assert result.bodies == []
    assert len(result.errors) == 1 and result.errors[0].line == 2
    assert fragment in result.errors[0].reason


def test_currency_minor_units() -> None:
    result = parse_inventory("titre;valeur;devise\nA;15 000;XOF\nB;1,5;TND\nC;3;usd\n".encode())
    assert result.errors == []
    assert [b["replacement_value"] for b in result.bodies] == [
        {"amount": 15_000, "currency": "XOF"},
        {"amount": 1_500, "currency": "TND"},
        {"amount": 300, "currency": "USD"},
    ]


@pytest.mark.parametrize(
    ("lat", "lon", "location"),
    [
        ("45,764043", "4,835659", {"lat": 45_764_043, "lon": 4_835_659}),
        ("-90", "180", {"lat": -90_000_000, "lon": 180_000_000}),
        ("0,000001", "-0,000001", {"lat": 1, "lon": -1}),
        ("45.76404321350923", "4.8356590", {"lat": 45_764_043, "lon": 4_835_659}),  # rounded, not truncated
        ("45,7640435", "4,8356585", {"lat": 45_764_044, "lon": 4_835_658}),  # half to even
    ],
)
def test_coordinates_become_exact_micro_degrees(lat: str, lon: str, location: dict[str, int]) -> None:
    result = parse_inventory(excel_fr("titre;latitude;longitude", f"X;{lat};{lon}"))
    assert result.errors == []
    assert result.bodies[0]["location"] == location


@pytest.mark.parametrize(
    ("lat", "lon", "column"),
    [
        ("95", "4", "latitude"),
        ("-90,000001", "4", "latitude"),
        ("45", "180,5", "longitude"),
        ("45°45'N", "4", "latitude"),
        ("nan", "4", "latitude"),
        ("1e1", "4", "latitude"),
        ("45", "", "longitude"),
    ],
)
def test_bad_coordinates_are_refused(lat: str, lon: str, column: str) -> None:
    result = parse_inventory(excel_fr("Titre;Latitude;Longitude", f"X;{lat};{lon}"))
    assert result.bodies == []
    assert [e.line for e in result.errors] == [2]
    assert result.errors[0].reason.lower().startswith(column)


@pytest.mark.parametrize("cell", ["0", "-2", "2,5", "1.000", "beaucoup", "1000000001"])
def test_bad_quantities_are_refused(cell: str) -> None:
    result = parse_inventory(excel_fr("titre;quantité", f"X;{cell}"))
    assert result.bodies == []
    assert result.errors[0].reason.startswith("quantité (quantity):")


@pytest.mark.parametrize(("cell", "quantity"), [("12", 12), ("1 200", 1200), ("12,00", 12), ("1\u00a0000", 1000)])
def test_quantities(cell: str, quantity: int) -> None:
    result = parse_inventory(excel_fr("titre;quantité", f"X;{cell}"))
    assert result.errors == []
    assert result.bodies[0]["quantity"] == quantity


# --------------------------------------------------------------------------- bad rows


def test_bad_rows_are_reported_with_their_line_and_good_rows_kept() -> None:
    data = excel_fr(
        "Référence;Type;Désignation;Qté;Latitude;Longitude;Valeur de remplacement",  # 1
        "T-1;matériel;Tables pliantes;20;;;",  # 2 good
        "T-2;fusée;Fusée;1;;;",  # 3 bad kind
        "T-3;matériel;Barnum;quatre;;;",  # 4 non-numeric quantity
        "",  # 5 empty: skipped, still counted
        "T-4;salle;Salle;1;95;4,8;",  # 6 latitude out of range
        "T-5;matériel;Sono;1;;;-300 €",  # 7 negative value
        ";;;;;;",  # 8 empty cells only: skipped
        "T-6;matériel;Micro;1;;;12,555",  # 9 three decimals
        "T-7;matériel;;1;;;",  # 10 empty title
        "T-1;matériel;Autres tables;5;;;",  # 11 duplicate id (of line 2)
        "T-8;véhicule;Remorque;1;45,7;4,8;350,00 €",  # 12 good
        "T-9;matériel;Chose;1;;;;en trop",  # 13 a cell beyond the header
    )
    result = parse_inventory(data)
    assert [b["id"] for b in result.bodies] == ["T-1", "T-8"]
    found = reasons(result)
    assert sorted(found) == [3, 4, 6, 7, 9, 10, 11, 13]
    assert found[3].startswith("Type (kind): unknown kind 'fusée'")
    assert found[4].startswith("Qté (quantity): 'quatre' is not a whole number")
    assert found[6].startswith("Latitude: '95' is out of range")
    assert found[7].startswith("Valeur de remplacement (replacement_value): '-300 €' is negative")
    assert found[9].startswith("Valeur de remplacement (replacement_value): '12,555' has more than 2 decimals")
    assert found[10].startswith("Désignation (title): empty")
    assert found[11] == "Référence (id): 'T-1' is already used on line 2"
    assert "beyond the last column" in found[13]
    assert_valid(result)


def test_every_problem_of_a_row_is_reported_at_once() -> None:
    result = parse_inventory(excel_fr("titre;type;quantité;visibilité", "X;fusée;zéro;secret"))
    (error,) = result.errors
    assert error.line == 2
    assert [part.split(":")[0] for part in error.reason.split("; ")] == [
        "type (kind)",
        "quantité (quantity)",
        "visibilité (visibility)",
    ]


def test_too_long_and_invalid_id_are_refused_with_the_column_named() -> None:
    result = parse_inventory(
        excel_fr("id;titre;unité", "ok;" + "x" * 201 + ";u", "N°12;Chose;u", "b;Chose;" + "u" * 33)
    )
    found = reasons(result)
    assert found[2].startswith("titre (title): too long (201 characters, at most 200)")
    assert found[3].startswith("id: 'N°12' is not a valid identifier")
    assert found[4].startswith("unité (unit): too long")


def test_malformed_csv_row_is_reported_and_the_others_kept() -> None:
    data = excel_fr('titre;type', 'A;matériel', '"Grande" salle;local', 'B;matériel')
    result = parse_inventory(data)
    assert [b["title"] for b in result.bodies] == ["A", "B"]
    assert [e.line for e in result.errors] == [3]


def test_unclosed_quote_is_reported_not_silently_swallowed() -> None:
    data = excel_fr("titre;description", "A;ok", 'B;"never closed', "C;lost", "D;lost")
    result = parse_inventory(data)
    assert [b["title"] for b in result.bodies] == ["A"]
    assert result.errors == [RowError(3, result.errors[0].reason)]
    assert "never closed" in result.errors[0].reason


# --------------------------------------------------------------------------- ids


def test_generated_ids_are_stable_unique_and_valid() -> None:
    long_title = "Très grande tente de réception pour les fêtes de quartier, modèle à douze pieds, bâches"
    data = excel_fr(
        "référence;titre",
        ";Chaises pliantes",
        ";Chaises  pliantes !",  # same slug: suffixed
        ";Chaises pliantes",
        "chaises-pliantes-3;Chaises (lot du gymnase)",  # explicit id, reserved before generated ones
        ";Œuvre d'art",
        f";{long_title}",
        f";{long_title}",
        ";???",  # nothing to slug: a stable hash-based id
        ";???",
    )
    first = parse_inventory(data)
    second = parse_inventory(data)
    assert first == second
    assert first.errors == []
    ids = [b["id"] for b in first.bodies]
    assert ids[:5] == [
        "chaises-pliantes",
        "chaises-pliantes-2",
        "chaises-pliantes-4",  # -3 is taken by the explicit id below it
        "chaises-pliantes-3",
        "oeuvre-d-art",
    ]
    assert len(ids) == len(set(ids))
    assert all(RECORD_ID.fullmatch(i) and len(i) <= 64 for i in ids)
    assert ids[5].startswith("tres-grande-tente-de-reception") and len(ids[5]) <= 64
    assert ids[6].endswith("-2") and ids[6][:-2] == ids[5][: len(ids[6]) - 2].rstrip("-")
    assert ids[7].startswith("ressource-") and ids[8] == ids[7] + "-2"
    assert_valid(first)


def test_generated_ids_do_not_depend_on_bad_rows_being_fixed() -> None:
    """A bad row keeps its slug, so fixing it later does not renumber the rows after it."""
    broken = parse_inventory(excel_fr("titre;quantité", "Banc;x", "Banc;2"))
    fixed = parse_inventory(excel_fr("titre;quantité", "Banc;1", "Banc;2"))
    assert [b["id"] for b in broken.bodies] == ["banc-2"]
    assert [b["id"] for b in fixed.bodies] == ["banc", "banc-2"]


def test_many_rows_with_one_title_get_numbered_ids_quickly() -> None:
    result = parse_inventory(("titre\n" + "Chaise\n" * MAX_ROWS).encode())
    ids = [b["id"] for b in result.bodies]
    assert ids[:3] == ["chaise", "chaise-2", "chaise-3"] and ids[-1] == f"chaise-{MAX_ROWS}"
    assert len(set(ids)) == MAX_ROWS


# --------------------------------------------------------------------------- whole file


def test_missing_title_column_is_one_error_on_line_1() -> None:
    result = parse_inventory(excel_fr("référence;type;quantité", "a;matériel;1", "b;matériel;2"))
    assert result.bodies == []
    assert len(result.errors) == 1 and result.errors[0].line == 1
    assert "title" in result.errors[0].reason


def test_two_columns_for_the_same_field_are_refused() -> None:
    result = parse_inventory(excel_fr("nom;titre", "a;b"))
    assert result.bodies == [] and [e.line for e in result.errors] == [1]


def test_empty_file_and_header_only() -> None:
    assert parse_inventory(b"").bodies == []
    assert [e.line for e in parse_inventory(b"\r\n\r\n").errors] == [1]
    assert parse_inventory(excel_fr("titre;type")) == InventoryResult([], [])


def test_undecodable_file_is_refused_with_the_line_of_the_bad_byte() -> None:
    data = excel_fr("titre", "Chaise") + b"Caf\x81\r\n"  # 0x81 is unassigned in Windows-1252
    result = parse_inventory(data)
    assert result.bodies == []
    assert [e.line for e in result.errors] == [3]


def test_utf8_file_with_a_stray_windows_1252_byte_is_refused_not_garbled() -> None:
    data = "titre\nVélo\nCafé\n".encode("utf-8") + "Théière\n".encode("cp1252")
    result = parse_inventory(data)
    assert result.bodies == []
    assert [e.line for e in result.errors] == [4]
    assert "mixes encodings" in result.errors[0].reason


def test_oversize_file_is_refused_and_nothing_kept() -> None:
    row = "Chaise pliante;matériel;description " + "x" * 100 + "\n"
    data = ("titre;type;description\n" + row * (MAX_BYTES // len(row) + 1)).encode()
    assert len(data) > MAX_BYTES
    result = parse_inventory(data)
    assert result.bodies == []
    assert len(result.errors) == 1 and "too large" in result.errors[0].reason


def test_too_many_rows_are_refused_and_nothing_kept() -> None:
    rows = "".join(f"Chaise {i}\n" for i in range(MAX_ROWS + 1))
    result = parse_inventory(("titre\n" + rows).encode())
    assert result.bodies == []
    assert result.errors == [RowError(MAX_ROWS + 2, result.errors[0].reason)]
    assert "too many rows" in result.errors[0].reason


def test_exactly_the_row_limit_is_accepted() -> None:
    rows = "".join(f"Chaise {i}\n" for i in range(MAX_ROWS))
    result = parse_inventory(("titre\n\n" + rows).encode())
    assert result.errors == []
    assert len(result.bodies) == MAX_ROWS
    assert len({b["id"] for b in result.bodies}) == MAX_ROWS


# --------------------------------------------------------------------------- sample data


def test_sample_records_validate_against_their_protocol_model() -> None:
    assert len(ASSOCIATIONS) == 3
    for association in ASSOCIATIONS:
        assert 4 <= len(association.records) <= 7
        for record_type, body in association.records:
            model = RECORD_TYPES[record_type]
            assert record_type in ("resource", "offer", "need")
            assert parse(model, body).to_wire() == body
            # the demo waits until every node holds the same records; private ones never leave
            assert body.get("visibility", "public") == "public"


def test_sample_ids_are_unique_and_offers_point_to_own_resources() -> None:
    assert len({a.slug for a in ASSOCIATIONS}) == len(ASSOCIATIONS)
    for association in ASSOCIATIONS:
        ids = [body["id"] for _, body in association.records]
        assert len(ids) == len(set(ids)), association.slug
        resources = {body["id"] for t, body in association.records if t == "resource"}
        for _, body in association.records:
            if "resource" in body:
                assert body["resource"] in resources, (association.slug, body["id"])


def test_sample_associations_make_valid_descriptors_in_lyon() -> None:
    key = SigningKey.from_seed(bytes(32))
    for association in ASSOCIATIONS:
        descriptor: dict[str, Any] = {
            "id": "node",
            "name": association.name,
            "description": association.description,
            "territory": association.territory,
            "location": association.location,
            "contact": association.contact,
            "endpoints": ("http://127.0.0.1:8000",),
            "protocols": (1,),
            "keys": ({"key": key.node_id, "since": 0},),
        }
        parse(DescriptorBody, descriptor)
        assert association.contact.startswith("https://")
        # the Lyon area: roughly 45.6–45.9 N, 4.7–5.1 E
        assert 45_600_000 < association.location["lat"] < 45_900_000
        assert 4_700_000 < association.location["lon"] < 5_100_000


def test_sample_data_has_what_the_demo_search_needs() -> None:
    def find(fragment: str) -> list[tuple[str, dict[str, Any]]]:
        return [(t, b) for a in ASSOCIATIONS for t, b in a.records if fragment in b["title"].lower()]

    assert any(b["kind"] == "vehicle" and "9 places" in b["title"] for _, b in find("minibus"))
    assert find("sono")
    assert any(t == "resource" and b["kind"] == "space" for t, b in find("salle"))
    assert any(b.get("quantity") == 120 for _, b in find("chaises"))
    assert any(b["kind"] == "vehicle" for _, b in find("vélo cargo électrique"))
    assert any(b["kind"] == "vehicle" for _, b in find("frigorifique"))
    assert any(b["kind"] == "skill" for _, b in find("graphisme"))
    assert any(b["kind"] == "skill" for _, b in find("comptabilité associative"))
    assert any(t == "need" for t, _ in find("bénévoles pour la collecte"))
    assert {t for a in ASSOCIATIONS for t, _ in a.records} == {"resource", "offer", "need"}
    for association in ASSOCIATIONS:
        for _, body in association.records:
            value = body.get("replacement_value")
            assert value is None or (isinstance(value["amount"], int) and value["currency"] == "EUR")


def test_the_documented_examples_are_what_the_parser_does() -> None:
    """docs/inventory-import.md shows real output: keep it true."""
    import json
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "inventory-import.md").read_text(encoding="utf-8")
    example, bad = (parse_inventory(block.replace("\n", "\r\n").encode("cp1252"))
                    for block in re.findall(r"```csv\n(.*?)```", doc, re.S))
    assert example.errors == [] and len(example.bodies) == 5
    first = json.loads(re.search(r"```json\n(\{.*?\})\n```", doc, re.S).group(1))  # type: ignore[union-attr]
    assert example.bodies[0] == first
    assert example.bodies[2]["id"] == "salle-de-reunion-du-club-house"
    shown = re.findall(r"^  ligne (\d+) : (.*)$", doc, re.M)
    assert [(str(e.line), e.reason) for e in bad.errors] == shown
    assert [b["id"] for b in bad.bodies] == ["T-1"]
