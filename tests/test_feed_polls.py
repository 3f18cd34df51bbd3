"""What a feed poll costs under load (bench/load.py): a client that holds the current version
gets its 304 without the feed being built again, even from a process that no longer keeps the
feed's bytes; after a write it gets the new version."""
from __future__ import annotations


def test_a_poll_with_the_current_etag_is_a_304_without_rebuilding_in_a_process_that_forgot_the_bytes(
        client, create_partner, create_place, create_event):
    from scheduler import feeds

    partner = create_partner("mission-locale-sud-isere")
    place = create_place("bij-echirolles")
    create_event(place, [partner], title="Permanence au BIJ")
    first = client.get("/feeds/partners/mission-locale-sud-isere.ics")
    assert first.status_code == 200 and b"Permanence au BIJ" in first.data
    etag = first.headers["ETag"]

    feeds.forget_feeds()  # another worker, or this one after its memory moved on
    again = client.get("/feeds/partners/mission-locale-sud-isere.ics", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag
    assert not feeds._memory  # answered from the stored state: nothing was built

    stale = client.get("/feeds/partners/mission-locale-sud-isere.ics", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200 and b"Permanence au BIJ" in stale.data and stale.headers["ETag"] == etag


def test_after_a_write_the_old_etag_gets_the_new_feed_even_from_a_process_that_forgot_the_bytes(
        client, create_partner, create_place, create_event, token_for):
    from scheduler import feeds

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
