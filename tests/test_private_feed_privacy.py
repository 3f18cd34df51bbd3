"""What a private link holds (issue 18, item 8): a person's own link ("Moi") only the events of
their partner and of their territory; a partners-only event that their partner does not
organise keeps its dates, kind and organisers, never its title nor description (a young
person's first name may be there). A partner's link holds that partner's events, titles in full."""
from __future__ import annotations

import icalendar
import pytest

from helpers.dates import quiet_monday


@pytest.fixture
def two_territories(create_partner, create_quartier, create_place, create_event):
    echirolles = create_quartier("QN03801M", "Villeneuve", ("Échirolles",), "38")
    rennes = create_quartier("QN03501M", "Maurepas", ("Rennes",), "35")
    bij = create_place("bij-echirolles", quartier=echirolles.code)
    centre = create_place("centre-social-village-2", quartier=echirolles.code)
    fjt = create_place("fjt-rennes", quartier=rennes.code)
    ml = create_partner("mission-locale-sud-isere", "Mission locale Sud-Isère")
    social = create_partner("centre-social-village-2", "Centre social Village 2", type="centre_social")
    foyer = create_partner("fjt-rennes", "FJT de Rennes", type="fjt")
    monday = quiet_monday()
    events = {
        "ml public": create_event(bij, [ml], title="Permanence de la mission locale au BIJ", start_date=monday),
        "ml private": create_event(bij, [ml], title="Point d'équipe ML", kind="coordination", start_date=monday,
                                   start_time="09:00", visibility="partners"),
        "social private": create_event(centre, [social], title="Parrainage : rencontre avec Inès", kind="other",
                                       start_date=monday, start_time="17:30", duration_minutes=60,
                                       visibility="partners"),
        "fjt private": create_event(fjt, [foyer], title="Parrainage : rencontre avec Yanis", kind="other",
                                    start_date=monday, start_time="18:00", duration_minutes=60,
                                    visibility="partners", description="Yanis, 19 ans, chambre 12"),
        "fjt public": create_event(fjt, [foyer], title="Atelier CV au FJT", kind="atelier", start_date=monday),
    }
    return {"echirolles": echirolles, "rennes": rennes, "ml": ml, "social": social, "foyer": foyer,
            "events": events}


def private_link(user=None, partner=None) -> str:
    from models import db
    from models.operations.feeds import create_feed_token

    _, token = create_feed_token(user or partner_user(partner), user=user, partner=partner)
    db.session.commit()
    return f"/feeds/private/{token}.ics"


def partner_user(partner):
    from models.operations.users import get_or_create_user

    return get_or_create_user(f"admin@{partner.slug}.example", "editor", partner)


def person(email: str, role: str, partner=None, quartiers=()):
    from models import db
    from models.operations.users import get_or_create_user

    user = get_or_create_user(email, role, partner)
    user.quartiers.extend(quartiers)
    db.session.commit()
    return user


def summaries(client, url: str) -> dict[str, str]:
    """UID -> (SUMMARY, DESCRIPTION) of the feed's series (overrides left out)."""
    response = client.get(url)
    assert response.status_code == 200
    calendar = icalendar.Calendar.from_ical(response.data)
    return {str(v["UID"]): (str(v["SUMMARY"]), str(v.get("DESCRIPTION", "")))
            for v in calendar.walk("VEVENT") if "RECURRENCE-ID" not in v}


def by_key(t, found: dict) -> dict[str, tuple[str, str]]:
    uids = {e.uid: key for key, e in t["events"].items()}
    return {uids[uid]: value for uid, value in found.items()}


def test_an_editors_own_link_holds_only_what_their_partner_and_territory_concern(client, two_territories):
    t = two_territories
    editor = person("karima@ml.example", "editor", t["ml"])
    body = client.get(private_link(user=editor)).data
    feed = by_key(t, summaries(client, private_link(user=editor)))
    # The mission locale works in Échirolles: its events, and the others' there; nothing of Rennes.
    assert set(feed) == {"ml public", "ml private", "social private"}
    assert feed["ml private"][0] == "Point d'équipe ML"
    assert feed["social private"][0] == "Réservé aux partenaires : autre — Centre social Village 2"
    assert "Inès" not in feed["social private"][1]
    assert b"Yanis" not in body and "Inès".encode() not in body


def test_a_coordinators_link_holds_their_territory_and_no_first_name(client, two_territories):
    t = two_territories
    rennes_coordinator = person("coordo@rennes.example", "coordinator", quartiers=[t["rennes"]])
    feed = by_key(t, summaries(client, private_link(user=rennes_coordinator)))
    assert set(feed) == {"fjt private", "fjt public"}
    assert feed["fjt private"][0] == "Réservé aux partenaires : autre — FJT de Rennes"
    assert "Yanis" not in feed["fjt private"][1]

    national = person("coordo@national.example", "coordinator")
    response = client.get(private_link(user=national))
    feed = by_key(t, summaries(client, private_link(user=national)))
    assert set(feed) == set(t["events"])
    assert b"Yanis" not in response.data and "Inès".encode() not in response.data


def test_a_partners_link_holds_its_own_events_with_their_titles(client, two_territories):
    t = two_territories
    feed = by_key(t, summaries(client, private_link(partner=t["foyer"])))
    assert set(feed) == {"fjt private", "fjt public"}
    assert feed["fjt private"] == ("Parrainage : rencontre avec Yanis", feed["fjt private"][1])
    assert "Yanis, 19 ans" in feed["fjt private"][1]


def test_the_rule_is_stated_on_the_personal_data_page(client):
    page = client.get("/donnees-personnelles").get_data(as_text=True)
    assert "prénom" in page and "Réservé aux partenaires" in page
