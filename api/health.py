"""`/healthz` (is this process able to serve: database, clock) and `/metrics` (Prometheus).

Request counts and latencies are counted by each process; with several gunicorn workers, set
PROMETHEUS_MULTIPROC_DIR (an empty directory shared by the workers of one machine) and every
worker's counts are added up at scrape time. What the database knows (reminders sent and failed,
open conflicts) is read from it at scrape time, so every process answers the same figures.
"""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, g, jsonify, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import REGISTRY

from models import db
from scheduler import clock

bp = Blueprint("health", __name__)

REQUESTS = Counter("maillage_http_requests", "HTTP requests answered, by endpoint and status",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("maillage_http_request_duration_seconds", "Time to answer a request, by endpoint",
                    ["endpoint"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
FEED_RESPONSES = Counter("maillage_feed_responses", "Feed answers: a full calendar or 304 Not Modified",
                         ["result"])

# The clock renews its lock every 15 s and gives it up after 60 s without a heartbeat.
CLOCK_LATE_AFTER = timedelta(seconds=90)


def _before():
    g.maillage_started = time.perf_counter()


def _after(response):
    started = g.pop("maillage_started", None)
    endpoint = request.endpoint or "unmatched"  # a bounded set of labels, never the raw path
    if endpoint in ("health.metrics",):
        return response
    count_answer(endpoint, request.method, response.status_code, started)
    return response


def count_answer(endpoint: str, method: str, status: int, started: float | None) -> None:
    """Counts an answer (also those made in front of the app: api/feeds.py, FeedPolls)."""
    REQUESTS.labels(endpoint, method, str(status)).inc()
    if started is not None:
        LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    if endpoint.startswith("feeds.") and status in (200, 304):
        FEED_RESPONSES.labels("not_modified" if status == 304 else "full").inc()


def _table(name: str) -> sa.Table | None:
    """A table of another feature, if that feature is installed (its model imported)."""
    return db.metadata.tables.get(name)


def clock_state(connection) -> dict:
    """Is the clock process alive? PostgreSQL: its advisory lock is held by a live session;
    SQLite: its lock row's heartbeat is recent."""
    key = clock.ADVISORY_LOCK_KEY
    locks = _table("clock_locks")
    if connection.dialect.name == "postgresql" and key is not None:
        held = connection.execute(sa.text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND ((classid::bigint << 32) | objid::bigint) = :key"), {"key": key}).scalar()
        return {"status": "ok" if held else "down", "lock": "advisory"}
    if locks is not None:
        beat = connection.execute(sa.select(sa.func.max(locks.c.heartbeat_at))).scalar()
        if beat is None:
            return {"status": "down", "last_heartbeat": None}
        if beat.tzinfo is None:
            beat = beat.replace(tzinfo=UTC)
        late = datetime.now(UTC) - beat > CLOCK_LATE_AFTER
        return {"status": "late" if late else "ok", "last_heartbeat": beat.isoformat()}
    return {"status": "unknown"}


@bp.get("/healthz")
def healthz():
    """200 when the database answers (a load balancer keeps sending traffic); 503 when it does not.
    The clock's state is reported, not judged: a stopped clock delays reminders, not pages."""
    started = time.perf_counter()
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            database = {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
            clock = clock_state(connection)
    except sa.exc.SQLAlchemyError as error:
        # The driver's message names the database's host, port and user: the log keeps it, the
        # answer (anyone may ask) only says what kind of failure it was.
        reason = str(getattr(error, "orig", None) or error).splitlines()[0][:200]
        current_app.logger.warning("/healthz : base de données injoignable : %s", reason)
        body = {"status": "down", "database": {"status": "down", "error": type(error).__name__},
                "clock": {"status": "unknown"}}
        return jsonify(body), 503, {"Cache-Control": "no-store"}
    status = "ok" if clock["status"] in ("ok", "unknown") else "degraded"
    return jsonify({"status": status, "database": database, "clock": clock}), 200, {"Cache-Control": "no-store"}


class DatabaseCollector:
    """Figures the database holds, read at scrape time (the same from every process)."""

    def collect(self):
        try:
            with db.engine.connect() as connection:
                yield from self._from(connection)
        except sa.exc.SQLAlchemyError:
            return  # /healthz says why; a scrape still gets the request metrics

    def _from(self, connection):
        deliveries = _table("deliveries")
        if deliveries is not None:
            family = GaugeMetricFamily("maillage_deliveries", "Reminders and notices by state "
                                       "(pending, sent, failed, skipped)", labels=["state"])
            counts = dict(connection.execute(sa.select(deliveries.c.state, sa.func.count())
                                             .group_by(deliveries.c.state)).all())
            for state in sorted({"pending", "sent", "failed", "skipped", *counts}):
                family.add_metric([state], counts.get(state, 0))
            yield family
        conflicts = _table("conflicts")
        if conflicts is not None:
            family = GaugeMetricFamily("maillage_conflicts", "Overlaps between partners by status", labels=["status"])
            counts = dict(connection.execute(sa.select(conflicts.c.status, sa.func.count())
                                             .group_by(conflicts.c.status)).all())
            for status in sorted({"open", *counts}):
                family.add_metric([status], counts.get(status, 0))
            yield family
        clock = clock_state(connection)
        up = GaugeMetricFamily("maillage_clock_up", "1 when the clock process is alive, 0 when not, "
                               "-1 when unknown")
        up.add_metric([], {"ok": 1, "unknown": -1}.get(clock["status"], 0))
        yield up


class FeedRatioCollector:
    """The share of feed polls answered 304: what conditional GET saves. Computed from the
    (possibly multi-process) counters of the same scrape."""

    def __init__(self, registry):
        self.registry = registry

    def collect(self):
        totals = {"full": 0.0, "not_modified": 0.0}
        for metric in self.registry.collect():
            if metric.name == "maillage_feed_responses":
                for sample in metric.samples:
                    if sample.name.endswith("_total"):
                        totals[sample.labels["result"]] = totals.get(sample.labels["result"], 0) + sample.value
        family = GaugeMetricFamily("maillage_feed_not_modified_ratio", "Feed polls answered 304 / all feed polls")
        polls = totals["full"] + totals["not_modified"]
        family.add_metric([], totals["not_modified"] / polls if polls else 0.0)
        yield family


def _registry():
    # prometheus_client reads the same variable itself, at import, to write each worker's counts there.
    if current_app.config["PROMETHEUS_MULTIPROC_DIR"]:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


@bp.get("/metrics")
def metrics():
    """Prometheus text format."""
    source = _registry()
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_Forward(source))
    scrape.register(FeedRatioCollector(source))
    scrape.register(DatabaseCollector())
    # generate_latest writes the 0.0.4 text format, which every Prometheus reads.
    return Response(generate_latest(scrape), content_type=CONTENT_TYPE_PLAIN_0_0_4,
                    headers={"Cache-Control": "no-store"})


class _Forward:
    def __init__(self, registry):
        self.registry = registry

    def collect(self):
        yield from self.registry.collect()


def init_app(app) -> None:
    app.before_request(_before)
    app.after_request(_after)
    app.register_blueprint(bp)
