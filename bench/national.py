"""The synthetic national calendar every benchmark uses (DESIGN.md, "Scale to design for").

At scale 1.0: about 1,500 quartiers, 10,000 partners, 15,000 people, 3,000 places and 30,000
active series giving about 1.5 million occurrences in the twelve months from `start`, with the
seed's scheduling patterns in a realistic mix (weekly permanences on one or two days, every two
weeks, monthly on the nth or last weekday, every six weeks, a few daily, single forums and job
datings, short series with an end date or a count), about 4 % of places overseas in their own
time zones, Alsace-Moselle departments, about 7 % of the series (youth structures') pausing
during the school holidays of their zone, a few percent of series with cancelled or moved
occurrences, and people shared across several events. Everything is drawn from the seed's
random generators: the same (scale, seed, start) always gives the same calendar.

API (run benchmarks from the repository root, `python bench/NAME.py`; they import this as
`from bench.national import ...` after putting the root on sys.path, see `ROOT` below):

- `build_national(scale=1.0, seed=SEED, start=None) -> NationalCalendar`: the calendar in memory.
  `start` (a date, default: the Monday of the current week) is the first day of the twelve
  months; `.rules` holds one `scheduler.time.recurrence.SeriesRule` per event (exceptions included),
  ready for `expand`; `.partners`, `.people`, `.quartiers`, `.places`, `.events`,
  `.event_organisers`, `.event_people`, `.exceptions` hold the table rows (dicts with explicit
  ids, matching `rule.event_id`, `rule.place_id`, `rule.person_ids`).
- `national_rules(scale=1.0, seed=SEED, start=None) -> list[SeriesRule]`: just the rules (fast:
  about a second at scale 1.0).
- `national_window(start=None) -> (datetime, datetime)`: the twelve months as aware datetimes
  (midnight Europe/Paris of `start`, plus 365 days).
- `load_national(engine, scale=1.0, seed=SEED, start=None, create_tables=False) ->
  NationalCalendar`: bulk-inserts the same calendar through SQLAlchemy Core (partners,
  quartiers, places, people, events, organisers, event people, occurrence exceptions) into an
  EMPTY database whose schema exists (run the migrations, or pass create_tables=True to use
  `metadata.create_all`), and moves PostgreSQL's id sequences past the inserted ids so that
  the application can add rows afterwards. Commits once. About 6 s at scale 1.0 on PostgreSQL.
- `python bench/national.py [--scale S] [--database-url URL [--create-tables]]` prints the calendar's size (and
  loads it when a database URL is given); last line starts with `BENCH`.
"""
from __future__ import annotations

import argparse
import random
import sys
import time as timer
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
# Not bench/ itself (python puts the script's folder first): its public.py would shadow the
# `public` package aiosmtpd imports when the app loads its commands.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models.territory import school_zone_of
from scheduler.time.recurrence import ExceptionSpec, SeriesRule, expand, holiday_region_of
from scheduler.time.rules import last_possible_date, local_to_utc

SEED = 20260325
N_QUARTIERS, N_PARTNERS, N_SERIES = 1500, 10_000, 30_000
PEOPLE_PER_PARTNER = 1.5
PLACES_PER_QUARTIER = 2

# Departments with QPV (metropole); 57/67/68 have Alsace-Moselle holidays.
METROPOLE_DEPARTMENTS = [f"{n:02d}" for n in range(1, 96) if n != 20]
OVERSEAS = {"971": "America/Guadeloupe", "972": "America/Martinique", "973": "America/Cayenne",
            "974": "Indian/Reunion", "976": "Indian/Mayotte"}
OVERSEAS_SHARE = 0.04

PARTNER_TYPES = [  # (type, weight)
    ("mission_locale", 8), ("france_travail", 8), ("cap_emploi", 3), ("maison_emploi", 2), ("plie", 2),
    ("centre_social", 14), ("prevention_specialisee", 8), ("pimms", 4), ("pij_bij", 6), ("fjt", 4),
    ("e2c", 2), ("epide", 1), ("siae_regie", 8), ("association", 16), ("employer", 10),
    ("collectivite", 3), ("etat", 1),
]
SPE = {"mission_locale", "france_travail", "cap_emploi", "maison_emploi", "plie"}
PERSON_ROLES = [("adviser", 70), ("educator", 18), ("interpreter", 4), ("sponsor", 4), ("other", 4)]

