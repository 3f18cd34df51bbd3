"""Writes nobody waits behind (scheduler/rebuild.py): once a write is committed, the feeds and
pages it changes are rebuilt in the background, re-rendering only the series it wrote, so that the
next reader is served what was built; a reader never gets the old version, whether the rebuild is
done, still running or failed."""
from __future__ import annotations

import threading
from datetime import date

import pytest
import sqlalchemy as sa


@pytest.fixture
def rebuilding(app):
    """The app with its rebuilds after writes on (the suite runs with them off), and this
    process's feeds forgotten (what another database's tests left)."""
    from scheduler.ical import feeds
    from scheduler.rebuild import rebuilder

    feeds.forget_feeds()
    app.extensions["page_cache"].recipes.clear()  # the pages earlier tests served
    app.config["REBUILD_AFTER_WRITES"] = True
    background = rebuilder(app)
    yield background
    app.config["REBUILD_AFTER_WRITES"] = False
    assert background.wait_idle(), "the background rebuild did not end"


@pytest.fixture
def three_series(create_partner, create_place, create_event):
    partner = create_partner("mission-locale-sud-isere")
    place = create_place("bij-echirolles")
    return [create_event(place, [partner], title=title, start_date=date.today(), start_time=f"{9 + 2 * i}:00",
                         duration_minutes=60)
            for i, title in enumerate(("Permanence au BIJ", "Atelier CV", "Club emploi"))]


class _Statements:
    """The SQL sent while inside (to tell a page served as built from a page built)."""

    def __enter__(self):
        from models import db

        self.engine, self.sent = db.engine, []
        sa.event.listen(self.engine, "before_cursor_execute", self._note)
        return self.sent

    def _note(self, conn, cursor, statement, *args):
        self.sent.append(statement)

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._note)


def _rename(client, token_for, event, title: str) -> None:
    response = client.patch(f"/api/v1/events/{event.id}", json={"title": title}, headers=token_for())
    assert response.status_code == 200


def test_after_a_write_the_next_reader_gets_what_the_background_built_from_the_one_series_rendered_again(
        client, rebuilding, three_series, token_for):
    from scheduler.ical import feeds

    assert rebuilding.wait_idle()
    assert b"Club emploi" in client.get("/feeds/all.ics").data
    assert "Club emploi" in client.get("/").get_data(as_text=True)
    rendered = feeds.series_rendered()

    _rename(client, token_for, three_series[1], "Atelier CV et lettre de motivation")
    assert rebuilding.wait_idle()
    # The feed of the whole territory holds three series: only the one written was rendered again.
    assert feeds.series_rendered() - rendered == 1
    rendered = feeds.series_rendered()
    with _Statements() as sent:
        feed = client.get("/feeds/all.ics")
        page = client.get("/")
    assert b"Atelier CV et lettre de motivation" in feed.data and b"Club emploi" in feed.data
    assert "Atelier CV et lettre de motivation" in page.get_data(as_text=True)
    assert feeds.series_rendered() == rendered  # served as the background built them
    assert not [s for s in sent if "FROM events" in s], "a reader read the events: it built again"
    assert rebuilding.failures == 0


def test_a_write_to_what_every_series_shows_renders_them_all_again(
        client, rebuilding, three_series, create_place, token_for):
    from models import Place, db
    from scheduler.ical import feeds

    assert rebuilding.wait_idle()
    client.get("/feeds/all.ics")
    rendered = feeds.series_rendered()
    place = db.session.scalar(sa.select(Place).where(Place.slug == "bij-echirolles"))
    response = client.patch(f"/api/v1/places/{place.slug}", json={"name": "BIJ de la Villeneuve"},
                            headers=token_for())
    assert response.status_code == 200, response.get_json()
    assert rebuilding.wait_idle()
    assert feeds.series_rendered() - rendered == 3  # the place's name is in each
    assert client.get("/feeds/all.ics").data.count(b"BIJ de la Villeneuve") >= 3


def test_a_reader_that_comes_before_the_rebuild_ends_gets_the_new_version(
        client, rebuilding, three_series, token_for):
    from scheduler.rebuild import HOOKS

    assert rebuilding.wait_idle()
    old = client.get("/feeds/all.ics")
    client.get("/")
    release, started = threading.Event(), threading.Event()

    def held_back(scopes, config):  # the background rebuild, slower than the reader
        started.set()
        release.wait(30)

    HOOKS.insert(0, held_back)
    try:
        _rename(client, token_for, three_series[0], "Permanence emploi au BIJ")
        assert started.wait(10)
        feed = client.get("/feeds/all.ics")
        assert b"Permanence emploi au BIJ" in feed.data and feed.headers["ETag"] != old.headers["ETag"]
        assert "Permanence emploi au BIJ" in client.get("/").get_data(as_text=True)
    finally:
        release.set()
        HOOKS.remove(held_back)


def test_a_failing_rebuild_loses_no_write_and_serves_no_stale_data(
        client, rebuilding, three_series, token_for, monkeypatch):
    from models import Event, db
    from scheduler.ical import feeds

    assert rebuilding.wait_idle()
    old = client.get("/feeds/all.ics")
    render = feeds.render_fragment

    def fails_in_the_background(event, ctx):
        if threading.current_thread().name == "maillage-rebuild":
            raise RuntimeError("panne pendant la reconstruction")
        return render(event, ctx)

    monkeypatch.setattr(feeds, "render_fragment", fails_in_the_background)
    _rename(client, token_for, three_series[2], "Club emploi des jeunes")
    assert rebuilding.wait_idle()
    assert rebuilding.failures == 1
    db.session.expire_all()
    assert db.session.get(Event, three_series[2].id).title == "Club emploi des jeunes"  # the write stands
    feed = client.get("/feeds/all.ics")
    assert b"Club emploi des jeunes" in feed.data and feed.headers["ETag"] != old.headers["ETag"]
    assert "Club emploi des jeunes" in client.get("/").get_data(as_text=True)
