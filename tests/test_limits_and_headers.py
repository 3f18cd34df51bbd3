"""The limits of the API and pages (body, page size, window, request rate) and the security
headers every response carries."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest

import web
from app import create_app
from helpers.actors import SYSTEM
from helpers.dates import next_monday


def assert_json_error(response, code):
    body = response.get_json()
    assert response.status_code == code, (response.status_code, response.get_data(as_text=True)[:300])
    assert set(body) == {"code", "status", "message", "errors"} and body["code"] == code
    return body


@pytest.fixture
def limited(app, database_url):
    """build(**RATELIMITS) -> a second app on the test database with those rate limits."""
    made = []

    def build(storage="memory://", **limits):
        other = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
                            "RATELIMITS": limits, "RATELIMIT_STORAGE_URI": storage,
                            # Parallel runs sharing one Redis never count each other's requests.
                            "RATELIMIT_KEY_PREFIX": f"maillage-test-{uuid.uuid4().hex}"})
        made.append(other)
        return other

    yield build
    for other in made:
        with other.app_context():
            from models import db

            db.engine.dispose()


def test_a_body_over_one_megabyte_is_refused_in_the_json_shape(client, token_for):
    body = '{"name": "' + "x" * (1024 * 1024) + '"}'
    response = client.post("/api/v1/partners", data=body, content_type="application/json", headers=token_for())
    assert "1 Mo" in assert_json_error(response, 413)["message"]


def test_a_page_larger_than_one_hundred_items_is_refused(client):
    assert "page_size" in str(assert_json_error(client.get("/api/v1/events?page_size=101"), 422)["errors"])
    assert client.get("/api/v1/events?page_size=100").status_code == 200


def test_a_window_longer_than_four_hundred_days_is_refused(client):
    body = assert_json_error(client.get("/api/v1/occurrences?start=2027-01-01&end=2028-02-06"), 422)
    assert "400 jours" in body["message"]
    assert client.get("/api/v1/occurrences?start=2027-01-01&end=2028-02-04").status_code == 200


def test_an_occurrence_query_of_more_than_ten_thousand_occurrences_comes_in_pages_not_refused(
        client, create_partner, create_quartier, create_place, create_event):
    """No silent cut and no refusal: past what one page holds, the answer says where the next
    page is (Link rel=next) until every occurrence has come."""
    create_quartier("QN03801M")
    create_quartier("QN03802M", name="Essarts")
    here = create_place("bij-echirolles", quartier="QN03801M")
    there = create_place("pimms-essarts", quartier="QN03802M")
    ml, ft = create_partner("mission-locale"), create_partner("france-travail", type="france_travail")
    monday = next_monday()
    for i in range(25):
        create_event(here if i else there, [ft if i else ml], title=f"Permanence {i}", start_date=monday,
                     start_time=f"{8 + i % 10:02d}:00", duration_minutes=30, frequency="daily",
                     skip_public_holidays=False)
    # 25 daily series over 400 days and one more event: 10,001 occurrences, once refused whole.
    create_event(there, [ml], title="Permanence 25", start_date=monday, frequency="once")
    start, end = monday.isoformat(), (monday + timedelta(days=400)).isoformat()

    url, seen, pages = f"/api/v1/occurrences?start={start}&end={end}&limit=2000", set(), 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        seen.update((o["event_id"], o["recurrence_id"]) for o in response.get_json())
        pages += 1
        link = response.headers.get("Link")
        url = link[link.index("/api/"):link.index(">")] if link else None
    assert len(seen) == 25 * 400 + 1 and pages == 6
    first = client.get(f"/api/v1/occurrences?start={start}&end={end}")
    assert len(first.get_json()) == 500 and 'rel="next"' in first.headers["Link"]
    for query, count in (("quartier=QN03802M", 401), ("partner=mission-locale", 401), ("place=pimms-essarts", 401)):
        assert len(client.get(f"/api/v1/occurrences?start={start}&end={end}&{query}").get_json()) == count


def test_anonymous_occurrence_queries_are_limited_per_address_and_a_token_is_not(limited, token_for):
    client = limited(occurrences="2 per minute").test_client()
    assert [client.get("/api/v1/occurrences").status_code for _ in range(2)] == [200, 200]
    refused = client.get("/api/v1/occurrences")
    assert "réessayez" in assert_json_error(refused, 429)["message"] and int(refused.headers["Retry-After"]) > 0
    headers = token_for()
    assert [client.get("/api/v1/occurrences", headers=headers).status_code for _ in range(3)] == [200, 200, 200]
    assert client.get("/api/v1/occurrences", headers={"Authorization": "Bearer faux"}).status_code == 401
    assert client.get("/api/v1/occurrences", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200


def test_the_openapi_document_states_the_bounds_of_an_occurrence_query(client):
    operation = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/occurrences"]["get"]
    description = operation["description"]
    assert "400 jours au plus" in description and "500 par défaut, au plus 2000" in description
    assert {"200", "422", "429"} <= set(operation["responses"])


@pytest.mark.parametrize("path", ["/api/v1/partners", "/api/v1/people", "/api/v1/places", "/api/v1/quartiers"])
def test_the_lists_of_the_territory_come_in_pages(client, create_partner, create_quartier, create_place, token_for,
                                                  path):
    import json

    from models import db
    from models.operations.partners import create_person

    partners = [create_partner(slug) for slug in ("mission-locale", "pimms", "centre-social")]
    for code in ("QN03801M", "QN03802M", "QN03803M"):
        create_quartier(code, name=code)
    for slug in ("bij", "pij", "fjt"):
        create_place(slug)
    for name in ("Awa Diallo", "Karim Benali", "Nadia Haddad"):
        create_person(SYSTEM, {"partner": partners[0].slug, "name": name})
    db.session.commit()
    headers = token_for()
    first = client.get(f"{path}?page_size=2", headers=headers)
    assert first.status_code == 200 and len(first.get_json()) == 2
    assert json.loads(first.headers["X-Pagination"])["total"] == 3
    second = client.get(f"{path}?page_size=2&page=2", headers=headers).get_json()
    assert len(second) == 1 and second[0] not in first.get_json()
    assert "page_size" in str(assert_json_error(client.get(f"{path}?page_size=101", headers=headers), 422)["errors"])
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "X-Pagination" in spec["paths"][path]["get"]["responses"]["200"]["headers"]


def _sign_in_attempt(client, headers=None):
    page = client.get("/coordination/connexion", headers=headers).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    return client.post("/coordination/connexion", headers=headers, data={
        "email": "coordo@example.fr", "password": "pas le bon mot de passe", "csrf_token": token})


def test_sign_in_attempts_are_limited_per_address_with_a_french_page(limited):
    client = limited(**{"auth.login": "3 per minute"}).test_client()
    assert [_sign_in_attempt(client).status_code for _ in range(3)] == [401, 401, 401]  # wrong password
    refused = _sign_in_attempt(client)
    assert refused.status_code == 429
    assert "Trop de tentatives" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0
    # Showing the form stays free; another address is not held back.
    assert client.get("/coordination/connexion").status_code == 200
    client.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert _sign_in_attempt(client).status_code == 401


def test_creating_private_feed_links_is_limited_per_address(limited, sign_in):
    client = limited(**{"feeds_pages.private_links": "2 per minute"}).test_client()
    sign_in(client, "coordo@example.fr")

    def create():
        page = client.get("/coordination/liens-prives").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        return client.post("/coordination/liens-prives", data={"csrf_token": token, "action": "create",
                                                               "owner": "me", "label": "Agenda"})

    assert [create().status_code for _ in range(2)] == [200, 200]
    refused = create()
    assert refused.status_code == 429 and "Trop de tentatives" in refused.get_data(as_text=True)


def test_subscription_requests_are_limited_per_address_with_a_french_page(limited, create_quartier):
    """Each request makes Maillage write to the address given: not an open relay for anyone."""
    assert "subscriptions.subscribe_page" in create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["RATELIMITS"]
    create_quartier("QN03801M")
    client = limited(**{"subscriptions.subscribe_page": "2 per minute"}).test_client()

    def request(email, headers=None):
        page = client.get("/abonnement?quartier=QN03801M", headers=headers).get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        return client.post("/abonnement?quartier=QN03801M", headers=headers, data={"csrf_token": token,
                                                                                    "email": email})

    assert [request(f"victime{i}@example.fr").status_code for i in range(2)] == [200, 200]
    refused = request("victime3@example.fr")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Trop de demandes" in refused.get_data(as_text=True)
    assert client.get("/abonnement?quartier=QN03801M").status_code == 200  # the form itself stays free
    client.environ_base["REMOTE_ADDR"] = "192.0.2.7"  # another address
    assert request("voisine@example.fr").status_code == 200


def test_every_rate_limit_names_an_endpoint_or_blueprint_that_exists():
    """A renamed view would otherwise silently lose its limit."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    for name in app.config["RATELIMITS"]:
        target, _, key = name.partition("/")
        assert target in app.blueprints or target in app.view_functions, name
        assert not key or key in web.RATE_KEYS, name


