"""The demo territory: the seed's territories and each of its twelve scheduling patterns, dated
from the current week on, with a few overlaps between partners for the coordinators to find; the
main series began six months ago, with people received noted and a few sessions cancelled.

Idempotent: everything has a fixed key (slug, QPV code, event UID); what exists is left as is.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from models import Event, Partner, Person, Place, Quartier, db
from models.operations.partners import create_partner, create_person
from models.operations.territory import create_place, create_quartier
from models.operations.users import get_or_create_user
from scheduler.reports.attendance import record_attendance
from scheduler.time.recurrence import expand, rule_of
from scheduler.writes import cancel_occurrence, create_event, move_occurrence

DEMO_COORDINATOR = "coordination@demo.maillage.fr"
DEMO_EDITOR = "conseillere@ml-sud-isere.demo.maillage.fr"
DEMO_PASSWORD = "maillage-demo-2026"

QUARTIERS = [
    ("QP038014", "Villeneuve – Village 2", ["Échirolles"], "38"),
    ("QP035005", "Maurepas", ["Rennes"], "35"),
    ("QP093037", "Lamaze – Cosmonautes", ["Saint-Denis"], "93"),
    ("QP030007", "Pissevin – Valdegour", ["Nîmes"], "30"),
    ("QP091019", "Les Tarterets", ["Corbeil-Essonnes"], "91"),
    ("QP013051", "La Gavotte-Peyret", ["Marseille", "Septèmes-les-Vallons"], "13"),
    ("QP033012", "Les Aubiers – Le Lac", ["Bordeaux"], "33"),
    ("QP974004", "Le Chaudron", ["Saint-Denis (La Réunion)"], "974"),
]

PARTNERS = [
    ("mission-locale-sud-isere", "Mission locale Sud Isère", "mission_locale"),
    ("france-travail-echirolles", "France Travail Échirolles", "france_travail"),
    ("prevention-specialisee-codase", "CODASE – prévention spécialisée", "prevention_specialisee"),
    ("bij-echirolles", "Bureau information jeunesse d'Échirolles", "pij_bij"),
    ("centre-social-village-2", "Centre social Village 2", "centre_social"),
    ("mission-locale-rennes", "Mission locale du bassin d'emploi de Rennes", "mission_locale"),
    ("france-travail-rennes-nord", "France Travail Rennes Nord", "france_travail"),
    ("meif-rennes", "Maison de l'emploi, de l'insertion et de la formation de Rennes", "maison_emploi"),
    ("cap-emploi-35", "Cap emploi Ille-et-Vilaine", "cap_emploi"),
    ("plie-rennes", "PLIE de Rennes Métropole", "plie"),
    ("centre-social-maurepas", "Centre social de Maurepas", "centre_social"),
    ("regie-quartier-maurepas", "Régie de quartier de Maurepas", "siae_regie"),
    ("fjt-rennes", "Foyer de jeunes travailleurs de Rennes", "fjt"),
    ("mission-locale-saint-denis", "Mission locale de Saint-Denis", "mission_locale"),
    ("pimms-saint-denis", "PIMMS de Saint-Denis", "pimms"),
    ("centre-social-cosmonautes", "Centre social des Cosmonautes", "centre_social"),
    ("france-travail-saint-denis", "France Travail Saint-Denis", "france_travail"),
    ("mission-locale-nimes", "Mission locale jeunes Nîmes Métropole", "mission_locale"),
    ("france-travail-nimes", "France Travail Nîmes Pissevin", "france_travail"),
    ("e2c-essonne", "École de la deuxième chance de l'Essonne", "e2c"),
    ("mission-locale-corbeil", "Mission locale Corbeil-Essonnes", "mission_locale"),
    ("espace-insertion-gavotte", "Espace insertion La Gavotte", "association"),
    ("france-travail-bordeaux-lac", "France Travail Bordeaux Lac", "france_travail"),
    ("mission-locale-bordeaux", "Mission locale de Bordeaux", "mission_locale"),
    ("intermed-gironde", "Intermed Gironde – interprétariat", "association"),
    ("mission-locale-nord-reunion", "Mission locale Nord Réunion", "mission_locale"),
]

PEOPLE = [  # (key, partner, name, role)
    ("karima", "mission-locale-sud-isere", "Karima Benali", "adviser"),
    ("lucas", "prevention-specialisee-codase", "Lucas Fournier", "educator"),
    ("sophie", "mission-locale-saint-denis", "Sophie Martin", "adviser"),
    ("nadia", "intermed-gironde", "Nadia Haddad", "interpreter"),
    ("jean-pierre", "fjt-rennes", "Jean-Pierre Le Gall", "sponsor"),
    ("aurelie", "mission-locale-rennes", "Aurélie Morin", "adviser"),
]

# (slug, name, quartier, host, address, postcode, city, rooms, accessibility, lat, lon)
PLACES = [
    ("bij-echirolles", "BIJ d'Échirolles", "QP038014", "bij-echirolles", "1 place des Cinq-Fontaines",
     "38130", "Échirolles", [], "Accès de plain-pied.", 45.146, 5.717),
    ("centre-social-village-2", "Centre social Village 2", "QP038014", "centre-social-village-2",
     "20 avenue des États-Généraux", "38130", "Échirolles", ["Salle polyvalente", "Bureau 1"],
     "Ascenseur ; boucle magnétique à l'accueil.", 45.142, 5.720),
    ("espace-public-villeneuve", "Villeneuve – espace public (parc Jean-Verlhac)", "QP038014", None,
     "Parc Jean-Verlhac", "38130", "Échirolles", [], "En extérieur.", 45.160, 5.731),
    ("centre-social-maurepas", "Centre social de Maurepas", "QP035005", "centre-social-maurepas",
     "32 rue de la Marbaudais", "35700", "Rennes", ["Grande salle", "Salle du Gros-Chêne"],
     "Accès de plain-pied, toilettes adaptées.", 48.126, -1.660),
    ("fjt-rennes", "FJT de Rennes – résidence Maurepas", "QP035005", "fjt-rennes", "7 rue Guy-Ropartz",
     "35700", "Rennes", ["Salon"], None, 48.128, -1.657),
    ("pimms-saint-denis", "PIMMS de Saint-Denis", "QP093037", "pimms-saint-denis", "8 rue Gibault",
     "93200", "Saint-Denis", [], "Accès de plain-pied.", 48.929, 2.360),
    ("centre-social-cosmonautes", "Centre social des Cosmonautes", "QP093037", "centre-social-cosmonautes",
     "2 rue Youri-Gagarine", "93200", "Saint-Denis", ["Salle 1"], None, 48.924, 2.373),
    ("gymnase-pissevin", "Gymnase de Pissevin", "QP030007", None, "Avenue Kennedy", "30900", "Nîmes",
     [], "Accès de plain-pied.", 43.832, 4.330),
    ("ml-nimes-pissevin", "Mission locale – antenne de Pissevin", "QP030007", "mission-locale-nimes",
     "Place Pythagore", "30900", "Nîmes", [], None, 43.834, 4.327),
    ("france-travail-pissevin", "France Travail Nîmes Pissevin", "QP030007", "france-travail-nimes",
     "Avenue Pierre-Gamel", "30900", "Nîmes", [], None, 43.830, 4.333),
    ("antenne-ml-tarterets", "Mission locale – antenne des Tarterets", "QP091019", "mission-locale-corbeil",
     "Place Salvador-Allende", "91100", "Corbeil-Essonnes", ["Salle de réunion"], None, 48.605, 2.465),
    ("espace-insertion-gavotte", "Espace insertion La Gavotte", "QP013051", "espace-insertion-gavotte",
     "Chemin de la Gavotte", "13015", "Marseille", ["Salle informatique"], None, 43.370, 5.370),
    ("france-travail-bordeaux-lac", "France Travail Bordeaux Lac", "QP033012", "france-travail-bordeaux-lac",
     "Rue du Professeur-Lemoine", "33300", "Bordeaux", [], None, 44.880, -0.570),
    ("ml-bordeaux-aubiers", "Mission locale – antenne des Aubiers", "QP033012", "mission-locale-bordeaux",
     "Place Ginette-Neveu", "33300", "Bordeaux", [], None, 44.874, -0.571),
    ("case-chaudron", "Case du Chaudron", "QP974004", None, "Rue Pierre-Brossolette", "97490",
     "Saint-Denis", [], "Accès de plain-pied.", -20.890, 55.490),
]


HISTORY_WEEKS = 26  # the main series began six months ago: their past fills the reports


def _monday(today: date) -> date:
    return today - timedelta(days=today.weekday())


def events_of_the_demo(monday: date) -> list[dict]:
    """The series, with their fixed demo key. Dates count from the Monday of the current week."""
    def day(weekday: int, weeks: int = 0) -> date:
        return monday + timedelta(days=7 * weeks + weekday)

    back = -HISTORY_WEEKS  # the main series began six months ago
    weekly = lambda *days, **kw: {"frequency": "weekly", "weekdays": list(days), **kw}  # noqa: E731
    youth = {"age_min": 16, "age_max": 25}
    return [
        # Échirolles, action 1: street work every Wednesday afternoon, educator + ML adviser.
        dict(key="aller-vers-villeneuve", kind="aller_vers", title="Travail de rue avec la mission locale",
             place="espace-public-villeneuve", organisers=["prevention-specialisee-codase", "mission-locale-sud-isere"],
             people=["lucas", "karima"], start_date=day(2, back), start=time(14), minutes=180, **weekly(2), **youth,
             description="Un éducateur et une conseillère de la mission locale vont à la rencontre des jeunes "
                         "du quartier."),
        # Échirolles, action 1: ML permanence at the BIJ every Monday afternoon for a few months.
        dict(key="permanence-ml-bij", kind="permanence", title="Permanence de la mission locale au BIJ",
             place="bij-echirolles", organisers=["mission-locale-sud-isere"], people=["karima"],
             start_date=day(0, back), start=time(14), minutes=180, walk_in=True, **youth,
             **weekly(0, until=day(0, 16)), description="Sans rendez-vous : CV, recherche d'emploi, formation."),
        # A youth structure's own workshop, which pauses during the school holidays (zone A: Grenoble).
        dict(key="atelier-bij-jeunes", kind="atelier", title="Atelier jobs d'été et orientation du BIJ",
             place="bij-echirolles", organisers=["bij-echirolles"], start_date=day(2, back), start=time(9, 30),
             minutes=150, walk_in=True, pause_school_holidays=True, **weekly(2), **youth,
             description="CV, jobs d'été, BAFA, orientation ; pas d'atelier pendant les vacances scolaires."),
        # Échirolles Villeneuve, action 2: one Thursday afternoon a month, three stages.
        dict(key="villeneuve-tour-de-table", kind="coordination", title="Tour de table des partenaires",
             place="centre-social-village-2", room="Salle polyvalente", visibility="partners",
             organisers=["centre-social-village-2", "mission-locale-sud-isere", "france-travail-echirolles"],
             start_date=day(3, back), start=time(13, 30), minutes=60,
             frequency="monthly", month_week=2, weekdays=[3]),
        dict(key="villeneuve-permanence-partenaires", kind="permanence",
             title="Permanence de tous les partenaires", place="centre-social-village-2", room="Salle polyvalente",
             organisers=["centre-social-village-2", "mission-locale-sud-isere", "france-travail-echirolles",
                         "bij-echirolles", "prevention-specialisee-codase"],
             people=["karima"], start_date=day(3, back), start=time(14, 30), minutes=120, walk_in=True,
             frequency="monthly", month_week=2, weekdays=[3], **youth),
        dict(key="villeneuve-debriefing", kind="coordination", title="Débriefing des partenaires",
             place="centre-social-village-2", room="Salle polyvalente", visibility="partners",
             organisers=["centre-social-village-2", "mission-locale-sud-isere", "france-travail-echirolles"],
             start_date=day(3, back), start=time(16, 30), minutes=30,
             frequency="monthly", month_week=2, weekdays=[3]),
        # Rennes Maurepas, action 3: the Groupe solidarité emploi every six weeks.
        dict(key="gse-maurepas", kind="coordination", title="Groupe solidarité emploi (GSE) – formation élargie",
             place="centre-social-maurepas", room="Salle du Gros-Chêne", visibility="partners",
             organisers=["meif-rennes", "mission-locale-rennes", "france-travail-rennes-nord"],
             people=["aurelie"], start_date=day(1), start=time(9, 30), minutes=120, **weekly(1, interval=6)),
        # Rennes Maurepas, action 3: Les lundis de l'emploi, co-run by five partners.
        dict(key="lundis-emploi-maurepas", kind="lundi_emploi", title="Les lundis de l'emploi",
             place="centre-social-maurepas", room="Grande salle",
             organisers=["meif-rennes", "mission-locale-rennes", "france-travail-rennes-nord", "cap-emploi-35",
                         "plie-rennes"],
             start_date=day(0, back), start=time(9, 30), minutes=150, walk_in=True, **weekly(0),
             description="Offres d'emploi, ateliers et rencontres avec les conseillers, sans rendez-vous."),
        # Overlap (place): the régie books the same room on Monday mornings.
        dict(key="atelier-numerique-regie", kind="atelier", title="Atelier numérique de la régie",
             place="centre-social-maurepas", room="Grande salle", organisers=["regie-quartier-maurepas"],
             start_date=day(0), start=time(10), minutes=90, **weekly(0, until=day(0, 10))),
        # Saint-Denis, action 6: once a week, a permanence in two host structures in turn.
        dict(key="permanence-ml-pimms", kind="permanence", title="Permanence de la mission locale au PIMMS",
             place="pimms-saint-denis", organisers=["mission-locale-saint-denis", "pimms-saint-denis"],
             people=["sophie"], start_date=day(3, back), start=time(9, 30), minutes=180, walk_in=True, **youth,
             **weekly(3, interval=2)),
        dict(key="permanence-ml-cosmonautes", kind="permanence",
             title="Permanence de la mission locale aux Cosmonautes", place="centre-social-cosmonautes",
             room="Salle 1", organisers=["mission-locale-saint-denis", "centre-social-cosmonautes"],
             people=["sophie"], start_date=day(3, back + 1), start=time(9, 30), minutes=180, walk_in=True, **youth,
             **weekly(3, interval=2)),
        # Club Ambition réussite, action 4: one group session a week, open entry.
        dict(key="club-ambition-reussite", kind="atelier", title="Club Ambition réussite",
             place="centre-social-cosmonautes", room="Salle 1", organisers=["france-travail-saint-denis"],
             start_date=day(4, back), start=time(10), minutes=120, walk_in=True, age_min=18, age_max=30,
             audience_tags=["jeunes diplômés"], **weekly(4),
             description="Session collective hebdomadaire, entrée permanente."),
        # Nîmes, pratique 5: twice a year, the neighbourhood job forum.
        dict(key="forum-val-emploi", kind="forum", title="Forum Val de l'emploi", place="gymnase-pissevin",
             organisers=["mission-locale-nimes", "france-travail-nimes"], start_date=day(1, 2), start=time(14),
             minutes=180, capacity=40, frequency="monthly", interval=6, month_week=3, weekdays=[1], count=4,
             employers=["Transports Nîmes Métropole", "Carrefour Nîmes Sud", "Clinique du Pissevin",
                        "Bouygues Bâtiment Sud-Est", "Adecco Nîmes", "Ville de Nîmes"], **youth),
        # Overlap (audience): two job datings for 16–25 in Pissevin the same afternoon.
        dict(key="job-dating-logistique", kind="job_dating", title="Job dating logistique",
             place="france-travail-pissevin", organisers=["france-travail-nimes"], start_date=day(2, 1),
             start=time(14), minutes=180, registration_url="https://www.francetravail.fr/", **youth,
             employers=["Logistique du Gard"]),
        dict(key="job-dating-restauration", kind="job_dating", title="Job dating restauration",
             place="ml-nimes-pissevin", organisers=["mission-locale-nimes"], start_date=day(2, 1),
             start=time(15), minutes=120, **youth, employers=["Brasserie des Arènes", "Restaurant Le Pissevin"]),
        # Corbeil-Essonnes, pratique 6: three collective information meetings of the E2C.
        dict(key="e2c-info-collectives", kind="info_collective",
             title="Réunion d'information collective de l'École de la deuxième chance",
             place="antenne-ml-tarterets", room="Salle de réunion",
             organisers=["e2c-essonne", "mission-locale-corbeil"],
             start_date=day(1, 1), start=time(14), minutes=120, age_min=16, age_max=25,
             audience_tags=["sans diplôme"], **weekly(1, interval=2, count=3)),
        # Marseille, pratique 3: CV workshop two afternoons a week.
        dict(key="atelier-cv-gavotte", kind="atelier", title="Atelier CV", place="espace-insertion-gavotte",
             room="Salle informatique", organisers=["espace-insertion-gavotte"], start_date=day(1, back),
             start=time(14), minutes=150, walk_in=True, **weekly(1, 3)),
        # Gironde, action 7: an interpreter booked by several agencies — here twice at once (staff).
        dict(key="entretiens-interprete-ft", kind="permanence", title="Entretiens avec interprète (arabe, dari)",
             place="france-travail-bordeaux-lac", organisers=["france-travail-bordeaux-lac"], people=["nadia"],
             visibility="partners", start_date=day(1), start=time(10), minutes=120,
             audience_tags=["allophones"], **weekly(1)),
        dict(key="accueil-allophones-ml", kind="permanence", title="Accueil des jeunes allophones",
             place="ml-bordeaux-aubiers", organisers=["mission-locale-bordeaux"], people=["nadia"],
             start_date=day(1, 1), start=time(10, 30), minutes=90, audience_tags=["allophones"], **youth,
             **weekly(1, interval=2)),
        # Overseas: a weekly permanence in La Réunion, on its own clock.
        dict(key="permanence-chaudron", kind="permanence", title="Permanence de la mission locale au Chaudron",
             place="case-chaudron", organisers=["mission-locale-nord-reunion"], start_date=day(1, back),
             start=time(8, 30), minutes=210, walk_in=True, **youth, **weekly(1)),
    ] + [
        # Parrainage FJT, pratique 17: a sponsor follows at most three young people at once,
        # each for 18 weeks; the fourth one here is one too many (capacity).
        dict(key=f"parrainage-{first_name.lower()}", kind="other", title=f"Parrainage : rencontre avec {first_name}",
             place="fjt-rennes", room="Salon", organisers=["fjt-rennes", "mission-locale-rennes"],
             people=["jean-pierre"], visibility="partners", start_date=day(weekday, offset), start=time(18),
             minutes=60, **weekly(weekday, count=18))
        for first_name, weekday, offset in (("Yanis", 0, 0), ("Inès", 1, 0), ("Moussa", 2, 1), ("Léa", 3, 2))
    ]


def _demo_exceptions(actor, key: str, event: Event, monday: date) -> None:
    """A cancelled and a moved occurrence in the coming weeks, so that every screen shows both cases."""
    if key not in ("lundis-emploi-maurepas", "permanence-ml-bij"):
        return
    start = datetime.combine(monday, time(), ZoneInfo(event.timezone))
    occurrences = [o for o in expand([rule_of(event)], start, start + timedelta(days=35)) if not o.is_cancelled]
    if key == "lundis-emploi-maurepas":
        cancel_occurrence(actor, event, occurrences[2].recurrence_start,
                          "Salle réquisitionnée pour le bureau de vote.")
    else:
        target = occurrences[1]
        move_occurrence(actor, event, target.recurrence_start,
                        starts_at=target.start + timedelta(days=1), reason="Lundi : réunion d'équipe.")


# The past of the demo: a few sessions cancelled (the nth past occurrence of these series), people
# received noted for most of the others, so that coverage, the review and the people received
# pages show something on `make run`.
PAST_CANCELLATIONS = {
    "permanence-ml-bij": (5, "Conseillère en formation."),
    "lundis-emploi-maurepas": (9, "Grève des transports : salle fermée."),
    "club-ambition-reussite": (3, "Salle indisponible (travaux)."),
    "atelier-cv-gavotte": (20, "Animatrice absente."),
}
PEOPLE_RECEIVED = {"permanence": (3, 14), "lundi_emploi": (12, 35), "atelier": (4, 12), "aller_vers": (6, 20),
                   "forum": (60, 140), "job_dating": (10, 30), "info_collective": (5, 15)}


def _demo_history(actor, key: str, event: Event, today: date) -> None:
    """Cancellations and people received for the occurrences before `today` (none noted for
    about one in six: the review says which sessions were counted)."""
    zone = ZoneInfo(event.timezone)
    start = datetime.combine(event.start_date, time(), zone)
    now = datetime.combine(today, time(), zone)
    if start >= now or event.kind not in PEOPLE_RECEIVED:
        return
    past = [o for o in expand([rule_of(event)], start, now) if not o.is_cancelled and o.ends_at <= now.timestamp()]
    cancelled = PAST_CANCELLATIONS.get(key)
    if cancelled is not None and cancelled[0] < len(past):
        cancel_occurrence(actor, event, past[cancelled[0]].recurrence_start, cancelled[1])
    rng = random.Random(key)  # the same figures at every load
    low, high = PEOPLE_RECEIVED[event.kind]
    youth = event.age_min is not None and event.age_max is not None and event.age_max <= 25
    for i, occurrence in enumerate(past):
        if (cancelled is not None and i == cancelled[0]) or rng.random() < 1 / 6:
            continue
        total = rng.randint(low, high)
        bands = {"16_25": total - rng.randint(0, 2)} if youth and total > 2 else None
        record_attendance(actor, event, occurrence.recurrence_start, total, bands, now=now)


def load_demo(today: date | None = None) -> str:
    today = today or datetime.now(ZoneInfo("Europe/Paris")).date()
    coordinator = get_or_create_user(DEMO_COORDINATOR, "coordinator")
    coordinator.name = "Coordination de démonstration"
    if not coordinator.password_hash:
        coordinator.set_password(DEMO_PASSWORD)

    for code, name, communes, department in QUARTIERS:
        if not db.session.scalar(sa.select(Quartier.id).where(Quartier.code == code)):
            create_quartier(coordinator, {"code": code, "name": name, "communes": communes, "department": department})
    for slug, name, type_ in PARTNERS:
        if not db.session.scalar(sa.select(Partner.id).where(Partner.slug == slug)):
            create_partner(coordinator, {"slug": slug, "name": name, "type": type_,
                                         "contact_email": f"contact@{slug}.demo.maillage.fr"})
    people = {}
    for key, partner, name, role in PEOPLE:
        person = db.session.scalar(sa.select(Person).where(Person.name == name))
        people[key] = person or create_person(coordinator, {
            "partner": partner, "name": name, "role": role, "email": f"{key}@{partner}.demo.maillage.fr"})
    for slug, name, quartier, host, address, postcode, city, rooms, access, lat, lon in PLACES:
        if not db.session.scalar(sa.select(Place.id).where(Place.slug == slug)):
            create_place(coordinator, {
                "slug": slug, "name": name, "quartier": quartier, "host_partner": host, "address": address,
                "postcode": postcode, "city": city, "rooms": rooms, "accessibility": access,
                "latitude": lat, "longitude": lon, "contact_email": f"accueil@{slug}.demo.maillage.fr"})

    editor = get_or_create_user(DEMO_EDITOR, "editor",
                                db.session.scalar(sa.select(Partner).where(Partner.slug == "mission-locale-sud-isere")))
    editor.name = "Karima Benali"
    if not editor.password_hash:
        editor.set_password(DEMO_PASSWORD)

    created = 0
    for spec in events_of_the_demo(_monday(today)):
        spec = dict(spec)
        uid = f"demo-{spec.pop('key')}@maillage"
        if db.session.scalar(sa.select(Event.id).where(Event.uid == uid)):
            continue
        start, minutes = spec.pop("start"), spec.pop("minutes")
        spec["people"] = [people[k].id for k in spec.get("people", [])]
        event = create_event(coordinator, {**spec, "start_time": start, "duration_minutes": minutes}).event
        event.uid = uid
        created += 1
        db.session.flush()
        key = uid[len("demo-"):-len("@maillage")]
        _demo_exceptions(coordinator, key, event, _monday(today))
        _demo_history(coordinator, key, event, today)
    db.session.flush()
    return (f"Territoire de démonstration prêt : {len(QUARTIERS)} quartiers, {len(PARTNERS)} partenaires, "
            f"{len(PLACES)} lieux ; {created} série(s) ajoutée(s).\n"
            f"Coordination : {DEMO_COORDINATOR} / {DEMO_PASSWORD}\n"
            f"Contributrice (mission locale) : {DEMO_EDITOR} / {DEMO_PASSWORD}")