# (pattern, weight, kinds): the seed's scheduling patterns (DESIGN.md), weighted so that 30,000
# series give about 1.5 million occurrences a year.
PATTERNS = [
    ("weekly", 42, ["permanence", "permanence", "atelier", "aller_vers", "lundi_emploi"]),
    ("weekly_two_days", 25, ["permanence", "atelier"]),
    ("every_two_weeks", 13, ["permanence", "atelier", "other"]),
    ("monthly_nth", 8, ["coordination", "info_collective", "permanence"]),
    ("monthly_last", 3, ["coordination", "info_collective"]),
    ("every_six_weeks", 4, ["coordination"]),
    ("daily", 3, ["aller_vers", "permanence"]),
    ("once", 8, ["forum", "job_dating", "info_collective", "other"]),
]
START_TIMES = [time(9), time(9, 30), time(10), time(13, 30), time(14), time(14, 30), time(16), time(18)]
DURATIONS = [60, 90, 120, 120, 180, 180, 240]
AUDIENCES = [(16, 25, ["jeunes"]), (None, 30, []), (18, 25, ["sans diplôme"]), (None, None, []),
             (None, None, ["femmes"]), (16, 25, ["résidents FJT"]), (None, None, ["allophones"]),
             (None, None, ["bénéficiaires RSA"]), (18, 30, ["jeunes diplômés"])]
EMPLOYERS = ["Carrefour", "SNCF", "La Poste", "Keolis", "Adecco", "Onet", "Derichebourg", "Sodexo",
             "Mairie", "Hôpital", "Vinci", "Decathlon", "Leroy Merlin", "Transdev"]
EXCEPTION_SHARE = 0.05  # of recurring series, with one or two cancelled or moved occurrences
# Youth structures often pause during school holidays: this share of the recurring series that a
# centre social or a PIJ/BIJ organises (about 7 % of all series) does, in metropolitan France.
YOUTH_TYPES = {"centre_social", "pij_bij"}
SCHOOL_PAUSE_SHARE = 0.5


@dataclass
class NationalCalendar:
    start: date
    seed: int
    scale: float
    quartiers: list[dict] = field(default_factory=list)
    partners: list[dict] = field(default_factory=list)
    people: list[dict] = field(default_factory=list)
    places: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    event_organisers: list[dict] = field(default_factory=list)
    event_people: list[dict] = field(default_factory=list)
    exceptions: list[dict] = field(default_factory=list)
    rules: list[SeriesRule] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.quartiers)} quartiers, {len(self.partners)} partners, {len(self.people)} people, "
                f"{len(self.places)} places, {len(self.events)} series, {len(self.exceptions)} exceptions")


def default_start() -> date:
    today = datetime.now(UTC).date()
    return today - timedelta(days=today.weekday())


def national_window(start: date | None = None) -> tuple[datetime, datetime]:
    start = start or default_start()
    lo = datetime.combine(start, time(), ZoneInfo("Europe/Paris"))
    return lo, lo + timedelta(days=365)


def _weighted(rng: random.Random, pairs):
    items, weights = zip(*pairs)
    return lambda: rng.choices(items, weights)[0]


