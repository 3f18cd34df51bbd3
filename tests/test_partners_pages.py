"""The public directory of partners (/partenaires) and a partner's page: who does what, where."""
from __future__ import annotations

from datetime import timedelta

import pytest

from helpers.dates import paris_today


@pytest.fixture
def partners(create_partner, create_quartier, create_place, create_event):
    villeneuve = create_quartier("QP038014", "Villeneuve")
    maurepas = create_quartier("QP035005", "Maurepas", ("Rennes",), "35")
    ml = create_partner("mission-locale-sud-isere", "Mission locale Sud Isère", contact_email="accueil@ml.example.fr",
                        contact_phone="04 76 00 00 00", website="https://ml.example.fr")
    cs = create_partner("centre-social-maurepas", "Centre social de Maurepas", type="centre_social")
    ft = create_partner("france-travail-rennes", "France Travail Rennes", type="france_travail")
    bij = create_place("bij-echirolles", "BIJ d'Échirolles", quartier=villeneuve.code)
    create_place("centre-social-maurepas", quartier=maurepas.code, postcode="35700", host_partner=cs.slug)
    monday = paris_today() + timedelta(days=7 - paris_today().weekday())
    create_event(bij, [ml], title="Permanence au BIJ", start_date=monday, frequency="weekly", weekdays=[0])
    create_event(bij, [ml], title="Tour de table", kind="coordination", visibility="partners", start_date=monday)
    return {"ml": ml, "cs": cs, "ft": ft}


def test_the_directory_filters_by_quartier_kind_and_spe(client, partners):
    def names(query=""):
        html = client.get("/partenaires" + query).get_data(as_text=True)
        return [name for name in ("Mission locale Sud Isère", "Centre social de Maurepas", "France Travail Rennes")
                if name in html]

    assert names() == ["Mission locale Sud Isère", "Centre social de Maurepas", "France Travail Rennes"]
    assert names("?quartier=QP038014") == ["Mission locale Sud Isère"]
    assert names("?quartier=QP035005") == ["Centre social de Maurepas"]  # it hosts a place there
    assert names("?type=france_travail") == ["France Travail Rennes"]
    assert names("?spe=0") == ["Centre social de Maurepas"]
    assert names("?spe=1") == ["Mission locale Sud Isère", "France Travail Rennes"]


def test_a_partner_page_says_what_it_offers_where_and_when_and_how_to_reach_it(client, partners):
    response = client.get("/partenaires/mission-locale-sud-isere")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Mission locale — service public de l&#39;emploi" in html
    assert 'href="mailto:accueil@ml.example.fr"' in html and 'href="tel:0476000000"' in html
    assert "Permanence au BIJ</a> (Permanence) : tous les lundis de 14 h à 17 h" in html
    assert html.count('data-event-id=') == 4  # the next four Mondays
    assert "Tour de table" not in html  # partners only
    assert "BIJ d&#39;Échirolles</a>, quartier <a href=\"/quartiers/QP038014\">Villeneuve</a>" in html
    assert 'href="/feeds/partners/mission-locale-sud-isere.ics"' in html


def test_an_unknown_partner_is_a_french_404(client, partners):
    response = client.get("/partenaires/inconnu")
    assert response.status_code == 404 and "Partenaire inconnu : inconnu." in response.get_data(as_text=True)
