"""Sign-in to the coordination pages: password, session, CSRF, sign-out, expiry."""
from datetime import UTC, datetime, timedelta

from helpers.pages import csrf_token_in


def _login_page(client):
    return client.get("/coordination/connexion").get_data(as_text=True)


def test_the_coordination_pages_send_a_visitor_to_the_sign_in_form(client):
    response = client.get("/coordination/")
    assert response.status_code == 302
    assert "/coordination/connexion" in response.headers["Location"]
    page = _login_page(client)
    assert '<html lang="fr">' in page and "Connexion" in page and 'href="#contenu"' in page


def test_a_coordinator_signs_in_with_the_right_password_and_reaches_the_pages(client, sign_in):
    sign_in(client, "coordo@example.fr")
    response = client.get("/coordination/")
    assert response.status_code == 200
    assert "Chevauchements" in response.get_data(as_text=True)


def test_a_wrong_password_is_refused_with_the_same_french_message_as_an_unknown_address(client, sign_in, app):
    from models import db
    from models.operations.users import get_or_create_user

    user = get_or_create_user("coordo@example.fr", "coordinator")
    user.set_password("le bon mot de passe")
    db.session.commit()
    for email, password in (("coordo@example.fr", "pas le bon"), ("inconnu@example.fr", "le bon mot de passe")):
        token = csrf_token_in(_login_page(client))
        response = client.post("/coordination/connexion",
                               data={"email": email, "password": password, "csrf_token": token})
        assert response.status_code == 401
        assert "Adresse ou mot de passe incorrect." in response.get_data(as_text=True)
    assert client.get("/coordination/").status_code == 302


def test_a_form_posted_without_its_csrf_token_is_refused(client, app):
    from models import db
    from models.operations.users import get_or_create_user

    get_or_create_user("coordo@example.fr", "coordinator").set_password("le bon mot de passe")
    db.session.commit()
    response = client.post("/coordination/connexion",
                           data={"email": "coordo@example.fr", "password": "le bon mot de passe"})
    assert response.status_code == 400
    assert "Le formulaire a expiré" in response.get_data(as_text=True)
    assert client.get("/coordination/").status_code == 302


def test_signing_out_needs_the_csrf_token_and_ends_the_session(client, sign_in):
    sign_in(client)
    assert client.post("/coordination/deconnexion").status_code == 400
    assert client.get("/coordination/").status_code == 200
    token = csrf_token_in(client.get("/coordination/").get_data(as_text=True))
    assert client.post("/coordination/deconnexion", data={"csrf_token": token}).status_code == 302
    assert client.get("/coordination/").status_code == 302


def test_a_session_ends_after_its_absolute_lifetime(client, sign_in):
    sign_in(client)
    with client.session_transaction() as session:
        session["signed_in_at"] = (datetime.now(UTC) - timedelta(hours=13)).isoformat()
    assert client.get("/coordination/").status_code == 302


def test_the_session_cookie_expires_when_idle(client, sign_in, app):
    sign_in(client)
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only
    assert cookie.expires is not None
    assert cookie.expires - datetime.now(UTC) <= app.config["PERMANENT_SESSION_LIFETIME"]


def test_sign_in_never_redirects_to_another_site(client, app):
    from models import db
    from models.operations.users import get_or_create_user

    get_or_create_user("coordo@example.fr", "coordinator").set_password("le bon mot de passe")
    db.session.commit()
    token = csrf_token_in(_login_page(client))
    response = client.post("/coordination/connexion?next=//evil.example/x", data={
        "email": "coordo@example.fr", "password": "le bon mot de passe", "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/coordination/"


def test_the_api_takes_bearer_tokens_without_csrf(client, create_partner, create_place, token_for):
    create_partner("mission-locale-sud")
    headers = token_for()
    response = client.post("/api/v1/partners", headers=headers, json={
        "slug": "pimms", "name": "PIMMS", "type": "pimms"})
    assert response.status_code == 201, response.get_json()


def test_a_password_is_set_from_the_command_line(app):
    import sqlalchemy as sa

    from models import User, db

    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "set-password", "nouvelle@example.fr", "--stdin", "--role", "coordinator"],
                           input="un mot de passe solide\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.email == "nouvelle@example.fr"))
    assert user.check_password("un mot de passe solide")
    short = runner.invoke(args=["users", "set-password", "nouvelle@example.fr", "--stdin"], input="court\n")
    assert short.exit_code != 0 and "10 caractères" in short.output
