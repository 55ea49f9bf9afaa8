"""Sample data for ``maillage demo``: three associations of the Lyon area.

A food bank in Villeurbanne, an omnisports club on the Croix-Rousse plateau and
a youth centre (MJC) at la Guillotière. The associations are fictional, their
neighbourhoods and coordinates are real (approximate), their contacts use the
reserved ``example.org`` domain. What they publish complements each other so a
demo search finds something useful: the club needs a sound system the MJC
lends, the MJC needs the club's minibus, the food bank needs volunteers.

Each record is ``(type, body)`` with a body valid for
``protocol.records.RECORD_TYPES[type]``: ``ResourceBody`` for ``"resource"``,
``IntentBody`` for ``"offer"`` and ``"need"``. As everywhere in the protocol,
no record names a person (GDPR): contact goes through the association.
Money is in euro cents, coordinates in integer micro-degrees. Every record is
public (no ``visibility: private``): the demo checks that its three nodes end
up holding the same catalogue, and private records are never served to peers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SampleAssociation:
    slug: str  # also a good node home directory name
    name: str
    description: str
    territory: str
    location: dict[str, int]  # micro-degrees (WGS 84)
    contact: str  # the association's public contact, never a person's
    records: list[tuple[str, dict[str, Any]]]  # (record type, body)


def _eur(euros: int) -> dict[str, Any]:
    return {"amount": euros * 100, "currency": "EUR"}


# --------------------------------------------------------------------------- food bank

_VILLEURBANNE = {"lat": 45_768_600, "lon": 4_880_100}  # Gratte-Ciel, Villeurbanne

FOOD_BANK = SampleAssociation(
    slug="entraide-alimentaire-villeurbanne",
    name="Entraide alimentaire de Villeurbanne",
    description=(
        "Banque alimentaire de quartier : collecte, tri et redistribution de denrées aux familles "
        "orientées par les services sociaux et les centres sociaux de Villeurbanne."
    ),
    territory="Villeurbanne (Rhône)",
    location=dict(_VILLEURBANNE),
    contact="https://entraide-alimentaire-villeurbanne.example.org/contact",
    records=[
        (
            "resource",
            {
                "id": "camion-frigorifique",
                "kind": "vehicle",
                "title": "Camion frigorifique 3,5 t (12 m³)",
                "description": (
                    "Fourgon caisse frigorifique de 0 à +4 °C, hayon élévateur, 12 m³ utiles. "
                    "Se conduit avec le permis B."
                ),
                "category": "transport",
                "quantity": 1,
                "unit": "camion",
                "location": dict(_VILLEURBANNE),
                "visibility": "public",
                "conditions": (
                    "Prêté le week-end pour transporter des denrées ou du matériel ; carburant à la "
                    "charge de l'association emprunteuse ; chaîne du froid à respecter."
                ),
                "replacement_value": _eur(42_000),
            },
        ),
        (
            "resource",
            {
                "id": "velo-cargo-electrique",
                "kind": "vehicle",
                "title": "Vélo cargo électrique",
                "description": (
                    "Biporteur à assistance électrique, caisse isotherme de 200 L, charge utile "
                    "100 kg : idéal pour les livraisons en centre-ville."
                ),
                "category": "transport",
                "quantity": 2,
                "unit": "vélos",
                "location": dict(_VILLEURBANNE),
                "visibility": "public",
                "conditions": "Réservation 48 h à l'avance ; prise en main de 30 minutes au premier prêt.",
                "replacement_value": _eur(6_500),
            },
        ),
        (
            "resource",
            {
                "id": "transpalettes",
                "kind": "equipment",
                "title": "Transpalette manuel 2 500 kg",
                "category": "manutention",
                "quantity": 3,
                "unit": "transpalettes",
                "location": dict(_VILLEURBANNE),
                "replacement_value": _eur(450),
            },
        ),
        (
            "resource",
            {
                "id": "chambre-froide",
                "kind": "space",
                "title": "Chambre froide positive (15 m³)",
                "description": "Stockage des produits frais entre la collecte et la distribution.",
                "category": "stockage",
                "quantity": 1,
                "unit": "chambre froide",
                "location": dict(_VILLEURBANNE),
                "conditions": "Dépannage ponctuel pour une association voisine, sur demande.",
            },
        ),
        (
            "resource",
            {
                "id": "comptabilite-associative",
                "kind": "skill",
                "title": "Comptabilité associative",
                "description": (
                    "Notre équipe de trésoriers bénévoles aide à tenir une comptabilité conforme au "
                    "plan comptable des associations et à préparer les comptes annuels."
                ),
                "category": "gestion",
                "quantity": 4,
                "unit": "heures par mois",
                "location": dict(_VILLEURBANNE),
            },
        ),
        (
            "offer",
            {
                "id": "pret-camion-frigorifique",
                "kind": "vehicle",
                "title": "Prêt du camion frigorifique le week-end",
                "description": "Disponible du vendredi soir au lundi matin, hors semaines de collecte.",
                "category": "transport",
                "resource": "camion-frigorifique",
                "quantity": 1,
                "unit": "camion",
                "location": dict(_VILLEURBANNE),
            },
        ),
        (
            "need",
            {
                "id": "benevoles-collecte",
                "kind": "other",
                "title": "Bénévoles pour la collecte",
                "description": (
                    "Collecte dans les supermarchés de Villeurbanne le dernier week-end de novembre : "
                    "accueil des clients, tri et mise en cartons, créneaux de 2 heures."
                ),
                "category": "bénévolat",
                "quantity": 30,
                "unit": "bénévoles",
                "location": dict(_VILLEURBANNE),
            },
        ),
    ],
)

# --------------------------------------------------------------------------- sports club

_CROIX_ROUSSE = {"lat": 45_775_800, "lon": 4_829_700}  # plateau de la Croix-Rousse, Lyon 4e

SPORTS_CLUB = SampleAssociation(
    slug="croix-rousse-omnisports",
    name="Croix-Rousse Omnisports",
    description=(
        "Club omnisports du plateau : basket, handball, gymnastique et marche nordique, "
        "de l'école de sport aux vétérans."
    ),
    territory="Lyon 4e — Croix-Rousse",
    location=dict(_CROIX_ROUSSE),
    contact="https://croix-rousse-omnisports.example.org/contact",
    records=[
        (
            "resource",
            {
                "id": "minibus-9-places",
                "kind": "vehicle",
                "title": "Minibus 9 places",
                "description": "Minibus 9 places conducteur compris, climatisé, galerie de toit. Permis B.",
                "category": "transport",
                "quantity": 1,
                "unit": "minibus",
                "location": dict(_CROIX_ROUSSE),
                "visibility": "public",
                "conditions": (
                    "Conducteur titulaire du permis B depuis plus de 3 ans ; participation de 0,30 € "
                    "par kilomètre ; plein refait au retour."
                ),
                "replacement_value": _eur(32_000),
            },
        ),
        (
            "resource",
            {
                "id": "chaises-pliantes",
                "kind": "equipment",
                "title": "Chaises pliantes",
                "description": "Chaises pliantes en polypropylène, empilables, transportées sur deux chariots.",
                "category": "mobilier",
                "quantity": 120,
                "unit": "chaises",
                "location": dict(_CROIX_ROUSSE),
                "conditions": "À retirer et rapporter au gymnase ; chaises abîmées remplacées par l'emprunteur.",
                "replacement_value": _eur(120 * 18),
            },
        ),
        (
            "resource",
            {
                "id": "tentes-barnum",
                "kind": "equipment",
                "title": "Tente barnum 3 × 6 m",
                "description": "Structure aluminium, bâches latérales et lests ; montage à quatre en 20 minutes.",
                "category": "événementiel",
                "quantity": 4,
                "unit": "tentes",
                "location": dict(_CROIX_ROUSSE),
                "replacement_value": _eur(4 * 450),
            },
        ),
        (
            "resource",
            {
                "id": "salle-club-house",
                "kind": "space",
                "title": "Salle de réunion du club-house",
                "description": (
                    "25 places assises, écran et tableau blanc, accessible aux "
                    "personnes à mobilité réduite."
                ),
                "category": "salle de réunion",
                "quantity": 1,
                "unit": "salle",
                "location": dict(_CROIX_ROUSSE),
                "conditions": "En semaine de 9 h à 17 h, hors vacances scolaires.",
            },
        ),
        (
            "offer",
            {
                "id": "minibus-en-semaine",
                "kind": "vehicle",
                "title": "Minibus disponible en semaine",
                "description": (
                    "Le minibus sert aux déplacements du week-end ; du lundi au jeudi "
                    "il peut rouler pour vous."
                ),
                "category": "transport",
                "resource": "minibus-9-places",
                "quantity": 1,
                "unit": "minibus",
                "location": dict(_CROIX_ROUSSE),
            },
        ),
        (
            "need",
            {
                "id": "sono-tournoi",
                "kind": "equipment",
                "title": "Sono pour le tournoi de basket de juin",
                "description": "Une sono avec micro sans fil pour l'annonce des matchs, une journée en plein air.",
                "category": "événementiel",
                "quantity": 1,
                "unit": "sono",
                "location": dict(_CROIX_ROUSSE),
            },
        ),
    ],
)

# --------------------------------------------------------------------------- youth centre

_GUILLOTIERE = {"lat": 45_755_800, "lon": 4_842_900}  # la Guillotière, Lyon 7e

YOUTH_CENTRE = SampleAssociation(
    slug="mjc-berges-du-rhone",
    name="MJC des Berges du Rhône",
    description=(
        "Maison des jeunes et de la culture : accueil de loisirs, ateliers (théâtre, musique, "
        "graphisme), accompagnement de projets de jeunes et salles pour les associations du quartier."
    ),
    territory="Lyon 7e — Guillotière",
    location=dict(_GUILLOTIERE),
    contact="https://mjc-berges-du-rhone.example.org/contact",
    records=[
        (
            "resource",
            {
                "id": "sono-portable",
                "kind": "equipment",
                "title": "Sono portable 2 × 500 W",
                "description": (
                    "Deux enceintes actives, table de mixage 8 voies, deux micros sans fil, pieds et "
                    "câbles ; tient dans le coffre d'une voiture."
                ),
                "category": "son et lumière",
                "quantity": 1,
                "unit": "kit",
                "location": dict(_GUILLOTIERE),
                "visibility": "public",
                "conditions": "Chèque de caution de 300 € ; prise en main obligatoire au premier prêt.",
                "replacement_value": _eur(2_800),
            },
        ),
        (
            "resource",
            {
                "id": "salles-de-reunion",
                "kind": "space",
                "title": "Salles de réunion (12 à 30 places)",
                "description": "Trois salles équipées d'un écran et du wifi, au rez-de-chaussée.",
                "category": "salle de réunion",
                "quantity": 3,
                "unit": "salles",
                "location": dict(_GUILLOTIERE),
                "conditions": (
                    "Prêt gratuit en soirée et le samedi aux associations adhérentes ; "
                    "rangement par l'emprunteur."
                ),
            },
        ),
        (
            "resource",
            {
                "id": "salle-polyvalente",
                "kind": "space",
                "title": "Salle polyvalente 80 places",
                "description": "Parquet, scène démontable, office traiteur ; idéale pour une assemblée générale.",
                "category": "salle",
                "quantity": 1,
                "unit": "salle",
                "location": dict(_GUILLOTIERE),
                "conditions": "Sur réservation un mois à l'avance ; participation aux frais de 50 € la soirée.",
            },
        ),
        (
            "resource",
            {
                "id": "videoprojecteurs",
                "kind": "equipment",
                "title": "Vidéoprojecteur et écran portable",
                "category": "audiovisuel",
                "quantity": 2,
                "unit": "kits",
                "location": dict(_GUILLOTIERE),
                "replacement_value": _eur(2 * 650),
            },
        ),
        (
            "resource",
            {
                "id": "graphisme",
                "kind": "skill",
                "title": "Graphisme",
                "description": "L'atelier graphisme réalise affiches, flyers et visuels pour les réseaux sociaux.",
                "category": "communication",
                "quantity": 4,
                "unit": "heures par mois",
                "location": dict(_GUILLOTIERE),
            },
        ),
        (
            "offer",
            {
                "id": "affiches-evenements",
                "kind": "skill",
                "title": "Affiches et flyers pour vos événements",
                "description": (
                    "Une affiche et un flyer par mois pour une association du "
                    "quartier, fichiers prêts à imprimer."
                ),
                "category": "communication",
                "resource": "graphisme",
                "quantity": 4,
                "unit": "heures par mois",
                "location": dict(_GUILLOTIERE),
            },
        ),
        (
            "need",
            {
                "id": "minibus-sorties-ete",
                "kind": "vehicle",
                "title": "Minibus pour les sorties jeunes de l'été",
                "description": (
                    "Sorties à la journée en juillet (Monts du Lyonnais, Grand Parc de "
                    "Miribel), huit jeunes et un animateur."
                ),
                "category": "transport",
                "quantity": 1,
                "unit": "minibus",
                "location": dict(_GUILLOTIERE),
            },
        ),
    ],
)

ASSOCIATIONS: list[SampleAssociation] = [FOOD_BANK, SPORTS_CLUB, YOUTH_CENTRE]

__all__ = ["ASSOCIATIONS", "FOOD_BANK", "SPORTS_CLUB", "YOUTH_CENTRE", "SampleAssociation"]