def test_feed_polling_is_limited_per_address_in_the_json_shape(limited):
    client = limited(feeds="2 per minute").test_client()
    assert [client.get("/feeds/all.ics").status_code for _ in range(2)] == [200, 200]
    refused = client.get("/feeds/all.ics")
    assert "réessayez" in assert_json_error(refused, 429)["message"]
    assert int(refused.headers["Retry-After"]) > 0


def test_polls_answered_in_front_of_the_app_count_against_the_feed_limit(limited):
    client = limited(feeds="2 per minute").test_client()
    first = client.get("/feeds/all.ics")
    polls = [client.get("/feeds/all.ics", headers={"If-None-Match": first.headers["ETag"]}) for _ in range(2)]
    assert [first.status_code, *(p.status_code for p in polls)] == [200, 304, 429]
    assert int(polls[-1].headers["Retry-After"]) > 0


def test_a_large_feed_limit_is_counted_by_batches_and_still_holds(limited):
    """60 a minute: sent to the storage two requests at a time (extensions.BatchedLimit)."""
    client = limited(feeds="60 per minute").test_client()
    statuses = [client.get("/feeds/all.ics").status_code for _ in range(64)]
    assert statuses[:60] == [200] * 60
    assert statuses[-2:] == [429, 429]


def test_several_processes_share_their_counters_through_redis(limited):
    """Two apps (as two gunicorn workers would be) on one Redis: the limit is for both together."""
    redis_url = "redis://127.0.0.1:6379"
    try:
        import redis

        redis.Redis.from_url(redis_url).ping()
    except Exception as error:
        pytest.fail(f"Redis is expected at {redis_url} (see README): {error}")
    first = limited(storage=redis_url, feeds="3 per minute")
    second = create_app({**first.config, "RATELIMITS": {"feeds": "3 per minute"}})
    a, b = first.test_client(), second.test_client()
    assert [c.get("/feeds/all.ics").status_code for c in (a, b, a)] == [200, 200, 200]
    assert b.get("/feeds/all.ics").status_code == 429
    with second.app_context():
        from models import db

        db.engine.dispose()


@pytest.mark.parametrize("path", ["/api/v1/partners", "/feeds/all.ics", "/coordination/connexion", "/"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in response.headers  # plain http: HSTS would be ignored


def test_hsts_is_sent_when_the_proxy_says_the_request_came_over_https(database_url):
    other = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test", "TRUSTED_PROXIES": 1})
    response = other.test_client().get("/api/v1/partners", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    with other.app_context():
        from models import db

        db.engine.dispose()


def test_without_a_trusted_proxy_forwarded_headers_are_ignored(limited, database_url):
    other = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test", "TRUSTED_PROXIES": 0})
    response = other.test_client().get("/api/v1/partners", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers
    with other.app_context():
        from models import db

        db.engine.dispose()
