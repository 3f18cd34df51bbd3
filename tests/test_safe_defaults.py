"""Safe defaults (issue 15, item 5): no start in production with the development SECRET_KEY (one
French line), which only make run and the tests accept, saying so; TRUSTED_PROXIES 0 by default,
so a rotated X-Forwarded-For does not reset the sign-in limit; sign-in attempts limited per
account as well as per address; a sign-in spends one argon2 verification whether the account
exists or not."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import argon2
import pytest

from app import create_app

ROOT = Path(__file__).resolve().parent.parent
REAL_KEY = "k" * 43


def start(tmp_path, database=True, **env) -> subprocess.CompletedProcess:
    """`import app` (what gunicorn and the flask CLI do) with only these settings."""
    environ = {"PATH": os.environ["PATH"], **env}
    if database:
        environ["DATABASE_URL"] = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    return subprocess.run([sys.executable, "-c", "import app; print('démarré')"], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=120)


def test_production_with_only_a_database_refuses_to_start_in_one_french_line(tmp_path):
    result = start(tmp_path)
    assert result.returncode != 0 and "démarré" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("SECRET_KEY : en production"), result.stderr
    assert "dev-only-change-me" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("key", ["dev-only-change-me", "court"])
def test_production_refuses_the_development_key_or_a_short_one(tmp_path, key):
    result = start(tmp_path, SECRET_KEY=key, MAILLAGE_ENV="production")
    assert result.returncode != 0 and result.stderr.startswith("SECRET_KEY : en production"), result.stderr


@pytest.mark.parametrize("marker", [{"MAILLAGE_ENV": "development"}, {"MAILLAGE_ENV": "test"}, {"FLASK_DEBUG": "1"}])
def test_the_development_key_serves_make_run_and_tests_and_says_so(tmp_path, marker):
    result = start(tmp_path, **marker)
    assert result.returncode == 0 and "démarré" in result.stdout, result.stderr
    assert "clé de développement" in result.stderr and "jamais en production" in result.stderr


def test_a_checkout_without_database_url_is_development_unless_told_production(tmp_path):
    """`flask db heads` on a development machine (the SQLite file of the checkout) still works."""
    result = start(tmp_path, database=False)
    assert result.returncode == 0 and "clé de développement" in result.stderr, result.stderr
    result = start(tmp_path, database=False, MAILLAGE_ENV="production")
    assert result.returncode != 0 and result.stderr.startswith("SECRET_KEY : en production"), result.stderr


def test_production_starts_with_a_real_key_without_a_word(tmp_path):
    result = start(tmp_path, SECRET_KEY=REAL_KEY)
    assert result.returncode == 0 and "démarré" in result.stdout, result.stderr
    assert "clé de développement" not in result.stderr


def test_make_run_marks_the_development_mode():
    assert re.search(r"^run bench: export MAILLAGE_ENV \?= development$", (ROOT / "Makefile").read_text(), re.M)


# --- who is signing in, from where ---------------------------------------------------------

@pytest.fixture
def login_app(app, database_url):
    """build(per_address, per_account) -> an app on the test database with those sign-in limits and
    the settings' TRUSTED_PROXIES default (the environment's, cleared)."""
    made = []

    def build(per_address="1000 per minute", per_account="1000 per minute"):
        saved = os.environ.pop("TRUSTED_PROXIES", None)
        try:
            other = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
                                "RATELIMITS": {"auth.login": per_address, "auth.login/account": per_account},
                                "RATELIMIT_KEY_PREFIX": f"maillage-test-{uuid.uuid4().hex}"})
        finally:
            if saved is not None:
                os.environ["TRUSTED_PROXIES"] = saved
        made.append(other)
        return other

    yield build
    for other in made:
        with other.app_context():
            from models import db

            db.engine.dispose()


def attempt(client, email="coordo@example.fr", address="192.0.2.1", forwarded=None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    client.environ_base["REMOTE_ADDR"] = address
    page = client.get("/coordination/connexion", headers=headers).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    return client.post("/coordination/connexion", headers=headers, data={
        "email": email, "password": "pas le bon mot de passe", "csrf_token": token}).status_code


def test_trusted_proxies_is_zero_by_default_so_a_rotated_forwarded_for_is_still_limited(login_app):
    other = login_app(per_address="6 per minute")
    assert other.config["TRUSTED_PROXIES"] == 0
    client = other.test_client()
    codes = [attempt(client, forwarded=f"198.51.100.{n}") for n in range(8)]
    assert codes == [401] * 6 + [429] * 2


def test_sign_in_attempts_are_limited_per_account_whatever_the_address(login_app):
    client = login_app(per_account="3 per minute").test_client()
    codes = [attempt(client, address=f"203.0.113.{n}") for n in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    assert attempt(client, email="autre@example.fr", address="203.0.113.50") == 401, "another account is not held"
    assert attempt(client, email=" COORDO@example.fr ", address="203.0.113.51") == 429, "spelled otherwise"


@pytest.fixture
def verifications(monkeypatch):
    """Counts argon2 verifications (the real ones, still run)."""
    counted = []
    real = argon2.PasswordHasher.verify

    def verify(self, hash, password):
        counted.append(hash)
        return real(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", verify)
    return counted


def test_a_sign_in_spends_one_argon2_verification_whether_the_account_exists_or_not(client, sign_in, verifications):
    from models import db
    from models.operations.users import deactivate_user, get_or_create_user

    sign_in(client, "coordo@example.fr")
    client.post("/coordination/deconnexion", data={"csrf_token": re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/coordination/").get_data(as_text=True)).group(1)})
    get_or_create_user("sans-mot-de-passe@example.fr", "coordinator")
    sign_in(client, "parti2@example.fr")
    deactivate_user(get_or_create_user("parti2@example.fr", "coordinator"))
    db.session.commit()
    client.post("/coordination/deconnexion")
    for email in ("personne@example.fr", "coordo@example.fr", "sans-mot-de-passe@example.fr", "parti2@example.fr"):
        verifications.clear()
        assert attempt(client, email=email) == 401, email
        assert len(verifications) == 1, (email, len(verifications))
