"""The event form of /coordination/evenements: create, edit (one date, this date and the
following ones, the whole series), cancel a date, end a series, delete, duplicate; and the preview
of what a write would do (`scheduler.writes.preview.dry_run`), on a button without JavaScript
and live with htmx. Every write goes through `scheduler.writes`, audited under the person's name;
every form carries its CSRF token (checked app-wide by web/auth.py)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from werkzeug.datastructures import MultiDict

from models import Event, Person, db, utcnow
from models.errors import FIELD_MESSAGES, DomainError, Forbidden, InvalidInput
from models.events import EVENT_KINDS, FREQUENCIES, VISIBILITIES
from models.operations.events import changed_by_partners_since, event_by_id
from models.operations.partners import partners_actor_may_name
from models.operations.territory import place_by_slug, places_matching
from models.operations.users import note_visit
from models.territory import SCHOOL_ZONE_CHOICES
from scheduler import writes
from scheduler.french import WEEKDAY_NAMES, day_label, hour_label
from scheduler.time.calendar import CalendarFilter, next_occurrences, occurrences_between
from scheduler.time.recurrence import occurrence_on, rule_of
from scheduler.writes.preview import dry_run
from web.auth import current_user, login_required
from web.coordination import quartiers_for_filters
from web.event_place import NEW_PLACE_FIELDS, add_place, new_place_values, place_errors_of

bp = Blueprint("event_form", __name__, url_prefix="/coordination/evenements")

SCOPES = {"serie": "Toute la série", "suivantes": "Cette date et les suivantes", "date": "Cette date seulement"}
MONTH_WEEKS = {"1": "premier", "2": "deuxième", "3": "troisième", "4": "quatrième", "-1": "dernier"}
MULTI = ("organisers", "people", "weekdays")
CHECKBOXES = ("walk_in", "skip_public_holidays", "pause_school_holidays")
SINGLE = ("kind", "title", "description", "place", "room", "age_min", "age_max", "tags", "registration_url",
          "visibility", "start_date", "start_time", "end_time", "frequency", "interval", "month_week", "ends",
          "until", "count", "school_zone", "lieu_q", *NEW_PLACE_FIELDS)
# The write path names some fields as the event does; the form shows the error where it is typed.
FORM_FIELD = {"duration_minutes": "end_time", "audience_tags": "tags", "timezone": "place",
              "holiday_region": "place", "recurrence_start": "occurrence"}


# --- the form's values ------------------------------------------------------------------------

def raw_of(form: MultiDict) -> dict:
    """What was typed, to show it again."""
    raw = {name: form.get(name, "").strip() for name in SINGLE}
    raw.update({name: form.getlist(name) for name in MULTI})
    raw.update({name: form.get(name) == "1" for name in CHECKBOXES})
    return raw


def blank_raw() -> dict:
    raw = dict.fromkeys(SINGLE, "") | {name: [] for name in MULTI} | dict.fromkeys(CHECKBOXES, False)
    own = [current_user.partner.slug] if not current_user.is_coordinator and current_user.partner else []
    raw.update(kind="permanence", visibility="public", frequency="weekly", interval="1", ends="until",
               organisers=own, skip_public_holidays=True, start_time="14:00", end_time="17:00")
    return raw


def raw_of_event(event: Event) -> dict:
    end = datetime.combine(date(2000, 1, 1), event.start_time) + timedelta(minutes=event.duration_minutes)
    ends = "until" if event.until else ("count" if event.count else "never")
    return {
        "kind": event.kind, "title": event.title, "description": event.description or "",
        "place": event.place.slug, "room": event.room or "", "organisers": [p.slug for p in event.organisers],
        "people": [str(p.id) for p in event.people], "age_min": _text(event.age_min), "age_max": _text(event.age_max),
        "tags": ", ".join(event.audience_tags or []), "registration_url": event.registration_url or "",
        "visibility": event.visibility, "start_date": event.start_date.isoformat(),
        "start_time": event.start_time.strftime("%H:%M"), "end_time": end.strftime("%H:%M"),
        "frequency": event.frequency, "interval": str(event.interval or 1),
        "weekdays": [str(d) for d in event.weekdays or []], "month_week": _text(event.month_week), "ends": ends,
        "until": event.until.isoformat() if event.until else "", "count": _text(event.count),
        "school_zone": event.school_zone or "", "lieu_q": "", "walk_in": event.walk_in,
        "skip_public_holidays": event.skip_public_holidays, "pause_school_holidays": event.pause_school_holidays,
    } | dict.fromkeys(NEW_PLACE_FIELDS, "")


def _text(value) -> str:
    return "" if value is None else str(value)


def parse(raw: dict) -> tuple[dict, dict[str, str]]:
    """The values of a write (as the API's schema gives them) and the errors of the form, field
    by field, in the words of the one table (models.errors.FIELD_MESSAGES); the rules on the
    values themselves are the write path's, whose messages the form shows the same way."""
    errors: dict[str, str] = {}
    values: dict = {}

    def number(name: str, lo: int, hi: int) -> int | None:
        if not raw[name]:
            return None
        try:
            value = int(raw[name])
        except ValueError:
            errors[name] = FIELD_MESSAGES["integer"]
            return None
        if not lo <= value <= hi:
            errors[name] = FIELD_MESSAGES["range"].format(min=lo, max=hi)
        return value

    def day(name: str) -> date | None:
        try:
            return date.fromisoformat(raw[name])
        except ValueError:
            errors[name] = FIELD_MESSAGES["required"] if not raw[name] else FIELD_MESSAGES["date"]
            return None

    def hour(name: str) -> time | None:
        try:
            return time.fromisoformat(raw[name])
        except ValueError:
            errors[name] = FIELD_MESSAGES["required"] if not raw[name] else FIELD_MESSAGES["time"]
            return None

    for name, choices in (("kind", EVENT_KINDS), ("visibility", VISIBILITIES), ("frequency", FREQUENCIES)):
        if raw[name] not in choices:
            errors[name] = FIELD_MESSAGES["choice"].format(choices=", ".join(choices.values()))
        values[name] = raw[name]
    if not 2 <= len(raw["title"]) <= 200:
        errors["title"] = FIELD_MESSAGES["length"].format(min=2, max=200)
    values.update(title=raw["title"], description=raw["description"], room=raw["room"] or None,
                  organisers=raw["organisers"], walk_in=raw["walk_in"], visibility=raw["visibility"],
                  skip_public_holidays=raw["skip_public_holidays"],
                  pause_school_holidays=raw["pause_school_holidays"], school_zone=raw["school_zone"] or None,
                  audience_tags=[t.strip() for t in raw["tags"].split(",") if t.strip()])
    if not raw["place"]:
        errors["place"] = FIELD_MESSAGES["required"]
    values["place"] = raw["place"]
    try:
        values["people"] = [int(p) for p in raw["people"]]
    except ValueError:
        errors["people"] = FIELD_MESSAGES["integer"]
    values["age_min"], values["age_max"] = number("age_min", 0, 120), number("age_max", 0, 120)
    url = raw["registration_url"]
    if url and not url.startswith(("https://", "http://")):
        errors["registration_url"] = FIELD_MESSAGES["url"]
    values["registration_url"] = url or None
    values["start_date"] = day("start_date")
    start, end = hour("start_time"), hour("end_time")
    if start is not None and end is not None:
        if end <= start:
            errors["end_time"] = FIELD_MESSAGES["end_before_start"]
        values["start_time"] = start
        values["duration_minutes"] = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    values["interval"] = number("interval", 1, 52) or 1 if raw["interval"] else 1
    try:
        values["weekdays"] = sorted({int(d) for d in raw["weekdays"] if 0 <= int(d) <= 6})
    except ValueError:
        errors["weekdays"] = FIELD_MESSAGES["no_weekday"]
    if raw["frequency"] == "weekly" and not raw["weekdays"]:
        errors["weekdays"] = FIELD_MESSAGES["no_weekday"]
    values["month_week"] = number("month_week", -1, 4) if raw["frequency"] == "monthly" else None
    values["until"] = day("until") if raw["ends"] == "until" and raw["frequency"] != "once" else None
    values["count"] = number("count", 1, 1000) if raw["ends"] == "count" and raw["frequency"] != "once" else None
    if raw["ends"] == "count" and raw["frequency"] != "once" and not raw["count"]:
        errors["count"] = FIELD_MESSAGES["required"]
    return values, errors


def errors_of(error: DomainError) -> dict[str, str]:
    """A write's refusal, field by field for the form (what is not about a field goes on top)."""
    found = {FORM_FIELD.get(name, name): messages[0] for name, messages in (error.errors or {}).items()
             if isinstance(messages, list) and messages and isinstance(messages[0], str)}
    return found or {"": error.message}


# --- the pages ------------------------------------------------------------------------------

def _may_create() -> None:
    if not current_user.is_coordinator and current_user.partner_id is None:
        abort(403)


def _editable(event_id: int) -> Event:
    try:
        event = event_by_id(event_id)
    except DomainError:
        abort(404)
    if not current_user.can_edit_event(event):
        abort(403)
    return event


def _choices(raw: dict) -> dict:
    """What the form offers: places (searched), organisers, their people, rooms of the place."""
    places = places_matching(current_user, raw.get("lieu_q", ""))
    chosen = None
    if raw.get("place"):
        try:
            chosen = place_by_slug(raw["place"])
        except DomainError:
            chosen = None
        if chosen is not None and chosen not in places:
            places.insert(0, chosen)
    partners = partners_actor_may_name(current_user)
    people = list(db.session.scalars(db.select(Person).where(Person.partner_id.in_([p.id for p in partners]))
                                     .order_by(Person.name).limit(200))) if partners else []
    return {"places": places, "partners": partners, "people": people, "rooms": chosen.rooms if chosen else [],
            "kinds": EVENT_KINDS, "visibilities": VISIBILITIES, "frequencies": FREQUENCIES,
            "weekday_names": WEEKDAY_NAMES, "month_weeks": MONTH_WEEKS, "zones": SCHOOL_ZONE_CHOICES,
            "quartiers": quartiers_for_filters()}


def _render(raw: dict, errors: dict, *, event: Event | None = None, scope: str = "serie", on: str = "",
            preview=None, status: int = 200, duplicate_of: Event | None = None):
    occurrences = coming_dates(event) if event is not None and event.is_recurring else []
    return render_template("events/form.html", f=raw, errors=errors, event=event, scope=scope, on=on,
                           scopes=SCOPES, occurrences=occurrences, preview=preview,
                           duplicate_of=duplicate_of, **_choices(raw)), status


def coming_dates(event: Event) -> list[tuple[str, str]]:
    """The coming dates of a series, as (ISO date, French label), for the date choices."""
    return [(o.start.date().isoformat(), f"{day_label(o.start.date())} {o.start.year}, {hour_label(o.start)}"
             + (" (annulée)" if o.is_cancelled else ""))
            for o in next_occurrences(event, max(utcnow(), event.starts_at) - timedelta(hours=12), limit=60)]


def _write_for(raw: dict, values: dict, event: Event | None, scope: str, on: str):
    """The write the form asks for, as a function of an EventWrites (a dry run or the real one)
    returning the event to show."""
    if event is None:
        return lambda w: w.create(values)
    if scope == "serie":
        return lambda w: (w.update(event, values), event)[1]
    day = _day_of(on)
    if scope == "suivantes":
        split_values = {k: v for k, v in values.items() if k not in ("start_date", "count")}
        return lambda w: w.split(event, day, split_values)
    start, move = _move_of(event, values, day)
    return lambda w: (w.move_occurrence(event, start, **move), event)[1]


def _move_of(event: Event, values: dict, day: date) -> tuple[datetime, dict]:
    """One date of a series as the form now says it: its time, room and place."""
    start = _occurrence_of(event, day)
    starts_at = datetime.combine(day, values["start_time"], ZoneInfo(event.timezone))
    move = {"starts_at": starts_at, "ends_at": starts_at + timedelta(minutes=values["duration_minutes"]),
            "room": values.get("room") or ""}
    if values["place"] != event.place.slug:
        move["place"] = values["place"]
    return start, move


def _day_of(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput.on("occurrence", "Choisissez la date de la série concernée.") from None


def _occurrence_of(event: Event, day: date) -> datetime:
    instant = occurrence_on(rule_of(event), day.toordinal())
    if instant is None:
        raise InvalidInput.on("occurrence", f"La série n'a pas de séance le {day_label(day)} {day.year}.")
    return datetime.fromtimestamp(instant, ZoneInfo("UTC"))


def _handle(event: Event | None = None):
    """A submitted form: search places, preview, or save."""
    raw = raw_of(request.form)
    scope = request.form.get("scope", "serie") if event is not None else "serie"
    scope = scope if scope in SCOPES else "serie"
    on = request.form.get("occurrence", "")
    action = request.form.get("action", "save")
    if action == "search":
        return _render(raw, {}, event=event, scope=scope, on=on)
    if action == "add_place":
        return _add_place(raw, event, scope, on)
    values, errors = parse(raw)
    if errors:
        return _render(raw, errors, event=event, scope=scope, on=on, status=422)
    try:
        if action == "preview":
            preview = dry_run(current_user, _write_for(raw, values, event, scope, on))
            return _render(raw, {}, event=event, scope=scope, on=on, preview=preview)
        saved = _save(raw, values, event, scope, on)
    except DomainError as error:
        db.session.rollback()
        return _render(raw, errors_of(error), event=event, scope=scope, on=on,
                       status=403 if isinstance(error, Forbidden) else 422)
    db.session.commit()
    return redirect(url_for("coordination.event", event_id=saved.id))


def _add_place(raw: dict, event: Event | None, scope: str, on: str):
    """The new place of the form's "Ajouter ce lieu": written (audited), then chosen in the form,
    the rest of what was typed kept."""
    values, errors = new_place_values(raw, current_user)
    status = 422
    if not errors:
        try:
            place = add_place(current_user, values)
        except DomainError as error:
            db.session.rollback()
            errors = place_errors_of(error)
            status = 403 if isinstance(error, Forbidden) else 422
        else:
            db.session.commit()
            raw.update(dict.fromkeys(NEW_PLACE_FIELDS, ""), place=place.slug, lieu_q="")
            flash(f"Lieu « {place.name} » ajouté : il est choisi ci-dessous.", "success")
            return _render(raw, {}, event=event, scope=scope, on=on)
    return _render(raw, errors, event=event, scope=scope, on=on, status=status)


def _save(raw: dict, values: dict, event: Event | None, scope: str, on: str) -> Event:
    if event is None:
        written = writes.create_event(current_user, values)
        flash(f"Évènement créé. Chevauchements : {len(written.conflicts)}.", "success")
        return written.event
    if scope == "serie":
        written = writes.update_event(current_user, event, values)
        flash(f"Série enregistrée. Chevauchements : {len(written.conflicts)}.", "success")
        return event
    if scope == "suivantes":
        split_values = {k: v for k, v in values.items() if k not in ("start_date", "count")}
        written = writes.split_event(current_user, event, _day_of(on), split_values)
        flash("La série est coupée en deux : la nouvelle commence le "
              f"{day_label(written.event.start_date)}. Chevauchements : {len(written.conflicts)}.", "success")
        return written.event
    start, move = _move_of(event, values, _day_of(on))
    writes.move_occurrence(current_user, event, start, **move)
    flash("Cette date est modifiée ; les autres restent comme la série le dit.", "success")
    return event


@bp.route("/nouveau", methods=["GET", "POST"])
@login_required
def new():
    """The form of a new event (GET), and what it sends: search, preview, save (POST)."""
    _may_create()
    if request.method == "POST":
        return _handle()
    raw = blank_raw()
    raw["lieu_q"] = request.args.get("lieu_q", "").strip()
    return _render(raw, {})


@bp.route("/<int:event_id>/modifier", methods=["GET", "POST"])
@login_required
def edit(event_id: int):
    event = _editable(event_id)
    if request.method == "POST":
        return _handle(event)
    scope = request.args.get("portee", "serie")
    return _render(raw_of_event(event), {}, event=event, scope=scope if scope in SCOPES else "serie",
                   on=request.args.get("date", ""))


@bp.get("/<int:event_id>/dupliquer")
@login_required
def duplicate(event_id: int):
    """A copy of the event, open in the form of a new one (nothing written until it is saved)."""
    _may_create()
    try:
        event = event_by_id(event_id)
    except DomainError:
        abort(404)
    raw = raw_of_event(event)
    if not current_user.is_coordinator and current_user.partner and current_user.partner.slug not in raw["organisers"]:
        raw["organisers"] = [current_user.partner.slug, *raw["organisers"]]
    return _render(raw, {}, duplicate_of=event)


@bp.post("/apercu")
@login_required
def preview():
    """The preview alone (htmx asks for it at each change of the form)."""
    event = _editable(int(request.form["event_id"])) if request.form.get("event_id", "").isdigit() else None
    if event is None:
        _may_create()
    raw = raw_of(request.form)
    scope = request.form.get("scope", "serie")
    values, errors = parse(raw)
    found = None
    if not errors:
        try:
            found = dry_run(current_user, _write_for(raw, values, event, scope if scope in SCOPES else "serie",
                                                     request.form.get("occurrence", "")))
        except DomainError as error:
            db.session.rollback()
            errors = errors_of(error)
            if isinstance(error, Forbidden):
                return render_template("events/_preview.html", preview=None, errors=errors), 403
    return render_template("events/_preview.html", preview=found, errors=errors)


@bp.route("/<int:event_id>/annuler", methods=["GET", "POST"])
@login_required
def cancel(event_id: int):
    """Cancel one date (with the reason the public reads), end the series from a date, delete."""
    event = _editable(event_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        action = request.form.get("action", "")
        try:
            if action == "delete":
                title = event.title
                writes.delete_event(current_user, event)
                db.session.commit()
                flash(f"« {title} » est supprimé.", "success")
                return redirect(url_for("coordination.dashboard"))
            day = _day_of(request.form.get("occurrence", ""))
            if action == "end":
                writes.end_series(current_user, event, day)
                message = f"La série s'arrête : plus de séance à partir du {day_label(day)}."
            else:
                writes.cancel_occurrence(current_user, event, _occurrence_of(event, day),
                                         request.form.get("reason", "").strip())
                message = f"La séance du {day_label(day)} est annulée."
        except DomainError as error:
            db.session.rollback()
            errors = errors_of(error)
        else:
            db.session.commit()
            flash(message, "success")
            return redirect(url_for("coordination.event", event_id=event.id))
    return render_template("events/cancel.html", event=event, errors=errors, on=request.values.get("date", ""),
                           occurrences=coming_dates(event) if event.is_recurring else []), 422 if errors else 200


# --- my calendar (templates/coordination/_my_calendar.html, on the dashboard) ---------------------

MY_WEEKS = 4
FIRST_VISIT_LOOKS_BACK = timedelta(days=7)


@bp.before_app_request
def _note_visit():
    """A new visit to the coordination pages remembers when the previous one ended (in the
    session): a coordinator's "changed since your last visit" counts from there."""
    if not request.path.startswith("/coordination") or not current_user.is_authenticated:
        return
    seen = current_user.last_seen_at
    previous = note_visit(current_user)
    if previous is not None or "previous_visit" not in session:
        session["previous_visit"] = (previous or utcnow() - FIRST_VISIT_LOOKS_BACK).isoformat()
    if current_user.last_seen_at != seen:
        db.session.commit()


@bp.app_context_processor
def _my_calendar():
    # coming_dates: the series page (templates/coordination/event.html) lists its dates with
    # the form's three choices on each.
    # hour_label: "14 h – 17 h" as on every other page, not the form's "14:00".
    return {"my_calendar": my_calendar, "coming_dates": coming_dates, "hour_label": hour_label}


def my_calendar() -> dict:
    """An editor's coming weeks of their partner's events (theirs first: the dashboard opens on
    them); a coordinator's events created or changed by partners since their last visit."""
    if current_user.is_coordinator:
        since = datetime.fromisoformat(session.get("previous_visit") or (utcnow() - FIRST_VISIT_LOOKS_BACK).isoformat())
        return {"since": since, "changed": changed_by_partners_since(current_user, since), "days": []}
    if current_user.partner is None:
        return {"days": [], "changed": []}
    zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    start = datetime.combine(datetime.now(zone).date(), time(), zone)
    pairs = occurrences_between(CalendarFilter(partner=current_user.partner.slug, include_private=True), start,
                                start + timedelta(weeks=MY_WEEKS))
    days: dict[date, list] = {}
    for o, event in pairs:
        days.setdefault(o.start.date(), []).append({"o": o, "event": event})
    return {"days": [{"label": day_label(d), "rows": rows} for d, rows in sorted(days.items())], "changed": []}
