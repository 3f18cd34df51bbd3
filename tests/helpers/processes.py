"""Maillage's processes as they run in production: the Procfile's web line under gunicorn, on a free port."""
from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
GUNICORN = BIN / "gunicorn"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_web_line() -> str:
    for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("web:"):
            return line.removeprefix("web:").strip()
    raise SystemExit("Procfile has no web: line")


def procfile_web_command(port: int) -> list[str]:
    """The Procfile's `web:` line as arguments (no shell), on 127.0.0.1:port with one worker."""
    line = procfile_web_line().replace("${BIND:-127.0.0.1}", "127.0.0.1").replace("${PORT:-5000}", str(port))
    command = shlex.split(re.sub(r"\$\{WEB_CONCURRENCY:-\d+\}", "1", line))
    assert command[0] == "gunicorn"
    return [str(GUNICORN), *command[1:]]


def stop_process_groups(processes: list[subprocess.Popen], wait: float) -> None:
    """SIGTERM to the group of each process still running (each started with a session of its
    own: only what the caller started), then SIGKILL to those not gone after `wait` seconds."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def procfile_workers() -> int:
    """The workers the Procfile's web line starts when WEB_CONCURRENCY is not set."""
    found = re.search(r"\$\{WEB_CONCURRENCY:-(\d+)\}", procfile_web_line())
    return int(found.group(1)) if found else 1


def get(url: str, timeout: float = 120) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        response.read()
        return response.status


ACCESS_LOG_FORMAT = "%(m)s %(U)s%(q)s %(s)s %(M)s"


def start_web(port: int, workers: int, env: dict, log: Path, access_log: Path | None = None,
              app: str = "app:app", ready_path: str = "/static/maillage.css") -> subprocess.Popen:
    """The Procfile's web line as honcho would run it (a shell), on 127.0.0.1:port, in a process
    group of its own (os.killpg ends it and its workers). `access_log`: where its access log goes,
    each line ending with the milliseconds gunicorn spent on the request (GUNICORN_CMD_ARGS,
    the line itself unchanged). `app`: another WSGI app served by the same line (a benchmark's
    floor), ready once `ready_path` answers."""
    line = procfile_web_line()
    assert line.endswith(" app:app"), line
    line = line.removesuffix("app:app") + app
    web_env = {**env, "BIND": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(workers),
               "PATH": f"{BIN}:{env.get('PATH', os.environ.get('PATH', ''))}"}
    if access_log is not None:
        web_env["GUNICORN_CMD_ARGS"] = f"--access-logformat '{ACCESS_LOG_FORMAT}'"
    # The log files are handed to the server, open for its life.
    server = subprocess.Popen(["sh", "-c", f"exec {line}"], cwd=ROOT, env=web_env,
                              stdout=open(access_log, "w") if access_log else subprocess.DEVNULL,  # noqa: SIM115
                              stderr=open(log, "w"), start_new_session=True)  # noqa: SIM115
    deadline = time.monotonic() + 60
    while True:
        try:
            get(f"http://127.0.0.1:{port}{ready_path}", timeout=5)
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.3)
