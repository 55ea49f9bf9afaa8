"""Command-line messages, French first; English when MAILLAGE_LANG or LANG asks for it.

The web interface will use gettext catalogues; the CLI keeps its few dozen
messages here so both languages stay side by side.
"""

from __future__ import annotations

import os

MESSAGES: dict[str, tuple[str, str]] = {
    # key: (français, English)
    "init.done": ("Nœud créé pour « {name} ».", "Node created for “{name}”."),
    "init.id": ("Identifiant du nœud : {node_id}", "Node id: {node_id}"),
    "init.fingerprint": ("Empreinte (à comparer de vive voix) : {fingerprint}", "Fingerprint (compare it by voice): {fingerprint}"),
    "key.rotated": (
        "Clé renouvelée. L'identifiant du nœud ne change pas : {node_id}\n"
        "Nouvelle clé : {new_key} (empreinte {fingerprint}).\n"
        "L'ancienne clé est conservée à côté (node.key.retired-…) : détruisez-la quand les pairs ont reçu le changement.",
        "Key rotated. The node id does not change: {node_id}\n"
        "New key: {new_key} (fingerprint {fingerprint}).\n"
        "The old key is kept beside it (node.key.retired-…): destroy it once peers have the change.",
    ),
    "key.running": (
        "Le nœud est en marche : arrêtez-le avant de renouveler sa clé.",
        "The node is running: stop it before rotating its key.",
    ),
    "init.next": ("Démarrez-le avec : maillage run --home {home}", "Start it with: maillage run --home {home}"),
    "run.listening": ("Nœud « {name} » à l'écoute sur {url} (Ctrl-C pour arrêter)", "Node “{name}” listening on {url} (Ctrl-C to stop)"),
    "run.stopped": ("Nœud arrêté.", "Node stopped."),
    "error.not_running": (
        "Le nœud de {home} ne tourne pas : démarrez-le avec « maillage run --home {home} ».",
        "The node in {home} is not running: start it with “maillage run --home {home}”.",
    ),
    "error.unreachable": ("Le nœud ne répond pas ({detail}) : est-il démarré ?", "The node does not answer ({detail}): is it running?"),
    "error.refused": ("Refusé ({code}) : {message}", "Refused ({code}): {message}"),
    "resource.published": ("Publié : {type} « {id} » (message {message_id})", "Published: {type} “{id}” (message {message_id})"),
    "resource.deleted": ("Supprimé : « {id} »", "Deleted: “{id}”"),
    "import.summary": ("{published} ressource(s) publiée(s), {unchanged} inchangée(s), {errors} ligne(s) refusée(s).",
                       "{published} resource(s) published, {unchanged} unchanged, {errors} row(s) refused."),
    "import.row_error": ("  ligne {line} : {reason}", "  line {line}: {reason}"),
    "search.none": ("Aucun résultat.", "No results."),
    "search.hit": ("{title} — {association} [{what}]{distance}", "{title} — {association} [{what}]{distance}"),
    "search.distance": (" à {km} km", " {km} km away"),
    "type.resource": ("ressource", "resource"),
    "type.offer": ("offre", "offer"),
    "type.need": ("besoin", "need"),
    "kind.equipment": ("matériel", "equipment"),
    "kind.vehicle": ("véhicule", "vehicle"),
    "kind.space": ("espace", "space"),
    "kind.skill": ("compétence", "skill"),
    "kind.other": ("autre", "other"),
    "peers.none": ("Aucun pair connu.", "No known peers."),
    "peers.row": ("{name}  {state}  {address}\n    {node_id}  empreinte {fingerprint}",
                  "{name}  {state}  {address}\n    {node_id}  fingerprint {fingerprint}"),
    "sync.report": ("{contacted} pair(s) contacté(s), {stored} enregistrement(s) reçu(s), {failed} injoignable(s), {refused} refusé(s).",
                    "{contacted} peer(s) contacted, {stored} record(s) received, {failed} unreachable, {refused} refused."),
    "peer.added": ("Pair ajouté : {seed}", "Peer added: {seed}"),
    "peer.denied": ("Nœud refusé désormais : {node_id}", "Node denied from now on: {node_id}"),
    "peer.allowed": ("Nœud retiré de la liste de refus : {node_id}", "Node taken off the deny-list: {node_id}"),
    "demo.ready": ("La fédération de démonstration tourne :", "The demo federation is running:"),
    "demo.node": ("  {name}\n    {url}  (dossier {home})", "  {name}\n    {url}  (home {home})"),
    "demo.try": ("Essayez, dans un autre terminal :", "Try, in another terminal:"),
    "demo.converged": ("Catalogues synchronisés : {count} enregistrements sur chaque nœud.", "Catalogues converged: {count} records on every node."),
    "demo.stop": ("Ctrl-C pour tout arrêter.", "Ctrl-C to stop everything."),
}


def language() -> str:
    for var in ("MAILLAGE_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "en" if value.lower().startswith("en") else "fr"
    return "fr"


def number(value: float, decimals: int = 2) -> str:
    """A decimal number as the reader writes it: 1,25 in French, 1.25 in English."""
    text = f"{value:.{decimals}f}"
    return text if language() == "en" else text.replace(".", ",")


def t(key: str, **values: object) -> str:
    french, english = MESSAGES[key]
    return (english if language() == "en" else french).format(**values)
