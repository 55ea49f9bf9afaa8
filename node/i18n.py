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
    "init.admin": (
        "Pages web : connectez-vous comme « {name} » avec le mot de passe à usage unique {password}\n"
        "Il n'est affiché qu'une fois (seul un hachage en est gardé) : changez-le dans « Compte » après la connexion.",
        "Web pages: sign in as “{name}” with the one-time password {password}\n"
        "It is shown only once (only its hash is kept): change it under “Account” after signing in.",
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
    "peers.equivocated": (
        "⚠ ce nœud a signé deux versions de son journal : preuve d'équivoque conservée (maillage audit)",
        "⚠ this node signed two versions of its log: proof of equivocation kept (maillage audit)",
    ),
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
    "demo.web": (
        "    pages web : {url}  — connexion « {name} », mot de passe à usage unique {password}",
        "    web pages: {url}  — sign in as “{name}”, one-time password {password}",
    ),
    "admin.password_set": (
        "Compte web « {name} » ({role}) : mot de passe à usage unique {password}\n"
        "Il n'est affiché qu'une fois (seul un hachage en est gardé) ; les sessions ouvertes de ce compte sont fermées.\n"
        "Changez-le dans « Compte » après la connexion.",
        "Web account “{name}” ({role}): one-time password {password}\n"
        "It is shown only once (only its hash is kept); the account's open sessions are closed.\n"
        "Change it under “Account” after signing in.",
    ),
    "admin.created": ("Compte créé.", "Account created."),
    # loans and agreements
    "loan.bad_tz": ("--tz : {tz!r} n'est pas un fuseau horaire (ex. Europe/Paris)", "--tz: {tz!r} is not a time zone (e.g. Europe/Paris)"),
    "loan.bad_date": ("{option} : {value!r} n'est pas une date AAAA-MM-JJ", "{option}: {value!r} is not a YYYY-MM-DD date"),
    "loan.bad_datetime": ("{option} : {value!r} n'est pas une heure « AAAA-MM-JJ HH:MM »", "{option}: {value!r} is not a “YYYY-MM-DD HH:MM” time"),
    "loan.nonexistent": (
        "{option} : {value} n'existe pas dans le fuseau {tz} (les horloges avancent d'une heure à ce moment-là) ; choisissez une heure plus tard",
        "{option}: {value} does not exist in {tz} (clocks jump forward then); pick a later time",
    ),
    "loan.period_both": ("Donnez soit --from/--to (journées), soit --start/--end (heures), pas les deux.",
                         "Give either --from/--to (days) or --start/--end (hours), not both."),
    "loan.period_pair": ("{first} et {second} vont ensemble.", "{first} and {second} go together."),
    "loan.period_order": ("La fin doit venir après le début.", "The end must come after the start."),
    "loan.period_missing": ("Dites quand : --from/--to (journées) ou --start/--end (heures).",
                            "Say when: --from/--to (days) or --start/--end (hours)."),
    "loan.bad_period": ("Période refusée", "Period refused"),
    "loan.bad_quantity": ("--quantity : au moins 1.", "--quantity: at least 1."),
    "loan.bad_rating": ("--rating : une note de 1 à 5.", "--rating: a rating from 1 to 5."),
    "loan.bad_owner": ("--owner : {owner!r} n'est pas un identifiant de nœud (52 caractères a-z, 2-7)",
                       "--owner: {owner!r} is not a node id (52 characters a-z, 2-7)"),
    "loan.bad_photo": ("--photo : impossible de lire {path} ({reason})", "--photo: cannot read {path} ({reason})"),
    "loan.bad_id": ("{id!r} : donnez l'identifiant de l'accord (32 caractères hexadécimaux) ou au moins {min} de ses premiers caractères.",
                    "{id!r}: give the agreement id (32 hexadecimal characters) or at least its first {min}."),
    "loan.unknown_id": ("Aucun accord ne commence par « {id} » sur ce nœud (voir « maillage agreements »).",
                        "No agreement starts with “{id}” on this node (see “maillage agreements”)."),
    "loan.ambiguous_id": ("« {id} » désigne {count} accords ({ids}) : donnez plus de caractères.",
                          "“{id}” matches {count} agreements ({ids}): give more characters."),
    "loan.id": ("Accord {id}", "Agreement {id}"),
    "loan.refused": ("refusé : {refusal} — état : « {state} »", "refused: {refusal} — state: “{state}”"),
    "loan.queued": (
        "En file d'attente : ce sera transmis dès que le nœud de l'autre association sera joignable.",
        "Queued: it will be delivered as soon as the other association's node is reachable.",
    ),
    "done.requested": ("Demande envoyée : en attente de réponse", "Request sent: waiting for an answer"),
    "done.offered": ("Proposition envoyée : en attente de réponse", "Offer sent: waiting for an answer"),
    "done.sealed": ("Accord scellé : signé par les deux associations", "Agreement sealed: signed by both associations"),
    "done.in_custody": ("Remise enregistrée : prêt en cours", "Handover recorded: loan under way"),
    "done.returned": ("Retour enregistré : reste à clore (note de chaque association)",
                      "Return recorded: to be closed (each association rates the other)"),
    "done.closing": ("Clôture signée : en attente de l'autre association", "Closing signed: waiting for the other association"),
    "done.closed": ("Prêt clos : signé par les deux associations", "Loan closed: signed by both associations"),
    "done.declined": ("Décliné", "Declined"),
    "done.withdrawn": ("Demande retirée", "Request withdrawn"),
    "done.cancelled": ("Accord annulé", "Agreement cancelled"),
    "done.expired": ("Expiré : sans réponse à temps", "Expired: no answer in time"),
    "search.unknown": (" — disponibilité inconnue (nœud injoignable)", " — availability unknown (node unreachable)"),
    "state.requested": ("demandé", "requested"),
    "state.offered": ("proposé", "offered"),
    "state.sealed": ("scellé", "sealed"),
    "state.in_custody": ("prêté (en cours)", "lent (under way)"),
    "state.returned": ("rendu", "returned"),
    "state.closing": ("clôture en cours", "closing"),
    "state.closed": ("clos", "closed"),
    "state.declined": ("décliné", "declined"),
    "state.withdrawn": ("retiré", "withdrawn"),
    "state.cancelled": ("annulé", "cancelled"),
    "state.expired": ("expiré", "expired"),
    "state.refused": ("refusé par le prêteur", "refused by the owner"),
    "role.owner": ("prêté à {who}", "lent to {who}"),
    "role.borrower": ("emprunté à {who}", "borrowed from {who}"),
    "agreements.none": ("Aucun accord.", "No agreements."),
    "agreements.row": ("{id}  {state}  {direction} — {title}, {period}, × {quantity}",
                       "{id}  {state}  {direction} — {title}, {period}, × {quantity}"),
    "agreements.row_convened": ("{id}  {state}  {kind} — {title}", "{id}  {state}  {kind} — {title}"),
    "kind.campaign": ("campagne", "campaign"),
    "kind.federation": ("fédération", "federation"),
    "agreements.refusal": ("dernière étape refusée : {refusal}", "last step refused: {refusal}"),
    "period.days": ("du {first} au {last}", "{first} to {last}"),
    "refusal.free": ("créneaux libres : {slots}", "free slots: {slots}"),
    "refusal.no_free": ("aucun créneau libre proche", "no free slot nearby"),
    "series.row": ("{period}  {id}  {state}", "{period}  {id}  {state}"),
    "series.summary": ("{count} demande(s) envoyée(s), {refused} refusée(s).", "{count} request(s) sent, {refused} refused."),
    "done.incident": ("Incident enregistré, signé : l'accord reste « {state} »", "Incident recorded, signed: the agreement stays “{state}”"),
    "refusal.state": ("(état actuel : « {state} »)", "(current state: “{state}”)"),
    "refusal.allowed": ("possible maintenant : {actions}", "possible now: {actions}"),
    "party.us": ("nous", "us"),
    "label": ("{name} : {value}", "{name}: {value}"),
    "terms.conditions": ("Conditions", "Conditions"),
    "terms.pickup": ("Remise", "Pickup"),
    "terms.cancellation": ("Annulation gratuite jusqu'au {until}, ensuite {fee}", "Free cancellation until {until}, then {fee}"),
    "facts.deposit_kept": ("Retenu sur la caution", "Kept from the deposit"),
    "terms.fee": ("Participation", "Fee"),
    "terms.deposit": ("Caution", "Deposit"),
    "party.owner": ("Prêteur", "Owner"),
    "party.borrower": ("Emprunteur", "Borrower"),
    "action.request": ("demande", "request"),
    "action.offer": ("proposition", "offer"),
    "action.counter": ("contre-proposition", "counter-offer"),
    "action.accept": ("acceptation", "acceptance"),
    "action.decline": ("refus", "decline"),
    "action.withdraw": ("retrait", "withdrawal"),
    "action.cancel": ("annulation", "cancellation"),
    "action.handover": ("remise", "handover"),
    "action.return": ("retour", "return"),
    "action.incident": ("incident", "incident"),
    "action.close": ("clôture", "closing"),
    "seal.ok": ("Document scellé : {count} signatures vérifiées ici, hors ligne.", "Sealed document: {count} signatures verified here, offline."),
    "seal.bad": ("Document scellé NON VÉRIFIÉ : {reason}", "Sealed document NOT VERIFIED: {reason}"),
    "seal.none": ("Pas encore scellé.", "Not sealed yet."),
    # typed refusals (codes from protocol/errors.py) and availability reasons (protocol/availability.py)
    "code.invalid": ("demande invalide", "invalid request"),
    "code.non-canonical": ("encodage non canonique", "non-canonical encoding"),
    "code.bad-signature": ("signature invalide", "bad signature"),
    "code.stale": ("horodatage hors fenêtre (horloge à vérifier)", "timestamp out of window (check the clock)"),
    "code.replay": ("message déjà reçu", "message already received"),
    "code.wrong-audience": ("message adressé à un autre nœud", "message addressed to another node"),
    "code.unknown-type": ("type de message inconnu", "unknown message type"),
    "code.too-large": ("trop volumineux", "too large"),
    "code.forbidden": ("interdit", "forbidden"),
    "code.rate-limited": ("trop de demandes, réessayez plus tard", "too many requests, try later"),
    "code.conflict": ("conflit", "conflict"),
    "code.unknown-key": ("clé inconnue", "unknown key"),
    "code.retired-key": ("clé retirée", "retired key"),
    "code.out-of-order": ("hors d'ordre (l'autre association a agi en même temps)", "out of order (the other association acted at the same time)"),
    "code.not-allowed": ("pas permis à ce stade", "not allowed at this stage"),
    "code.expired": ("expiré", "expired"),
    "reason.in-past": ("dans le passé", "in the past"),
    "reason.notice": ("préavis insuffisant", "not enough notice"),
    "reason.not-aligned": ("horaires non alignés sur l'unité de prêt", "times not aligned on the lending unit"),
    "reason.too-short": ("trop court", "too short"),
    "reason.too-long": ("trop long", "too long"),
    "reason.quantity-exceeds-stock": ("quantité supérieure au stock", "quantity above the stock"),
    "reason.blocked": ("période bloquée", "blocked period"),
    "reason.closed": ("en dehors des heures d'ouverture", "outside opening hours"),
    "reason.stock": ("déjà réservé", "already booked"),
}

