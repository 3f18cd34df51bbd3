"""Settings (settings.py): what the environment says reaches the app, a bad value stops the start
with one French line, and README.md's settings table lists exactly the settings that are read."""
from __future__ import annotations

import contextlib
import os
import re
import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

import settings

ROOT = Path(__file__).resolve().parent.parent
SETTING_NAMES = [s.name for s in settings.SETTINGS]


@pytest.fixture
def clean_environ(monkeypatch):
    """No setting from the developer's or CI's environment leaks into a test."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    # As every test does (conftest.py): the development key is accepted (tests/test_safe_defaults.py
    # checks production's refusal).
    monkeypatch.setenv("MAILLAGE_ENV", "test")
    return monkeypatch


@contextlib.contextmanager
def app_on(database_url: str, **overrides):
    """Another app on the test's database, made by create_app from the environment; its engine
    closed after."""
    from app import create_app
    from models import db

    other = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True, "RATELIMITS": {}, **overrides})
    try:
        yield other
    finally:
        with other.app_context():
            db.engine.dispose()


# --- from the environment to the app ------------------------------------------------------------

def test_each_setting_is_read_from_the_environment_typed(clean_environ, tmp_path):
    from app import create_app

    env = {"DATABASE_URL": "postgres://maillage@db.example.fr/maillage", "SECRET_KEY": "k" * 32,
           "SECRET_KEY_FALLBACKS": " older , old ,", "SMTP_URL": "smtps://u:p@smtp.example.fr:465",
           "BASE_URL": "https://agenda.example.fr/", "DEFAULT_TIMEZONE": "America/Cayenne",
           "TRUSTED_PROXIES": "0", "ALLOW_PRIVATE_URLS": "oui", "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379",
           "RATELIMIT_LOGIN": "5/minute", "RATELIMIT_FEEDS": "1 per second", "RATELIMIT_OCCURRENCES": "2 per hour",
           "RATELIMIT_TOKENS": "3 per day", "RATELIMIT_SUBSCRIPTIONS": "4 per hour",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "CONFLICT_HORIZON_DAYS": "30",
           "CONFLICT_NON_COMPETING_KINDS": "", "NOTICE_HORIZON_DAYS": "7", "REMINDER_GRACE_MINUTES": "0",
           "SEPARATE_SENDERS": "1", "SCREEN_REFRESH_SECONDS": "60", "IMPORT_MAX_MB": "5",
           "IMPORT_INLINE_MAX_EVENTS": "10",
           "IMPORT_API_INLINE_MAX_EVENTS": "20", "IMPORT_INLINE_MAX_OVERLAP_WORK": "30",
           "MAILBOX_DIR": str(tmp_path / "mail"),
           "CLOCK_HEARTBEAT_SECONDS": "0.5", "CLOCK_LOCK_TTL_SECONDS": "2",
           "LEGAL_PUBLISHER": "Ville d'Échirolles, 1 place des Cinq-Fontaines", "LEGAL_DIRECTOR": "Mme la maire",
           "LEGAL_HOST": "Hébergeur SAS, Lyon", "DATA_CONTROLLER": "Ville d'Échirolles",
           "MAP_TILES_URL": "https://tuiles.example.fr/{z}/{x}/{y}.png", "MAP_ATTRIBUTION": "© OSM",
           "CONTACT_EMAIL": "dpo@echirolles.example", "API_TOKEN_DAYS": "30",
           "MAILLAGE_ENV": "Production", "RATELIMIT_LOGIN_ACCOUNT": "6 per hour",
           "CONFLICT_MAX_OPENED": "50", "REBUILD_AFTER_WRITES": "0"}
    assert set(env) == set(SETTING_NAMES), "one value for every setting"
    for name, value in env.items():
        clean_environ.setenv(name, value)
    config = create_app().config
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://maillage@db.example.fr/maillage"
    assert (config["SECRET_KEY"], config["SECRET_KEY_FALLBACKS"]) == ("k" * 32, ["older", "old"])
    assert (config["SMTP_URL"], config["BASE_URL"]) == ("smtps://u:p@smtp.example.fr:465", "https://agenda.example.fr")
    assert (config["DEFAULT_TIMEZONE"], config["TRUSTED_PROXIES"], config["ALLOW_PRIVATE_URLS"]) == (
        "America/Cayenne", 0, True)
    assert config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379"
    assert config["MAILLAGE_ENV"] == "production"  # lower case
    assert config["RATELIMITS"] == {"auth.login": "5/minute", "auth.login/account": "6 per hour",
                                    "feeds": "1 per second", "occurrences": "2 per hour",
                                    "feeds_pages.private_links": "3 per day",
                                    "subscriptions.subscribe_page": "4 per hour"}
    assert config["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path)
    assert (config["CONFLICT_HORIZON_DAYS"], config["CONFLICT_NON_COMPETING_KINDS"], config["NOTICE_HORIZON_DAYS"]) == (
        30, (), 7)
    assert (config["REMINDER_GRACE_MINUTES"], config["SEPARATE_SENDERS"], config["SCREEN_REFRESH_SECONDS"]) == (
        0, True, 60)
    assert config["API_TOKEN_DAYS"] == 30 and config["CONFLICT_MAX_OPENED"] == 50
    assert config["REBUILD_AFTER_WRITES"] is False
    assert config["IMPORT_MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024 and config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    assert (config["IMPORT_INLINE_MAX_EVENTS"], config["IMPORT_API_INLINE_MAX_EVENTS"]) == (10, 20)
    assert config["IMPORT_INLINE_MAX_OVERLAP_WORK"] == 30
    assert config["MAILBOX_DIR"] == str(tmp_path / "mail")
    assert (config["CLOCK_HEARTBEAT_SECONDS"], config["CLOCK_LOCK_TTL_SECONDS"]) == (0.5, 2.0)
    assert (config["LEGAL_PUBLISHER"], config["LEGAL_DIRECTOR"], config["LEGAL_HOST"]) == (
        "Ville d'Échirolles, 1 place des Cinq-Fontaines", "Mme la maire", "Hébergeur SAS, Lyon")
    assert (config["DATA_CONTROLLER"], config["CONTACT_EMAIL"]) == ("Ville d'Échirolles", "dpo@echirolles.example")
    assert (config["MAP_TILES_URL"], config["MAP_ATTRIBUTION"]) == (
        "https://tuiles.example.fr/{z}/{x}/{y}.png", "© OSM")


def test_what_create_app_is_given_is_not_read_from_the_environment(clean_environ):
    from app import create_app

    clean_environ.setenv("IMPORT_MAX_MB", "twenty")
    clean_environ.setenv("RATELIMIT_LOGIN", "ten per minute")
    config = create_app({"IMPORT_MAX_CONTENT_LENGTH": 1, "RATELIMITS": {}}).config
    assert (config["IMPORT_MAX_CONTENT_LENGTH"], config["RATELIMITS"]) == (1, {})
    with pytest.raises(SystemExit, match="IMPORT_MAX_MB"):
        create_app({"RATELIMITS": {}})


def test_the_defaults_are_those_the_readme_gives_and_the_instance_folder_is_flasks(clean_environ):
    from app import create_app
    from scheduler.clock import LOCK_TTL

    app = create_app()
    assert Path(app.instance_path) == settings.INSTANCE
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{settings.INSTANCE}/maillage.sqlite3"
    assert app.config["MAILBOX_DIR"] == str(settings.INSTANCE / "mailbox")
    assert settings.value("MAILBOX_DIR") == app.config["MAILBOX_DIR"]  # what the local mailbox process reads
    assert app.config["CLOCK_LOCK_TTL_SECONDS"] == LOCK_TTL.total_seconds()
    assert app.config["SECRET_KEY_FALLBACKS"] == [] and app.config["PROMETHEUS_MULTIPROC_DIR"] is None


def test_a_key_listed_in_secret_key_fallbacks_keeps_the_links_and_sessions_it_signed_working(
        app, database_url, clean_environ, create_place, sign_in):
    """The key rotated: SECRET_KEY is new, the old one is listed in SECRET_KEY_FALLBACKS (read from
    the environment by create_app, as in production). A subscription link mailed under the old key
    still confirms, a coordinator signed in under it is still signed in; without the fallback,
    neither (what the test would see if the setting were not read)."""
    from models import db
    from models.operations.subscriptions import link_token, subscribe

    place = create_place("bij-echirolles")
    subscription = subscribe("lina@example.fr", "place", place.id)
    db.session.commit()
    mailed = f"/abonnement/confirmer/{link_token(subscription, 'old')}"
    with app_on(database_url, SECRET_KEY="old", WTF_CSRF_ENABLED=True) as before, before.test_client() as browser:
        sign_in(browser)
        assert browser.get("/coordination/").status_code == 200
        cookie = browser.get_cookie("session").value

    clean_environ.setenv("SECRET_KEY", "new")
    with app_on(database_url) as without_fallback:
        assert without_fallback.config["SECRET_KEY_FALLBACKS"] == []
        client = without_fallback.test_client()
        assert client.get(mailed).status_code == 404
        client.set_cookie("session", cookie)
        assert client.get("/coordination/").status_code == 302  # to the sign-in page

    clean_environ.setenv("SECRET_KEY_FALLBACKS", "older,old")
    with app_on(database_url) as after:
        assert (after.config["SECRET_KEY"], after.config["SECRET_KEY_FALLBACKS"]) == ("new", ["older", "old"])
        client = after.test_client()
        confirmed = client.get(mailed)
        assert confirmed.status_code == 200 and "Abonnement confirmé" in confirmed.text
        client.set_cookie("session", cookie)
        assert client.get("/coordination/").status_code == 200


def test_the_hall_screen_refreshes_as_often_as_screen_refresh_seconds_says(
        app, database_url, clean_environ, create_place):
    place = create_place("centre-social-village")
    clean_environ.setenv("SCREEN_REFRESH_SECONDS", "42")
    with app_on(database_url) as other:
        screen = other.test_client().get(f"/ecran/{place.slug}")
    assert screen.status_code == 200 and 'data-refresh-seconds="42"' in screen.text
    default = app.test_client().get(f"/ecran/{place.slug}")
    assert 'data-refresh-seconds="300"' in default.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_local_mailbox_stores_where_the_mailbox_command_reads(tmp_path):
    """`python -m scheduler.notifications.mailbox` (Procfile.dev) and `flask reminders mailbox` read
    SMTP_URL and MAILBOX_DIR the same way (by default both instance/mailbox)."""
    port = _free_port()
    env = {**os.environ, "SMTP_URL": f"smtp://127.0.0.1:{port}", "MAILBOX_DIR": str(tmp_path / "boite"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'm.sqlite3'}"}
    server = subprocess.Popen([sys.executable, "-m", "scheduler.notifications.mailbox"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                smtp = smtplib.SMTP("127.0.0.1", port, timeout=5)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "the mailbox did not start"
                time.sleep(0.1)
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "maillage@example.fr", "awa@example.fr", "Rappel"
        message.set_content("Demain à 14 h.")
        with smtp:
            smtp.send_message(message)
    finally:
        server.terminate()
        server.wait(20)
    listed = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "reminders", "mailbox"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "awa@example.fr  Rappel" in listed.stdout
    assert f"1 message(s) dans {tmp_path / 'boite'}" in listed.stdout


# --- a bad value stops the start, in one French line --------------------------------------------

BAD_VALUES = [
    ("DATABASE_URL", "mysql://db.example.fr/maillage"), ("DATABASE_URL", "maillage.sqlite3"),
    ("SECRET_KEY", ""),
    ("SMTP_URL", "http://smtp.example.fr"), ("SMTP_URL", "smtp://smtp.example.fr:vingt-cinq"),
    ("BASE_URL", "agenda.example.fr"), ("BASE_URL", "https://agenda.example.fr/?x=1"),
    ("DEFAULT_TIMEZONE", "Europe/Pariss"), ("DEFAULT_TIMEZONE", ""),
    ("TRUSTED_PROXIES", "-1"), ("TRUSTED_PROXIES", "un"),
    ("ALLOW_PRIVATE_URLS", "peut-être"), ("SEPARATE_SENDERS", "2"), ("REBUILD_AFTER_WRITES", "toujours"),
    ("RATELIMIT_STORAGE_URI", "127.0.0.1:6379"), ("RATELIMIT_STORAGE_URI", "postgresql://db/maillage"),
    ("RATELIMIT_LOGIN", "ten per minute"), ("RATELIMIT_FEEDS", "300"), ("RATELIMIT_OCCURRENCES", ""),
    ("RATELIMIT_TOKENS", "30 per fortnight"), ("RATELIMIT_SUBSCRIPTIONS", "beaucoup"),
    ("PROMETHEUS_MULTIPROC_DIR", "/nonexistent/prometheus"),
    ("CONFLICT_HORIZON_DAYS", "abc"), ("CONFLICT_HORIZON_DAYS", "0"),
    ("CONFLICT_NON_COMPETING_KINDS", "coordination,reunion"),
    ("NOTICE_HORIZON_DAYS", "90.5"),
    ("REMINDER_GRACE_MINUTES", "3h"), ("API_TOKEN_DAYS", "0"), ("MAILLAGE_ENV", "prod"), ("CONFLICT_MAX_OPENED", "0"),
    ("RATELIMIT_LOGIN_ACCOUNT", "beaucoup"),
    ("SCREEN_REFRESH_SECONDS", "5"),
    ("IMPORT_MAX_MB", "twenty"), ("IMPORT_MAX_MB", "0"),
    ("IMPORT_INLINE_MAX_EVENTS", "deux cents"),
    ("IMPORT_API_INLINE_MAX_EVENTS", "-500"),
    ("IMPORT_INLINE_MAX_OVERLAP_WORK", "beaucoup"),
    ("MAILBOX_DIR", " "),
    ("CLOCK_HEARTBEAT_SECONDS", "0"), ("CLOCK_HEARTBEAT_SECONDS", "nan"),
    ("CLOCK_LOCK_TTL_SECONDS", "une minute"),
    ("LEGAL_PUBLISHER", " "), ("LEGAL_DIRECTOR", ""), ("LEGAL_HOST", "  "), ("DATA_CONTROLLER", ""),
    ("CONTACT_EMAIL", "contact chez exemple.fr"),
    ("MAP_TILES_URL", "https://tuiles.example.fr/tile.png"), ("MAP_ATTRIBUTION", ""),
]
ACCEPTS_ANYTHING = {"SECRET_KEY_FALLBACKS"}  # any text is a list of keys


def test_every_setting_that_can_be_wrong_has_a_bad_value_tried_below():
    assert {name for name, _ in BAD_VALUES} == set(SETTING_NAMES) - ACCEPTS_ANYTHING


def _start(env_changes: dict) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if k not in SETTING_NAMES}, "MAILLAGE_ENV": "test"}
    return subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, env={**env, **env_changes},
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name, value", BAD_VALUES)
def test_a_bad_value_stops_the_start_with_one_french_line_naming_the_variable(name, value):
    started = _start({name: value})
    assert started.returncode != 0
    lines = started.stderr.splitlines()
    assert len(lines) == 1, started.stderr
    line = lines[0]
    assert line.startswith(name) and "Traceback" not in line
    assert re.search(r"\b(est attendue?|attendus?)\b", line), line
    if value.strip() and not settings.BY_NAME[name].secret:
        assert f"« {value} »" in line
    if settings.BY_NAME[name].secret:
        assert value.strip() == "" or value not in line, "a secret is never repeated"


def test_several_bad_values_are_all_named_in_the_one_line():
    started = _start({"IMPORT_MAX_MB": "twenty", "CONFLICT_HORIZON_DAYS": "abc"})
    assert started.returncode != 0
    [line] = started.stderr.splitlines()
    assert line == ("CONFLICT_HORIZON_DAYS=« abc » : un nombre entier de jours (au moins 1) est attendu ; "
                    "IMPORT_MAX_MB=« twenty » : un nombre entier de mégaoctets (au moins 1) est attendu.")


def test_the_clock_process_stops_the_same_way_on_a_bad_value():
    env = {**{k: v for k, v in os.environ.items() if k not in SETTING_NAMES}, "MAILLAGE_ENV": "test"}
    started = subprocess.run([sys.executable, "-m", "scheduler"], cwd=ROOT, capture_output=True, text=True,
                             env={**env, "CLOCK_HEARTBEAT_SECONDS": "vite"}, timeout=120)
    assert started.returncode != 0
    assert started.stderr.splitlines() == [("CLOCK_HEARTBEAT_SECONDS=« vite » : un nombre de secondes "
                                           "(plus que 0) est attendu.")]


# --- README.md's settings table -----------------------------------------------------------------

def _readme_settings() -> dict[str, str]:
    """`| \\`NAME\\` | default | what it does |` rows of README.md's `## Settings` section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Settings\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, "README.md has no `## Settings` section"
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \| (.*?) \| (.+?) \|$", section.group(1), re.M)
    return {name: default.strip() for name, default, _ in rows}


