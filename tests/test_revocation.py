"""Revocation and expiry (issue 15, item 4): API tokens listed, revoked and expiring; accounts
deactivated; a session cookie stops working at once after a sign-out, a new password or a
deactivation, even a copy of it taken before; the same actions on /coordination/comptes for the
accounts of a coordinator's territory, for every role."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from conftest import csrf_token_in
from models import ApiToken, User, db, utcnow

PASSWORD = "un mot de passe solide"


def cli(app, *args, input=None):
    result = app.test_cli_runner().invoke(args=list(args), input=input)
    return result


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def new_token(app, email="ml@example.fr", *extra):
    result = cli(app, "tokens", "create", email, "--role", "coordinator", *extra)
    assert result.exit_code == 0, result.output
    return result.output, result.output.strip().splitlines()[-1]


def token_row(token_id=None) -> ApiToken:
    db.session.expire_all()
    rows = list(db.session.scalars(sa.select(ApiToken).order_by(ApiToken.id)))
    return rows[-1] if token_id is None else next(r for r in rows if r.id == token_id)


# --- API tokens: expiry shown at creation, listed, revoked, expired --------------------------

def test_a_new_token_works_for_a_year_and_says_so(app, client):
    output, token = new_token(app)
    row = token_row()
    assert timedelta(days=364) < row.expires_at - utcnow() <= timedelta(days=365)
    assert f"Jeton n° {row.id}" in output and "valable jusqu'au" in output and str(row.expires_at.year) in output
    assert client.get("/api/v1/people", headers=bearer(token)).status_code == 200


def test_a_token_of_a_few_days_is_made_with_days(app):
    new_token(app, "ml@example.fr", "--days", "7")
    assert timedelta(days=6) < token_row().expires_at - utcnow() <= timedelta(days=7)


def test_an_expired_token_is_refused_401(app, client):
    _, token = new_token(app)
    row = token_row()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = client.get("/api/v1/people", headers=bearer(token))
    assert response.status_code == 401 and "révoqué" in response.get_json()["message"]


def test_tokens_list_then_revoke_stops_the_token_at_once(app, client):
    _, kept = new_token(app, "garde@example.fr")
    _, revoked = new_token(app, "ml@example.fr")
    row = token_row()
    listing = cli(app, "tokens", "list")
    assert listing.exit_code == 0
    lines = listing.output.splitlines()
    assert any(line.startswith(f"{row.id}\tml@example.fr") and line.endswith("actif") for line in lines), lines
    assert len(lines) == 2
    result = cli(app, "tokens", "revoke", str(row.id))
    assert result.exit_code == 0 and "révoqué" in result.output
    assert client.get("/api/v1/people", headers=bearer(revoked)).status_code == 401
    assert client.get("/api/v1/people", headers=bearer(kept)).status_code == 200
    assert any(line.startswith(f"{row.id}\t") and "révoqué le" in line
               for line in cli(app, "tokens", "list", "--email", "ml@example.fr").output.splitlines())
    assert "déjà révoqué" in cli(app, "tokens", "revoke", str(row.id)).output
    unknown = cli(app, "tokens", "revoke", "999999")
    assert unknown.exit_code != 0 and "Aucun jeton n° 999999" in unknown.output


# --- sessions: a copied cookie stops at once ------------------------------------------------

def signed_in_copy(app, client, sign_in, email="coordo@example.fr"):
    """Signs in on `client` and returns a second client holding a copy of its session cookie."""
    sign_in(client, email, password=PASSWORD)
    assert client.get("/coordination/").status_code == 200
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    assert thief.get("/coordination/").status_code == 200, "the copy works before"
    return thief


def stopped(other_client) -> bool:
    response = other_client.get("/coordination/")
    return response.status_code == 302 and "/coordination/connexion" in response.headers["Location"]


def test_a_cookie_copied_before_sign_out_stops_at_sign_out(app, client, sign_in):
    thief = signed_in_copy(app, client, sign_in)
    token = csrf_token_in(client.get("/coordination/").get_data(as_text=True))
    assert client.post("/coordination/deconnexion", data={"csrf_token": token}).status_code == 302
    assert stopped(thief)


def test_a_cookie_copied_before_a_new_password_stops(app, client, sign_in):
    thief = signed_in_copy(app, client, sign_in)
    result = cli(app, "users", "set-password", "coordo@example.fr", "--stdin", input="un tout autre mot de passe\n")
    assert result.exit_code == 0, result.output
    assert stopped(thief) and stopped(client)


def test_a_session_of_the_old_form_without_its_version_opens_nothing(app, client, sign_in):
    user = sign_in(client, password=PASSWORD)
    with client.session_transaction() as session:
        session["_user_id"] = str(user.id)
    assert stopped(client)


# --- deactivation ------------------------------------------------------------------------------

def test_a_deactivated_account_cannot_sign_in_and_its_session_and_tokens_stop(app, client, sign_in):
    thief = signed_in_copy(app, client, sign_in)
    _, token = new_token(app, "coordo@example.fr")
    result = cli(app, "users", "deactivate", "coordo@example.fr")
    assert result.exit_code == 0 and "désactivé" in result.output and "1 jeton" in result.output
    assert stopped(thief) and stopped(client)
    assert client.get("/api/v1/people", headers=bearer(token)).status_code == 401
    form = csrf_token_in(client.get("/coordination/connexion").get_data(as_text=True))
    response = client.post("/coordination/connexion", data={"email": "coordo@example.fr", "password": PASSWORD,
                                                            "csrf_token": form})
    assert response.status_code == 401 and "Adresse ou mot de passe incorrect" in response.get_data(as_text=True)
    assert cli(app, "users", "reactivate", "coordo@example.fr").exit_code == 0
    response = client.post("/coordination/connexion", data={"email": "coordo@example.fr", "password": PASSWORD,
                                                            "csrf_token": form})
    assert response.status_code == 302, "reactivated, the account signs in again"
    assert client.get("/api/v1/people", headers=bearer(token)).status_code == 401, "its old tokens stay revoked"


def test_deactivating_an_unknown_account_says_so(app):
    result = cli(app, "users", "deactivate", "personne@example.fr")
    assert result.exit_code != 0 and "Aucun compte pour personne@example.fr" in result.output


# --- /coordination/comptes, for every role -------------------------------------------------

@pytest.fixture
def accounts(create_partner, create_quartier, create_place, create_event, token_for):
    """An editor of the mission locale, which works in Villeneuve only; a coordinator of Villeneuve
    ("here"), one of Maurepas ("elsewhere"), a national one; the editor has a token."""
    from models.operations.users import get_or_create_user, issue_api_token

    here = create_quartier("QP038014", "Villeneuve")
    elsewhere = create_quartier("QP035005", "Maurepas", ("Rennes",), "35")
    own = create_partner("mission-locale-sud-isere")
    create_partner("centre-social-maurepas", type="centre_social")
    bij = create_place("bij-echirolles", quartier=here.code)
    create_event(bij, [own])
    editor = get_or_create_user("editeur@example.fr", "editor", own)
    token, _ = issue_api_token(editor)
    db.session.commit()
    return {"here": here, "elsewhere": elsewhere, "editor": editor, "token": token, "own": own}


ACTORS = ("anonymous", "editor_own", "editor_other", "coordinator_here", "coordinator_elsewhere",
          "coordinator_national")
MANAGERS = {"coordinator_here", "coordinator_national"}


def sign_in_as(client, sign_in, accounts, actor):
    from models import Partner

    if actor == "anonymous":
        return
    if actor.startswith("editor"):
        slug = "mission-locale-sud-isere" if actor == "editor_own" else "centre-social-maurepas"
        partner = db.session.scalars(sa.select(Partner).where(Partner.slug == slug)).one()
        sign_in(client, f"{actor}@example.fr", "editor", partner)
        return
    quartiers = {"coordinator_here": [accounts["here"]], "coordinator_elsewhere": [accounts["elsewhere"]]}
    sign_in(client, f"{actor}@example.fr", "coordinator", quartiers=quartiers.get(actor, []))


def page_action(client, action, target):
    token = csrf_token_in(client.get("/coordination/connexion").get_data(as_text=True))
    key = "token_id" if action == "revoke" else "user_id"
    return client.post("/coordination/comptes/", data={"csrf_token": token, "action": action, key: target})


@pytest.mark.parametrize("actor", ACTORS)
def test_the_accounts_page_lists_the_accounts_of_the_territory_only(client, sign_in, accounts, actor):
    sign_in_as(client, sign_in, accounts, actor)
    response = client.get("/coordination/comptes/")
    if actor == "anonymous":
        assert response.status_code == 302
    elif actor.startswith("editor"):
        assert response.status_code == 403
    else:
        assert response.status_code == 200
        assert ("editeur@example.fr" in response.get_data(as_text=True)) == (actor in MANAGERS)


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("action", ["deactivate", "revoke"])
def test_each_account_action_admits_exactly_the_coordinators_of_the_accounts_territory(
        client, sign_in, accounts, actor, action):
    editor = accounts["editor"]
    target = editor.id if action == "deactivate" else token_row().id
    sign_in_as(client, sign_in, accounts, actor)
    response = page_action(client, action, target)
    db.session.expire_all()
    changed = (not db.session.get(User, editor.id).is_active_account if action == "deactivate"
               else token_row(target).revoked_at is not None)
    expected = {"anonymous": 302, "editor_own": 403, "editor_other": 403, "coordinator_elsewhere": 404}
    assert response.status_code == expected.get(actor, 303), response.status_code
    assert changed == (actor in MANAGERS)
    works = client.get("/api/v1/people", headers=bearer(accounts["token"])).status_code
    assert works == (401 if actor in MANAGERS else 200), "deactivating revokes the tokens; revoking stops one"


def test_a_coordinator_cannot_deactivate_themselves_nor_a_national_coordinator(client, sign_in, accounts):
    from models.operations.users import get_or_create_user

    national = get_or_create_user("national@example.fr", "coordinator")
    db.session.commit()
    me = sign_in(client, "coordinator_here@example.fr", "coordinator", quartiers=[accounts["here"]])
    for target in (me.id, national.id, 2**31 - 1):
        assert page_action(client, "deactivate", target).status_code == 404
    assert page_action(client, "deactivate", "1e3").status_code == 404
    db.session.expire_all()
    assert db.session.get(User, national.id).is_active_account and db.session.get(User, me.id).is_active_account


def test_the_page_deactivates_reactivates_and_shows_the_expiry(client, sign_in, accounts):
    sign_in(client, "national@example.fr", "coordinator")
    page = client.get("/coordination/comptes/").get_data(as_text=True)
    assert "jusqu'au" in page and "actif" in page and "Désactiver le compte editeur@example.fr" in page
    response = page_action(client, "deactivate", accounts["editor"].id)
    assert response.status_code == 303
    page = client.get("/coordination/comptes/").get_data(as_text=True)
    assert "désactivé" in page and "Réactiver le compte editeur@example.fr" in page and "révoqué" in page
    assert page_action(client, "reactivate", accounts["editor"].id).status_code == 303
    db.session.expire_all()
    assert db.session.get(User, accounts["editor"].id).is_active_account