WEEKDAYS = (("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."), ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))


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


def weekday(iso_day: int) -> str:
    """A short weekday name (ISO: 1 = Monday)."""
    return WEEKDAYS[language() == "en"][iso_day - 1]


def t(key: str, **values: object) -> str:
    french, english = MESSAGES[key]
    return (english if language() == "en" else french).format(**values)


# ---- maillage audit … (kept together; the checks are described in docs/audit.md) ----
MESSAGES.update({
    "audit.header": ("Accord {id} — état : {state}", "Agreement {id} — state: {state}"),
    "audit.log_header": ("Journal du nœud {node_id} : {entries} entrée(s)", "Log of node {node_id}: {entries} entry(ies)"),
    "audit.group_ok": ("✓ {label} : {count}", "✓ {label}: {count}"),
    "audit.group_bad": ("✗ {label} : {count} constat(s)", "✗ {label}: {count} finding(s)"),
    "audit.no_equivocation": ("✓ Aucune preuve d'équivoque", "✓ No proof of equivocation"),
    "audit.note": ("    · {text}", "    · {text}"),
    "audit.all_ok": ("Tout est vérifié : rien n'a été modifié.", "Everything checks out: nothing was altered."),
    "audit.some_bad": ("{count} constat(s) : voir ci-dessus.", "{count} finding(s): see above."),
    "audit.failed": ("Vérification échouée ({count} constat(s)).", "Verification failed ({count} finding(s))."),
    "audit.usage": (
        "Donnez soit --bundle FICHIER, soit --home DOSSIER et l'id de l'accord.",
        "Give either --bundle FILE, or --home DIR and the agreement id.",
    ),
    "audit.bad_file": ("Paquet illisible ({path}) : {reason}", "Unreadable bundle ({path}): {reason}"),
    "audit.exported": (
        "Paquet d'audit écrit : {path} ({events} événement(s), journaux de {logs} partie(s)).",
        "Audit bundle written: {path} ({events} event(s), logs of {logs} party(ies)).",
    ),
    "audit.export_unreachable": (
        "  Attention : le journal de {node} n'a pas pu être interrogé ; le paquet le signale.",
        "  Warning: the log of {node} could not be asked; the bundle says so.",
    ),
    "audit.progress": ("… {done} / {total} entrées vérifiées", "… {done} / {total} entries checked"),
    "audit.no_identity": ("La base de {home} ne contient pas de nœud.", "The database in {home} holds no node."),
    "audit.where.seq": ("événement {seq}", "event {seq}"),
    "audit.where.entry": ("entrée {seq}", "entry {seq}"),
    "audit.where.size": ("point de contrôle de taille {seq}", "checkpoint of size {seq}"),
    "audit.where.party": ("journal : {party}", "log: {party}"),
    "audit.where.witness": ("témoin {witness}", "witness {witness}"),
    "audit.check.bundle": ("Paquet lisible", "Readable bundle"),
    "audit.check.descriptors": ("Descriptions signées des nœuds (historique des clés)", "Signed node descriptors (key histories)"),
    "audit.check.signatures": ("Signatures des événements (clé valable à leur date)", "Event signatures (key valid at their date)"),
    "audit.check.chain": ("Chaînage et transitions des événements", "Event hash links and transitions"),
    "audit.check.seal": ("Document scellé, signé par chaque partie", "Sealed document, signed by every party"),
    "audit.check.checkpoints": ("Points de contrôle signés des journaux", "Signed log checkpoints"),
    "audit.check.inclusion": ("Preuves d'inclusion dans les journaux", "Inclusion proofs in the logs"),
    "audit.check.cosignatures": ("Cosignatures des témoins", "Witness cosignatures"),
    "audit.check.logs": ("Journaux des parties consultés", "Parties' logs consulted"),
    "audit.check.equivocation": ("Équivoque (deux versions d'un journal)", "Equivocation (two versions of a log)"),
    "audit.check.leaves": ("Feuilles du journal = événements enregistrés", "Log leaves = stored events"),
    "audit.check.roots": ("Racines aux points de contrôle = racines signées", "Roots at checkpoints = signed roots"),
    "audit.problem.malformed": ("paquet mal formé", "malformed bundle"),
    "audit.problem.bad-descriptor": ("description invalide", "invalid descriptor"),
    "audit.problem.missing": ("manquant", "missing"),
    "audit.problem.bad-signature": ("signature invalide", "bad signature"),
    "audit.problem.unknown-key": ("signé d'une clé inconnue", "signed with an unknown key"),
    "audit.problem.retired-key": ("signé d'une clé hors de sa période de validité", "signed with a key outside its validity"),
    "audit.problem.invalid": ("illisible ou invalide", "unreadable or invalid"),
    "audit.problem.non-canonical": ("encodage modifié", "encoding altered"),
    "audit.problem.unreadable": ("illisible", "unreadable"),
    "audit.problem.refused": ("refusé par les règles de l'accord", "refused by the agreement's rules"),
    "audit.problem.head-mismatch": ("la fin de la chaîne ne correspond pas", "the end of the chain does not match"),
    "audit.problem.empty": ("aucun événement", "no event"),
    "audit.problem.bad-seal": ("document scellé invalide", "invalid sealed document"),
    "audit.problem.bad-checkpoint": ("point de contrôle invalide", "invalid checkpoint"),
    "audit.problem.no-proof": ("pas de preuve d'inclusion", "no inclusion proof"),
    "audit.problem.not-checked": ("journal non vérifié", "log not checked"),
    "audit.problem.not-included": ("absent du journal (la preuve ne tient pas)", "not in the log (the proof fails)"),
    "audit.problem.extra-proofs": ("plus de preuves que d'événements", "more proofs than events"),
    "audit.problem.bad-cosignature": ("cosignature invalide", "invalid cosignature"),
    "audit.problem.self": ("un nœud ne peut pas témoigner pour lui-même", "a node cannot witness itself"),
    "audit.problem.wrong-checkpoint": ("la cosignature vise un autre point de contrôle", "the cosignature names another checkpoint"),
    "audit.problem.forked": ("équivoque prouvée : deux versions du journal", "proven equivocation: two versions of the log"),
    "audit.problem.bad-proof": ("preuve d'équivoque invalide", "invalid equivocation proof"),
    "audit.problem.missing-entry": ("entrée manquante", "missing entry"),
    "audit.problem.missing-event": ("événement enregistré introuvable", "stored event not found"),
    "audit.problem.leaf-mismatch": ("l'empreinte de la feuille n'est pas celle de l'événement", "the leaf hash is not the event's"),
    "audit.problem.root-mismatch": ("la racine du journal n'est pas la racine signée", "the log's root is not the signed root"),
    "audit.problem.beyond-log": ("point de contrôle au-delà du journal", "checkpoint beyond the log"),
    "audit.note.not-sealed": ("l'accord n'a jamais été scellé", "the agreement was never sealed"),
    "audit.note.none": ("aucun témoin n'a encore cosigné ce point de contrôle", "no witness has cosigned this checkpoint yet"),
})
