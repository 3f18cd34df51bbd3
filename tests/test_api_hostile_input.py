"""Hostile input: schemathesis (the real command, `st run`) drives every operation of
/api/v1/openapi.json over HTTP against a served Maillage, with every one of its checks (server
errors, status codes, content types, headers and bodies against the document, valid data
accepted and invalid data refused, unsupported methods and their Allow header, authentication
not ignored, stateful links), with and without a token, on SQLite and PostgreSQL.

The number of examples is bounded and the seed fixed, so a run is repeatable and takes about a
minute or two per backend and token; its figures are printed (`-s` shows them) and kept in
docs/api.md (Checks). A failure prints schemathesis's report: the operation and a curl command.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ST = Path(sys.executable).parent / "st"
MAX_EXAMPLES = 5
SEED = 20261204


@pytest.fixture
def calendar(create_partner, create_quartier, create_place, create_event):
    """A little real data, so that generated requests also meet existing rows, not only 404s."""
    quartier = create_quartier()
    partner = create_partner("mission-locale-sud-isere")
    place = create_place("bij-echirolles", quartier=quartier.code)
    create_event(place, [partner])
    return partner


def run_schemathesis(base_url: str, headers: dict, report_dir: Path) -> tuple[dict, str, float]:
    command = [str(ST), "--config-file", str(HERE / "schemathesis.toml"), "run", f"{base_url}/api/v1/openapi.json",
               "--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1",
               "--phases", "examples,coverage,fuzzing,stateful", "--no-color", "--output-truncate", "false",
               "--report", "json", "--report-dir", str(report_dir), "--request-timeout", "30"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    began = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    elapsed = time.monotonic() - began
    reports = sorted(report_dir.glob("*.json"))
    assert reports, done.stdout[-5000:] + done.stderr[-2000:]
    return json.loads(reports[-1].read_text()), done.stdout, elapsed


@pytest.mark.parametrize("with_token", [False, True], ids=["anonymous", "coordinator"])
def test_no_api_operation_answers_a_server_error_or_contradicts_its_document(app, live_server, calendar, token_for,
                                                                          backend, tmp_path, with_token):
    headers = token_for() if with_token else {}
    report, output, elapsed = run_schemathesis(live_server, headers, tmp_path)
    figures = {"when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "backend": backend,
               "token": with_token, "operations": report["operations"]["tested"],
               "cases": report["test_cases"]["generated"], "seconds": round(elapsed, 1),
               "failures": report["test_cases"]["unique_failures"], "errors": len(report["errors"]),
               "phases": {name: phase["status"] for name, phase in report["phases"].items()}}
    print("SCHEMATHESIS", json.dumps(figures, ensure_ascii=False))
    assert report["operations"]["tested"] >= 40, output[-3000:]  # every operation, not a few that loaded
    assert report["test_cases"]["generated"] >= 500, output[-3000:]
    assert report["failures"] == [] and report["errors"] == [], output[-20000:]
    assert report["exit_code"] == 0, output[-20000:]