def build_national(scale: float = 1.0, seed: int = SEED, start: date | None = None) -> NationalCalendar:
    """The calendar in memory: table rows and the SeriesRule of every event (see module doc)."""
    start = start or default_start()
    rng = random.Random(seed)
    # Its own stream, so that the draws of the rest of the calendar stay where they were.
    pause_rng = random.Random(seed + 1)
    cal = NationalCalendar(start=start, seed=seed, scale=scale)
    stamp = datetime.combine(start - timedelta(days=30), time(), UTC)
    n_quartiers = max(1, round(N_QUARTIERS * scale))
    n_partners = max(1, round(N_PARTNERS * scale))
    n_series = max(1, round(N_SERIES * scale))

    # Quartiers, each in a department; a few overseas.
    counters: dict[str, int] = {}
    for qid in range(1, n_quartiers + 1):
        if rng.random() < OVERSEAS_SHARE:
            dept = rng.choice(list(OVERSEAS))
        else:
            dept = rng.choice(METROPOLE_DEPARTMENTS)
        counters[dept] = counters.get(dept, 0) + 1
        cal.quartiers.append({"id": qid, "code": f"QN{dept:0>3}{counters[dept]:03d}M",
                              "name": f"Quartier {qid}", "communes": [f"Commune {dept}-{counters[dept] % 7}"],
                              "department": dept, "created_at": stamp, "updated_at": stamp})

    # Partners: each works from a home quartier (events draw organisers from the same department).
    partner_type = _weighted(rng, PARTNER_TYPES)
    partners_by_quartier: dict[int, list[int]] = {}
    partners_by_dept: dict[str, list[int]] = {}
    for pid in range(1, n_partners + 1):
        q = cal.quartiers[(pid - 1) % n_quartiers] if pid <= n_quartiers else rng.choice(cal.quartiers)
        kind = partner_type()
        cal.partners.append({"id": pid, "slug": f"partenaire-{pid}", "name": f"{kind.replace('_', ' ').title()} {pid}",
                             "type": kind, "is_spe": kind in SPE, "contact_email": f"contact{pid}@example.fr",
                             "created_at": stamp, "updated_at": stamp})
        partners_by_quartier.setdefault(q["id"], []).append(pid)
        partners_by_dept.setdefault(q["department"], []).append(pid)

    # People, attached to partners; events reuse them, so each person has several bookings.
    person_role = _weighted(rng, PERSON_ROLES)
    people_by_partner: dict[int, list[int]] = {}
    n_people = round(n_partners * PEOPLE_PER_PARTNER)
    for person_id in range(1, n_people + 1):
        pid = (person_id - 1) % n_partners + 1
        cal.people.append({"id": person_id, "partner_id": pid, "name": f"Personne {person_id}",
                           "email": f"personne{person_id}@example.fr", "role": person_role(),
                           "travel_margin_minutes": rng.choice([15, 30, 30, 45]),
                           "created_at": stamp, "updated_at": stamp})
        people_by_partner.setdefault(pid, []).append(person_id)

    # Places: a couple per quartier, hosted by one of its partners, some with rooms.
    places_by_quartier: dict[int, list[dict]] = {}
    for q in cal.quartiers:
        for _ in range(PLACES_PER_QUARTIER):
            place_id = len(cal.places) + 1
            dept = q["department"]
            rooms = [f"Salle {n}" for n in range(1, rng.choice([0, 0, 1, 2, 3]) + 1)]
            place = {"id": place_id, "slug": f"lieu-{place_id}", "name": f"Lieu {place_id}",
                     "host_partner_id": rng.choice(partners_by_quartier.get(q["id"]) or [1]),
                     "address": f"{place_id} rue de la République", "postcode": f"{dept:0<5}"[:5],
                     "city": q["communes"][0], "department": dept, "quartier_id": q["id"],
                     "timezone": OVERSEAS.get(dept, "Europe/Paris"), "rooms": rooms,
                     "refuses_hard_conflicts": False, "created_at": stamp, "updated_at": stamp}
            cal.places.append(place)
            places_by_quartier.setdefault(q["id"], []).append(place)

    # Series.
    pattern_of = _weighted(rng, [(p, w) for p, w, _ in PATTERNS])
    kinds_of = {p: kinds for p, _, kinds in PATTERNS}
    window_lo, window_hi = national_window(start)
    for event_id in range(1, n_series + 1):
        q = cal.quartiers[rng.randrange(n_quartiers)]
        place = rng.choice(places_by_quartier[q["id"]])
        pattern = pattern_of()
        kind = rng.choice(kinds_of[pattern])
        pool = partners_by_dept.get(q["department"], [1])
        local = partners_by_quartier.get(q["id"]) or pool
        organisers = [rng.choice(local)]
        if kind in ("lundi_emploi", "forum", "coordination") or rng.random() < 0.2:  # co-animation
            organisers += rng.sample(pool, min(len(pool), rng.randint(1, 4)))
        organisers = list(dict.fromkeys(organisers))
        people = []
        for pid in organisers[:3]:
            staff = people_by_partner.get(pid)
            if staff and rng.random() < 0.8:
                people.append(rng.choice(staff))
        people = sorted(set(people))
        timing = _timing(rng, pattern, kind, start)
        age_min, age_max, tags = rng.choice(AUDIENCES)
        holiday_dept = q["department"]
        skip_holidays = rng.random() > 0.03 and pattern != "once"  # a dated event is on its date (models/events.py)
        school_zone = school_zone_of(holiday_dept)
        pauses = (school_zone is not None and pattern != "once"
                  and cal.partners[organisers[0] - 1]["type"] in YOUTH_TYPES
                  and pause_rng.random() < SCHOOL_PAUSE_SHARE)
        st = timing["start_time"]
        row = {
            "id": event_id, "uid": f"national-{seed}-{event_id}@maillage", "kind": kind,
            "title": f"{kind.replace('_', ' ').capitalize()} {event_id}", "description": "",
            "place_id": place["id"],
            "room": rng.choice(place["rooms"]) if place["rooms"] and rng.random() < 0.7 else None,
            "visibility": "public" if rng.random() < 0.85 else "partners",
            "status": "cancelled" if rng.random() < 0.01 else ("tentative" if rng.random() < 0.03 else "confirmed"),
            "capacity": rng.choice([None, None, 12, 20, 40]),
            "registration_url": None,
            "employers": rng.sample(EMPLOYERS, rng.randint(3, 7)) if kind in ("forum", "job_dating") else [],
            "walk_in": kind in ("permanence", "aller_vers") and rng.random() < 0.6,
            "age_min": age_min, "age_max": age_max, "audience_tags": tags,
            "timezone": place["timezone"], "skip_public_holidays": skip_holidays, "holiday_region": holiday_dept,
            "pause_school_holidays": pauses, "school_zone": None,
            "sequence": 0, "created_at": stamp, "updated_at": stamp, "source": "bench",
            **timing,
        }
        row["starts_at"] = local_to_utc(row["start_date"], st, row["timezone"])
        row["last_date"] = last_possible_date(SimpleNamespace(**row))
        cal.events.append(row)
        cal.event_organisers.extend({"event_id": event_id, "partner_id": p} for p in organisers)
        cal.event_people.extend({"event_id": event_id, "person_id": p} for p in people)
        rule = SeriesRule(
            event_id=event_id, timezone=row["timezone"], start_ord=row["start_date"].toordinal(),
            start_seconds=st.hour * 3600 + st.minute * 60, duration=row["duration_minutes"] * 60,
            frequency=row["frequency"], interval=row["interval"], weekdays=tuple(row["weekdays"]),
            month_week=row["month_week"], until_ord=row["until"].toordinal() if row["until"] else None,
            count=row["count"], holiday_region=holiday_region_of(holiday_dept) if skip_holidays else None,
            school_zone=school_zone if pauses else None,
            place_id=place["id"], room=row["room"], person_ids=tuple(people),
            is_cancelled=row["status"] == "cancelled",
        )
        cal.rules.append(rule)
        if pattern != "once" and rng.random() < EXCEPTION_SHARE:
            _add_exceptions(rng, cal, rule, places_by_quartier[q["id"]], people_by_partner, organisers,
                            window_lo, window_hi, stamp)
    return cal


