"""Conditional feed polls against their floor (issue 21, item 1), both in one run.

    python bench/polls.py [--scale 0.05] [--seconds 20] [--connections 16] [--write-every 2] [--check]

On 127.0.0.1, with the same gunicorn command (the Procfile's `web:` line, its 3 workers, its
access log) and the same load generator (wrk if installed, else a Python client with threads;
one connection per wrk thread, so that each thread knows which feed an answer is for):

1. Maillage on PostgreSQL with the national calendar at `--scale` (bench/national.py; 0.05: a
   large region, 1,500 series) and the demo territory, in a database of its own (dropped at
   the end): every feed asked once per worker, then subscribers polling the 351 feeds of
   bench/load.py in turn with `If-None-Match` (304; after a write in its scope, a 200 whose new
   ETag the next polls send), while an editor renames one of its partner's events through the
   API every `--write-every` seconds;
2. a bare Flask app answering 304 (bench/bare304.py) under the same gunicorn line: the floor.

Each run is preceded by a few seconds of the same load, not counted (every worker warm).
Prints req/s, p50/p99 and errors of both, the ratio, the load average; the last line starts with
BENCH. Target (--check exits 1 when missed): Maillage >= 0.5x the floor's req/s, p99 <= 50 ms,
no error (socket errors, HTTP statuses >= 400, refused writes).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Not bench/ itself (python puts the script's folder first): its public.py would shadow the
# `public` package aiosmtpd imports when the app loads its commands.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent

import requests
import sqlalchemy as sa

from bench.load import PG_ADMIN_URL, choose_targets, cpu_seconds, load_data
from tests.helpers.processes import free_port, procfile_web_line, procfile_workers, start_web

TARGET_RATIO, TARGET_P99_MS = 0.5, 50.0
WARM_SECONDS = 4

_LUA = r"""
local threads, counter = {}, 0
setup = function(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end
init = function(args)
  full, not_modified, other = 0, 0, 0
  k = (id * 7919) % #paths
end
request = function()
  k = (k % #paths) + 1
  return wrk.format("GET", paths[k], {["If-None-Match"] = etags[k]})
end
response = function(status, headers, body)
  if status == 304 then
    not_modified = not_modified + 1
  elseif status == 200 then
    full = full + 1
    local e = headers["ETag"] or headers["Etag"] or headers["etag"]
    if e then etags[k] = e end
  else
    other = other + 1
  end
end
done = function(summary, latency, requests)
  local full_, nm, oth = 0, 0, 0
  for _, t in ipairs(threads) do
    full_ = full_ + t:get("full"); nm = nm + t:get("not_modified"); oth = oth + t:get("other")
  end
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %d, "seconds": %f, "socket_errors": %d, "status_errors": %d, '
    .. '"p50": %f, "p99": %f, "max": %f, "full": %d, "not_modified": %d, "other": %d}\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, full_, nm, oth))
end
"""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(host: str, paths: list[str], etags: list[str], seconds: float, connections: int, folder: Path) -> dict:
    script = folder / "polls.lua"
    script.write_text("paths = {" + ", ".join(map(_lua_string, paths)) + "}\n"
                      + "etags = {" + ", ".join(map(_lua_string, etags)) + "}\n" + _LUA, encoding="utf-8")
    done = subprocess.run(["wrk", "-t", str(connections), "-c", str(connections), "-d", f"{seconds}s",
                           "--timeout", "5s", "-s", str(script), host], capture_output=True, text=True,
                          timeout=seconds + 60)
    for line in done.stdout.splitlines():
        if line.startswith("WRKJSON "):
            figures = json.loads(line.removeprefix("WRKJSON "))
            figures["rps"] = figures["requests"] / figures["seconds"]
            return figures
    raise SystemExit(f"wrk gave no figures:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def run_python(host: str, paths: list[str], etags: list[str], seconds: float, connections: int,
               folder: Path) -> dict:
    """The same load from threads of this process (without wrk): one connection each, the next
    poll sent when the last answer is read."""
    address = host.removeprefix("http://")
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    counts = {"full": 0, "not_modified": 0, "other": 0, "socket_errors": 0, "status_errors": 0}
    lock = threading.Lock()

    def client(n: int) -> None:
        mine, tags, k = [], list(etags), (n * 7919) % len(paths)
        local = dict.fromkeys(counts, 0)
        connection = http.client.HTTPConnection(address, timeout=5)
        while time.monotonic() < deadline:
            k = (k + 1) % len(paths)
            started = time.perf_counter()
            try:
                connection.request("GET", paths[k], headers={"If-None-Match": tags[k]})
                answer = connection.getresponse()
                answer.read()
            except (OSError, http.client.HTTPException):
                local["socket_errors"] += 1
                connection.close()
                connection = http.client.HTTPConnection(address, timeout=5)
                continue
            mine.append((time.perf_counter() - started) * 1000)
            if answer.status == 304:
                local["not_modified"] += 1
            elif answer.status == 200:
                local["full"] += 1
                tags[k] = answer.headers.get("ETag", tags[k])
            else:
                local["other"] += 1
                local["status_errors"] += answer.status >= 400
            if answer.headers.get("Connection", "").lower() == "close":
                connection.close()
                connection = http.client.HTTPConnection(address, timeout=5)
        with lock:
            latencies.extend(mine)
            for key, value in local.items():
                counts[key] += value

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    at = lambda q: latencies[min(len(latencies) - 1, int(len(latencies) * q))] if latencies else 0.0  # noqa: E731
    return {"requests": len(latencies), "seconds": elapsed, "rps": len(latencies) / elapsed, "p50": at(0.5),
            "p99": at(0.99), "max": latencies[-1] if latencies else 0.0, **counts}


class Writer(threading.Thread):
    """An editor renaming one of its partner's events through the API every `every` seconds."""

    def __init__(self, host: str, editor: dict, every: float):
        super().__init__(daemon=True)
        self.host, self.editor, self.every = host, editor, every
        self.stop = threading.Event()
        self.done, self.refused = 0, []

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.editor['token']}"}
        events = sorted({e for e, _ in self.editor["occurrences"]})
        while not self.stop.wait(self.every):
            event_id = random.choice(events)
            answer = requests.patch(f"{self.host}/api/v1/events/{event_id}", headers=headers, timeout=30,
                                    json={"title": f"Permanence emploi {uuid.uuid4().hex[:8]}"})
            if answer.status_code == 200:
                self.done += 1
            else:
                self.refused.append(f"HTTP {answer.status_code}: {answer.text[:200]}")


def stop(server) -> None:
    if server is not None and server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.05, help="of bench/national.py's calendar")
    parser.add_argument("--seconds", type=float, default=20, help="of each measured run")
    parser.add_argument("--connections", type=int, default=16, help="concurrent pollers (one wrk thread each)")
    parser.add_argument("--write-every", type=float, default=2.0, help="seconds between two writes (Maillage run)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", procfile_workers())))
    parser.add_argument("--python-client", action="store_true", help="the Python client even if wrk is installed")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None and not args.python_client
    drive = run_wrk if use_wrk else run_python

    name = f"maillage_bench_polls_{uuid.uuid4().hex[:8]}"
    url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    folder = Path(tempfile.mkdtemp(prefix="maillage-polls-"))
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-polls-" + uuid.uuid4().hex,
           "BASE_URL": "http://127.0.0.1", "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
           # Every simulated subscriber comes from 127.0.0.1: the per-address feed limit stands
           # for thousands of addresses here.
           "RATELIMIT_FEEDS": "100000000 per minute"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = writer = None
    load_before = os.getloadavg()
    try:
        load_data(url, args.scale, env)
        targets = choose_targets(url, env, folder, random.Random(7), 1)
        paths = targets["feeds"]

        # 1. Maillage
        port = free_port()
        host = f"http://127.0.0.1:{port}"
        server = start_web(port, args.workers, env, folder / "gunicorn.log")
        etags = []
        for round_ in range(args.workers):  # each worker keeps its own copy of what it built
            for path in paths:
                answer = requests.get(host + path, timeout=120)
                answer.raise_for_status()
                if round_ == 0:
                    etags.append(answer.headers["ETag"])
        drive(host, paths, etags, WARM_SECONDS, args.connections, folder)
        writer = Writer(host, targets["editors"][0], args.write_every)
        before = cpu_seconds(pgid=server.pid), cpu_seconds(name="postgres: ")
        writer.start()
        mine = drive(host, paths, etags, args.seconds, args.connections, folder)
        writer.stop.set()
        writer.join(60)
        used = (cpu_seconds(pgid=server.pid) - before[0], cpu_seconds(name="postgres: ") - before[1])
        stop(server)
        server = None

        # 2. the floor
        port = free_port()
        host = f"http://127.0.0.1:{port}"
        server = start_web(port, args.workers, env, folder / "bare.log", app="bench.bare304:app",
                           ready_path="/healthz")
        drive(host, paths, etags, WARM_SECONDS, args.connections, folder)
        bare_before = cpu_seconds(pgid=server.pid)
        bare = drive(host, paths, etags, args.seconds, args.connections, folder)
        bare_used = cpu_seconds(pgid=server.pid) - bare_before
    finally:
        if writer is not None:
            writer.stop.set()
        stop(server)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    load_after = os.getloadavg()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"{when}; gunicorn: `{procfile_web_line()}` with WEB_CONCURRENCY={args.workers}; "
          f"{'wrk' if use_wrk else 'Python client'}, {args.connections} connections, {args.seconds:.0f} s each, "
          f"{len(paths)} feeds in turn with If-None-Match; load average before {load_before[0]:.1f}, "
          f"after {load_after[0]:.1f} ({os.cpu_count()} cores, shared)")
    for label, figures in (("Maillage", mine), ("bare Flask 304", bare)):
        print(f"{label}: {figures['rps']:.0f} req/s, p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms, "
              f"max {figures['max']:.0f} ms; {figures['not_modified']} 304, {figures['full']} 200, "
              f"{figures['other']} other; errors: {figures['socket_errors']} socket, {figures['status_errors']} HTTP")
    print(f"writes during the Maillage run: {writer.done} acknowledged, {len(writer.refused)} refused"
          + "".join(f"\n  refused: {r}" for r in writer.refused[:5]))
    print(f"CPU during the measured runs: Maillage's gunicorn {used[0]:.1f} s "
          f"({used[0] / max(mine['requests'], 1) * 1000:.2f} ms a request), PostgreSQL {used[1]:.1f} s; "
          f"bare gunicorn {bare_used:.1f} s ({bare_used / max(bare['requests'], 1) * 1000:.2f} ms a request)")
    errors = mine["socket_errors"] + mine["status_errors"] + len(writer.refused)
    bare_errors = bare["socket_errors"] + bare["status_errors"]
    ratio = mine["rps"] / max(bare["rps"], 1e-9)
    ok = ratio >= TARGET_RATIO and mine["p99"] <= TARGET_P99_MS and errors == 0 and bare_errors == 0 and writer.done > 0
    print(f"BENCH polls: Maillage {mine['rps']:.0f} req/s p99 {mine['p99']:.1f} ms vs bare Flask 304 "
          f"{bare['rps']:.0f} req/s p99 {bare['p99']:.1f} ms: {ratio:.2f}x, {errors} errors, {writer.done} writes; "
          f"target >= {TARGET_RATIO}x, p99 <= {TARGET_P99_MS:.0f} ms, no error: {'met' if ok else 'MISSED'}")
    if args.check and not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