def _documented_default(setting: settings.Setting) -> str:
    return f"`{setting.default.replace('{instance}', 'instance')}`" if setting.default else "(vide)"


def test_the_readme_documents_every_setting_read_and_only_those_with_their_defaults():
    documented = _readme_settings()
    expected_rows = "\n".join(f"| `{s.name}` | {_documented_default(s)} | {s.description} |"
                              for s in settings.SETTINGS)
    assert set(documented) == set(SETTING_NAMES), (
        f"not read by settings.py: {sorted(set(documented) - set(SETTING_NAMES))}; "
        f"not in README.md: {sorted(set(SETTING_NAMES) - set(documented))}; the table settings.py gives:\n"
        f"{expected_rows}")
    wrong = {s.name: documented[s.name] for s in settings.SETTINGS if documented[s.name] != _documented_default(s)}
    assert not wrong, f"defaults that differ from settings.py: {wrong}"


def test_nothing_outside_settings_py_reads_a_setting_from_the_environment():
    """The app's own code (not the benchmarks, which set up their own runs); prometheus_client
    reads PROMETHEUS_MULTIPROC_DIR itself, which settings.py checks first."""
    folders = ("api", "web", "models", "scheduler", "commands")
    code = [ROOT / "app.py", ROOT / "extensions.py", *(p for folder in folders for p in (ROOT / folder).rglob("*.py"))]
    readers = [str(path.relative_to(ROOT)) for path in code
               if re.search(r"os\.environ|getenv|from os import", path.read_text(encoding="utf-8"))]
    assert readers == []
