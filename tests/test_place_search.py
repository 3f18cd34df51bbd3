"""Finding places as a young person types on a phone (commune, postcode, quartier, place name;
no accents, no capitals, a typo) and around a position: the look-ups, the home page, the API's
near=lat,lon&radius_km=."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from conftest import quiet_monday


@pytest.fixture
def places(create_quartier, create_place, create_partner, create_event):
    create_quartier("QP038014", "Villeneuve – Village 2", ("Échirolles", "Grenoble"), "38")
    create_quartier("QP035005", "Maurepas", ("Rennes",), "35")
    made = {
        "bij": create_place("bij-echirolles", "BIJ d'Échirolles", quartier="QP038014",
                            address="1 place des Cinq-Fontaines", postcode="38130", city="Échirolles",
                            latitude=45.146, longitude=5.717),
        "village": create_place("centre-social-village-2", "Centre social Village 2", quartier="QP038014",
                                postcode="38130", city="Échirolles", latitude=45.142, longitude=5.720),
        "grenoble": create_place("mjc-grenoble", "MJC Prémol", postcode="38100", city="Grenoble",
                                 latitude=45.166, longitude=5.732),
        "rennes": create_place("centre-social-maurepas", "Centre social de Maurepas", quartier="QP035005",
                               postcode="35700", city="Rennes", latitude=48.126, longitude=-1.660),
        "nowhere": create_place("salle-sans-adresse", "Salle des fêtes", city="Échirolles"),
    }
    ml = create_partner("mission-locale")
    for place in made.values():
        create_event(place, [ml], title=f"Permanence à {place.name}", start_date=quiet_monday())
    return made


def slugs(matches) -> list[str]:
    return [m.slug for m in matches]


@pytest.mark.parametrize("typed", ["Échirolles", "echirolles", "ECHIROLLES", "echirol", "echirolle", "echirols",
                                   "échirolesse"[:9], "38130", "3813"])
def test_a_commune_or_postcode_finds_its_places_however_it_is_typed(places, typed):
    from models.operations.place_search import search_places

    found = slugs(search_places(typed))
    assert {"bij-echirolles", "centre-social-village-2"} <= set(found), typed
    assert "centre-social-maurepas" not in found and "mjc-grenoble" not in found


def test_a_place_or_quartier_name_finds_it_and_nonsense_finds_nothing(places):
    from models.operations.place_search import search_places

    assert slugs(search_places("bij"))[0] == "bij-echirolles"
    assert slugs(search_places("BIJ d'echirolles")) == ["bij-echirolles"]
    assert set(slugs(search_places("vilneuve"))) == {"bij-echirolles", "centre-social-village-2"}
    assert slugs(search_places("maurepas")) == ["centre-social-maurepas"]
    assert slugs(search_places("rennes 35700")) == ["centre-social-maurepas"]
    assert search_places("zzzz") == [] and search_places("  ") == [] and search_places("75") == []


def test_places_near_a_position_come_nearest_first_within_the_radius(places):
    from models.operations.place_search import distance_km, places_near

    near = places_near(45.146, 5.717, 10)
    ids = [place_id for place_id, _ in near]
    assert ids == [places["bij"].id, places["village"].id, places["grenoble"].id]
    assert near[0][1] == pytest.approx(0, abs=0.01) and near[2][1] == pytest.approx(2.6, abs=0.3)
    assert [i for i, _ in places_near(45.146, 5.717, 1)] == [places["bij"].id, places["village"].id]
    assert distance_km(45.146, 5.717, 48.126, -1.660) == pytest.approx(650, rel=0.05)


def test_the_home_page_shows_what_a_search_finds_first(client, places):
    monday = quiet_monday()
    html = client.get(f"/?q=echirolles&du={monday}").get_data(as_text=True)
    assert "Près de « echirolles »" in html
    found = html[html.index('id="trouves"'):html.index('<p class="lead">')]
    assert "Permanence à BIJ d&#39;Échirolles" in found and "Maurepas" not in found
    assert found.index('id="lieu-bij-echirolles"') < found.index('id="lieu-centre-social-village-2"')
    # The weekday is written out beside each time.
    assert f'<span class="day">Lundi {monday.day}' in found
    assert "Rien trouvé pour « qsdfgh »" in client.get("/?q=qsdfgh").get_data(as_text=True)


def test_the_home_page_sorts_by_distance_from_a_rounded_position(client, places):
    html = client.get(f"/?pres=45.14619,5.71712&du={quiet_monday()}").get_data(as_text=True)
    assert "Autour de vous" in html
    found = html[html.index('id="trouves"'):html.index('<p class="lead">')]
    order = [found.index(f'id="lieu-{slug}"') for slug in ("bij-echirolles", "centre-social-village-2", "mjc-grenoble")]
    assert order == sorted(order) and "centre-social-maurepas" not in found
    # Rounded to 45.15,5.72 before use: 0.5 km from the BIJ, 2.0 km from the MJC.
    assert "à moins de 1 km" in found and "à 2,0 km" in found
    assert client.get("/?pres=quarante,cinq").status_code == 400
    assert client.get("/?pres=95,5").status_code == 400


def test_the_api_gives_the_occurrences_near_a_point_with_their_distance(client, places):
    start = quiet_monday()
    window = {"start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat()}
    near = client.get("/api/v1/occurrences", query_string={**window, "near": "45.146,5.717", "radius_km": "1"})
    assert near.status_code == 200
    assert {(o["place"]["slug"], round(o["place"]["distance_km"], 1)) for o in near.get_json()} == {
        ("bij-echirolles", 0.0), ("centre-social-village-2", 0.5)}
    default = client.get("/api/v1/occurrences", query_string={**window, "near": "45.146,5.717"}).get_json()
    assert {o["place"]["slug"] for o in default} == {"bij-echirolles", "centre-social-village-2", "mjc-grenoble"}
    for bad in ({"near": "45.146"}, {"near": "a,b"}, {"near": "91,0"}, {"near": "45,5", "radius_km": "0"},
                {"near": "45,5", "radius_km": "500"}):
        refused = client.get("/api/v1/occurrences", query_string={**window, **bad})
        assert refused.status_code == 422 and set(refused.get_json()) == {"code", "status", "message", "errors"}
    assert "near" in client.get("/api/v1/openapi.json").get_data(as_text=True)


def test_the_quartiers_to_choose_from_are_named_with_their_commune_in_the_communes_order(
        client, create_quartier):
    create_quartier("QN03801M", "Villeneuve – Village 2", ("Échirolles",), "38")
    create_quartier("QN01301M", "La Gavotte-Peyret", ("Marseille", "Septèmes-les-Vallons"), "13")
    create_quartier("QN03501M", "Maurepas", ("Rennes",), "35")
    for url in ("/", "/widget/"):
        html = client.get(url).get_data(as_text=True)
        labels = re.findall(r'<option value="(?:quartier:)?(QN\d+M)"[^>]*>([^<]+)</option>', html)
        assert labels == [("QN03801M", "Échirolles — Villeneuve – Village 2"),
                          ("QN01301M", "Marseille — La Gavotte-Peyret"),
                          ("QN03501M", "Rennes — Maurepas")], url
