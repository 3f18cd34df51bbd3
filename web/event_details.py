"""What an event's page says beyond its dates: how to get there, whom to call, and the schema.org
data that lets search engines show the dates."""
from __future__ import annotations

from urllib.parse import quote

from models import Place
from scheduler.french import rule_phrase


def safe_url(url: str | None) -> str | None:
    """Only web links from partners become links: never javascript: or data: URLs."""
    if url and url.strip().lower().startswith(("https://", "http://")):
        return url.strip()
    return None


def directions_links(place: Place) -> dict:
    """How to get there: OpenStreetMap's route planner to the place, and a geo: URI that a phone
    opens in its own map application."""
    if place.latitude is None or place.longitude is None:
        return {}
    lat, lon = place.latitude, place.longitude
    return {"directions": f"https://www.openstreetmap.org/directions?route=%3B{lat}%2C{lon}#map=17/{lat}/{lon}",
            "geo": f"geo:{lat},{lon}?q={lat},{lon}({quote(place.name)})"}


def organiser_contacts(e) -> list[dict]:
    """Each organiser with the ways to reach it that it gave: a phone to tap, an address, a site."""
    contacts = []
    for p in e.organisers:
        phone = (p.contact_phone or "").strip()
        contacts.append({"partner": p, "phone": phone or None,
                         "tel": "tel:" + "".join(c for c in phone if c.isdigit() or c == "+") if phone else None,
                         "email": (p.contact_email or "").strip() or None, "website": safe_url(p.website)})
    return contacts


def schema_place(place: Place) -> dict:
    """A place as schema.org reads it: its name, its postal address (the fields it has) and its
    coordinates when known."""
    address = {"@type": "PostalAddress", "streetAddress": place.address, "postalCode": place.postcode,
               "addressLocality": place.city, "addressCountry": "FR"}
    location: dict = {"@type": "Place", "name": place.name,
                      "address": {k: v for k, v in address.items() if v}}
    if place.latitude is not None and place.longitude is not None:
        location["geo"] = {"@type": "GeoCoordinates", "latitude": place.latitude, "longitude": place.longitude}
    return location


def event_structured_data(e, rows: list[dict], page_url: str) -> list[dict]:
    """schema.org Events (JSON-LD), one per coming date, so that search engines show the dates
    (a date moved elsewhere with its own place)."""
    organisers = [{"@type": "Organization", "name": p.name, **({"url": safe_url(p.website)} if safe_url(p.website)
                                                                else {})} for p in e.organisers]
    return [{
        "@context": "https://schema.org", "@type": "Event", "name": e.title, "url": page_url,
        "description": e.description or rule_phrase(e), "startDate": r["start"].isoformat(),
        "endDate": r["end"].isoformat(), "inLanguage": "fr",
        "eventStatus": "https://schema.org/EventCancelled" if r["is_cancelled"] else (
            "https://schema.org/EventRescheduled" if r["is_moved"] else "https://schema.org/EventScheduled"),
        "eventAttendanceMode": "https://schema.org/OfflineEventAttendanceMode", "isAccessibleForFree": True,
        "location": schema_place(r["place"]),
        "organizer": organisers,
    } for r in rows]
