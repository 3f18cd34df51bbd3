"""Coordination pages are never stored by a cache (issue 15, item 9): `Cache-Control: no-store` on
every answer under /coordination, signed in or not, pages and downloads; public pages keep theirs."""
import pytest


@pytest.mark.parametrize("path", ["/coordination/", "/coordination/envois/", "/coordination/comptes/",
                                  "/coordination/liens-prives", "/coordination/semaine",
                                  "/coordination/import/modele.csv"])
def test_every_coordination_answer_says_no_store(client, sign_in, path):
    sign_in(client)
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    assert response.headers["Cache-Control"] == "no-store", path


def test_the_sign_in_page_and_a_refusal_say_no_store_too(client):
    assert client.get("/coordination/connexion").headers["Cache-Control"] == "no-store"
    redirected = client.get("/coordination/envois/")
    assert redirected.status_code == 302 and redirected.headers["Cache-Control"] == "no-store"


def test_public_pages_are_not_concerned(client):
    assert client.get("/").headers.get("Cache-Control") != "no-store"