def _timing(rng: random.Random, pattern: str, kind: str, start: date) -> dict:
    """The wall-clock rule of one series (columns of `events`)."""
    weekday = 0 if kind == "lundi_emploi" else rng.choices(range(7), [20, 20, 22, 20, 15, 3, 0])[0]
    # Most series run already; some begin during the year; a few end during it.
    if pattern == "once" or rng.random() < 0.1:
        first = start + timedelta(days=rng.randrange(0, 350))
    else:
        first = start - timedelta(days=rng.randrange(1, 720))
    first += timedelta(days=(weekday - first.weekday()) % 7)
    t = {"start_date": first, "start_time": rng.choice(START_TIMES), "duration_minutes": rng.choice(DURATIONS),
         "frequency": "weekly", "interval": 1, "weekdays": [weekday], "month_week": None,
         "until": None, "count": None, "month_days": None, "months": None, "extra_dates": None}
    if pattern == "weekly_two_days":
        t["weekdays"] = sorted({weekday, (weekday + rng.choice([1, 2, 3])) % 5})
    elif pattern == "every_two_weeks":
        t["interval"] = 2
    elif pattern == "every_six_weeks":
        t["interval"] = 6
    elif pattern in ("monthly_nth", "monthly_last"):
        t.update(frequency="monthly", month_week=-1 if pattern == "monthly_last" else rng.randint(1, 4))
    elif pattern == "daily":
        t.update(frequency="daily", interval=rng.choice([1, 2, 3]), weekdays=[])
    elif pattern == "once":
        t.update(frequency="once", weekdays=[], duration_minutes=rng.choice([180, 240, 360]))
    if pattern != "once":
        roll = rng.random()
        if roll < 0.08:  # "every Monday afternoon for a few months"
            t["until"] = max(first, start) + timedelta(days=rng.randrange(60, 240))
        elif roll < 0.1 and first >= start:  # "three collective information meetings"
            t["count"] = rng.choice([3, 6, 10])
    return t


