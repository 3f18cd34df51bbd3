"""A small public territory for the public pages' tests, dated from the current week so that the
screen (today) and the widget (next two weeks) have something to show."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
HOSTILE_TITLE = '<script>alert("titre")</script><img src=x onerror=alert(1)>Atelier CV'
HOSTILE_DESCRIPTION = '</p><script>alert("desc")</script><a href="javascript:alert(2)">clic</a>'
PRIVATE_TITLE = "GSE restreint — confidentiel"


@dataclass
class Territory:
    monday: date
    today: date
    quartier: object
    bij: object
    centre: object
    permanence: object  # weekly, Monday and Wednesday, walk-in, 16–25
    daily: object  # every day at the centre; tomorrow cancelled, the day after moved
    job_dating: object  # once, Thursday of this week
    private: object  # partners only, must never show
    hostile: object  # partner text trying to inject HTML and script
    cancelled_start: datetime
    moved_start: datetime


def build_territory(create_quartier, create_place, create_partner, create_event) -> Territory:
    from helpers.actors import SYSTEM
    from models import db
    from scheduler.writes import cancel_occurrence, move_occurrence

    today = datetime.now(PARIS).date()
    monday = today - timedelta(days=today.weekday())
    q = create_quartier("QN03801M", "Villeneuve", ("Échirolles",), "38")
    bij = create_place("bij-echirolles", "BIJ d'Échirolles", quartier="QN03801M", address="2 place des Écrins",
                       city="Échirolles", latitude=45.1466, longitude=5.7195,
                       accessibility="Accès de plain-pied, ascenseur pour la salle du 1er étage.")
    centre = create_place("centre-social-surieux", "Centre social Surieux", quartier="QN03801M",
                          address="10 rue de Surieux", city="Échirolles")
    ml = create_partner("mission-locale-sud-isere", "Mission locale Sud-Isère")
    cs = create_partner("centre-social-surieux", "Centre social Surieux", type="centre_social")
    permanence = create_event(bij, [ml], title="Permanence mission locale au BIJ", start_date=monday,
                              start_time="14:00", duration_minutes=180, frequency="weekly", interval=1, weekdays=[0, 2],
                              until=monday + timedelta(weeks=8), walk_in=True, age_min=16, age_max=25,
                              skip_public_holidays=False)
    daily = create_event(centre, [cs, ml], title="Accueil emploi du matin", kind="atelier", start_date=monday,
                         start_time="09:30", duration_minutes=90, frequency="daily", interval=1, count=40,
                         skip_public_holidays=False, description="Un conseiller vous reçoit.")
    job_dating = create_event(centre, [ml], title="Job dating logistique", kind="job_dating",
                              start_date=monday + timedelta(days=3), start_time="10:00", duration_minutes=120,
                              frequency="once",
                              age_min=18, age_max=30, registration_url="https://inscription.example.fr/jd",
                              employers=["Transports Alpes", "Entrepôt Sud"])
    private = create_event(bij, [ml], title=PRIVATE_TITLE, kind="coordination", start_date=monday,
                           start_time="09:00", duration_minutes=120, frequency="daily", interval=1, count=40,
                           visibility="partners", skip_public_holidays=False)
    hostile = create_event(bij, [cs], title=HOSTILE_TITLE, kind="atelier", start_date=today,
                           start_time="16:00", duration_minutes=60, frequency="once", description=HOSTILE_DESCRIPTION,
                           registration_url="javascript:alert(3)", audience_tags=["<b>femmes</b>"])
    cancelled_start = datetime.combine(today + timedelta(days=1), time(9, 30), PARIS)
    moved_start = datetime.combine(today + timedelta(days=2), time(9, 30), PARIS)
    cancel_occurrence(SYSTEM, daily, cancelled_start, "Conseiller absent")
    move_occurrence(SYSTEM, daily, moved_start, starts_at=moved_start.replace(hour=11))
    db.session.commit()
    return Territory(monday, today, q, bij, centre, permanence, daily, job_dating, private, hostile,
                     cancelled_start, moved_start)
