"""What a feed poll costs under load (bench/load.py): a client that holds the current version
gets its 304 without the feed being built again, even from a process that no longer keeps the
feed's bytes; after a write it gets the new version."""
from __future__ import annotations


def test_a_poll_with_the_current_etag_is_a_304_without_rebuilding_in_a_process_that_forgot_the_bytes(
        client, create_partner, create_place, create_event):
    from scheduler.ical import feeds

    partner = create_partner("mission-locale-sud-isere")
    place = create_place("bij-echirolles")
    create_event(place, [partner], title="Permanence au BIJ")
    first = client.get("/feeds/partners/mission-locale-sud-isere.ics")
    assert first.status_code == 200 and b"Permanence au BIJ" in first.data
    etag = first.headers["ETag"]

    feeds.forget_feeds()  # another worker, or this one after its memory moved on
    again = client.get("/feeds/partners/mission-locale-sud-isere.ics", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    assert not feeds.feeds_in_memory()  # answered from the stored state: nothing was built

    stale = client.get("/feeds/partners/mission-locale-sud-isere.ics", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200 and b"Permanence au BIJ" in stale.data and stale.headers["ETag"] == etag


def test_after_a_write_the_old_etag_gets_the_new_feed_even_from_a_process_that_forgot_the_bytes(
        client, create_partner, create_place, create_event, token_for):
    from scheduler.ical import feeds

    partner = create_partner("mission-locale-sud-isere")
    place = create_place("bij-echirolles")
    event = create_event(place, [partner], title="Permanence au BIJ")
    etag = client.get("/feeds/partners/mission-locale-sud-isere.ics").headers["ETag"]
    renamed = client.patch(f"/api/v1/events/{event.id}", json={"title": "Permanence emploi au BIJ"},
                           headers=token_for())
    assert renamed.status_code == 200
    feeds.forget_feeds()
    after = client.get("/feeds/partners/mission-locale-sud-isere.ics", headers={"If-None-Match": etag})
    assert after.status_code == 200 and b"Permanence emploi au BIJ" in after.data
    assert after.headers["ETag"] != etag


def test_an_unknown_partner_feed_is_still_a_404(client):
    response = client.get("/feeds/partners/personne.ics")
    assert response.status_code == 404 and "Partenaire inconnu" in response.get_json()["message"]


class _Statements:
    """The SQL a block of code sends (to tell a feed read back from a feed built)."""

    def __init__(self):
        import sqlalchemy as sa

        from models import db

        self.engine, self.sent = db.engine, []
        self.listener = lambda conn, cursor, statement, *args: self.sent.append(statement)
        sa.event.listen(self.engine, "before_cursor_execute", self.listener)

    def __enter__(self):
        return self.sent

    def __exit__(self, *exc):
        import sqlalchemy as sa

        sa.event.remove(self.engine, "before_cursor_execute", self.listener)


def test_a_feed_built_by_one_process_is_served_by_another_without_building_it_again(
        client, create_partner, create_place, create_event):
    from scheduler.ical import feeds

    partner = create_partner("mission-locale-sud-isere")
    create_event(create_place("bij-echirolles"), [partner], title="Permanence au BIJ")
    first = client.get("/feeds/partners/mission-locale-sud-isere.ics")
    assert first.status_code == 200
    feeds.forget_feeds()  # the other process: nothing in memory
    with _Statements() as sent:
        second = client.get("/feeds/partners/mission-locale-sud-isere.ics")
    assert second.status_code == 200 and second.data == first.data and second.headers["ETag"] == first.headers["ETag"]
    assert not any("FROM events" in s for s in sent), sent  # read back, not built


def test_a_write_rebuilds_the_feeds_that_show_it_and_leaves_the_others_as_they_were(
        client, create_partner, create_place, create_event, token_for):
    import sqlalchemy as sa

    from models import FeedState, db
    from scheduler.ical.feeds import FeedSpec

    ml, cs = create_partner("mission-locale-sud-isere"), create_partner("centre-social-surieux", type="centre_social")
    bij, centre = create_place("bij-echirolles"), create_place("centre-social-surieux")
    at_bij = create_event(bij, [ml], title="Permanence au BIJ")
    create_event(centre, [cs], title="Atelier CV au centre social", kind="atelier")
    paths = {"ml": "/feeds/partners/mission-locale-sud-isere.ics", "cs": "/feeds/partners/centre-social-surieux.ics",
             "bij": "/feeds/places/bij-echirolles.ics", "centre": "/feeds/places/centre-social-surieux.ics",
             "all": "/feeds/all.ics"}
    etags = {name: client.get(path).headers["ETag"] for name, path in paths.items()}
    specs = {"ml": FeedSpec("partner", "mission-locale-sud-isere"), "cs": FeedSpec("partner", "centre-social-surieux"),
             "bij": FeedSpec("place", "bij-echirolles"), "centre": FeedSpec("place", "centre-social-surieux"),
             "all": FeedSpec("all")}

    def markers():
        db.session.expire_all()
        return {name: db.session.scalar(sa.select(FeedState.marker).where(FeedState.key == spec.key))
                for name, spec in specs.items()}

    before = markers()
    renamed = client.patch(f"/api/v1/events/{at_bij.id}", json={"title": "Permanence emploi au BIJ"},
                           headers=token_for())
    assert renamed.status_code == 200
    polled = {name: client.get(path, headers={"If-None-Match": etags[name]}) for name, path in paths.items()}
    assert {name: r.status_code for name, r in polled.items()} == {"ml": 200, "bij": 200, "all": 200,
                                                                   "cs": 304, "centre": 304}
    assert b"Permanence emploi au BIJ" in polled["ml"].data and b"Permanence emploi au BIJ" in polled["all"].data
    after = markers()
    assert {name for name in specs if after[name] != before[name]} == {"ml", "bij", "all"}