def _add_exceptions(rng, cal, rule, places, people_by_partner, organisers, lo, hi, stamp) -> None:
    """One or two occurrences of the series in the window cancelled or moved."""
    occurrences = [o for o in expand([rule], lo, hi) if o.starts_at >= lo.timestamp()]
    for occ in rng.sample(occurrences, min(len(occurrences), rng.choice([1, 1, 2]))):
        rec = occ.recurrence_id
        row = {"id": len(cal.exceptions) + 1, "event_id": rule.event_id,
               "recurrence_start": datetime.fromtimestamp(rec, UTC), "is_cancelled": False, "starts_at": None,
               "duration_minutes": None, "place_id": None, "room": None, "person_ids": None,
               "reason": "", "sequence": 1, "created_at": stamp, "updated_at": stamp}
        roll = rng.random()
        if roll < 0.6:
            row.update(is_cancelled=True, reason="Absence du conseiller")
        elif roll < 0.85:  # another day or hour
            row["starts_at"] = row["recurrence_start"] + timedelta(hours=rng.choice([-2, 1, 24, 48, 72]))
            row["reason"] = "Report"
        else:  # another place of the quartier, or other people
            other = rng.choice(places)
            row["place_id"] = other["id"]
            staff = [p for org in organisers for p in people_by_partner.get(org, [])]
            row["person_ids"] = sorted(set(rng.sample(staff, min(len(staff), 2)))) if staff else None
            row["reason"] = "Changement de salle"
        cal.exceptions.append(row)
        rule.exceptions[rec] = ExceptionSpec(
            row["is_cancelled"], int(row["starts_at"].timestamp()) if row["starts_at"] else None,
            None, row["place_id"], row["room"], tuple(row["person_ids"]) if row["person_ids"] else None)


def national_rules(scale: float = 1.0, seed: int = SEED, start: date | None = None) -> list[SeriesRule]:
    return build_national(scale, seed, start).rules


def load_national(engine, scale: float = 1.0, seed: int = SEED, start: date | None = None,
                  create_tables: bool = False, chunk: int = 5000) -> NationalCalendar:
    """Bulk-inserts the calendar into an empty database (see module doc); returns it."""
    import sqlalchemy as sa

    from models import Event, OccurrenceException, Partner, Person, Place, Quartier, db
    from models.events import event_organisers, event_people
    from models.versions import raise_versions

    cal = build_national(scale, seed, start)
    if create_tables:
        db.metadata.create_all(engine)
    tables = [(Quartier.__table__, cal.quartiers), (Partner.__table__, cal.partners),
              (Person.__table__, cal.people), (Place.__table__, cal.places), (Event.__table__, cal.events),
              (event_organisers, cal.event_organisers), (event_people, cal.event_people),
              (OccurrenceException.__table__, cal.exceptions)]
    with engine.begin() as conn:
        for table, rows in tables:
            for i in range(0, len(rows), chunk):
                conn.execute(table.insert(), rows[i:i + chunk])
        if engine.dialect.name == "postgresql":
            for table, rows in tables:
                if "id" in table.c and rows:
                    conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                         f"(SELECT max(id) FROM {table.name}))"))
        raise_versions(session=conn)  # the ORM's hooks did not see these rows: what was cached goes
    return cal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--database-url", help="load it into this (empty, migrated) database")
    parser.add_argument("--create-tables", action="store_true", help="create the schema first (no migrations)")
    parser.add_argument("--check", action="store_true", help="no target here: accepted for symmetry")
    args = parser.parse_args()
    t0 = timer.perf_counter()
    if args.database_url:
        import sqlalchemy as sa

        cal = load_national(sa.create_engine(args.database_url), args.scale, args.seed,
                            create_tables=args.create_tables)
    else:
        cal = build_national(args.scale, args.seed)
    elapsed = timer.perf_counter() - t0
    lo, hi = national_window(cal.start)
    occurrences = expand(cal.rules, lo, hi)
    print(cal.summary())
    print(f"{len(occurrences)} occurrences from {lo.date()} to {hi.date()}")
    print(f"BENCH national: {'loaded' if args.database_url else 'built'} in {elapsed:.2f} s, "
          f"{len(cal.rules)} series, {len(occurrences)} occurrences")


if __name__ == "__main__":
    main()
