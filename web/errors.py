"""Error pages: every HTTP error a person can meet on a page answers a French page with a way
back. The API and the feeds keep their JSON shape (extensions.MaillageApi); this handler wraps
that one rather than replacing it, so that one handler serves each kind of path."""
from __future__ import annotations

from flask import render_template, request
from werkzeug.exceptions import HTTPException

from extensions import JSON_PREFIXES, too_large_message

# (title, what to say when the code that stopped gave no French message of its own)
FRENCH_ERRORS = {
    400: ("Demande impossible", ("Cette demande ne peut pas être traitée : l'adresse ou le formulaire "
                                "contient une valeur inattendue.")),
    401: ("Connexion nécessaire", "Connectez-vous pour voir cette page."),
    403: ("Accès refusé", "Vous n'avez pas le droit de voir cette page."),
    404: ("Page introuvable", ("Cette page n'existe pas ou plus : l'événement a peut-être été retiré, "
                              "ou l'adresse contient une faute de frappe.")),
    405: ("Action impossible", ("Cette page ne s'ouvre pas de cette façon : revenez en arrière et utilisez "
                               "le bouton ou le lien prévu.")),
    413: ("Envoi trop volumineux", ""),  # the limit depends on the page: too_large_message()
    429: ("Trop de demandes", "Trop de demandes depuis votre adresse : patientez une minute avant de réessayer."),
    500: ("Erreur de notre côté", ("Une erreur inattendue s'est produite chez nous. Elle est enregistrée ; "
                                  "réessayez dans un moment.")),
    503: ("Service momentanément indisponible", "Réessayez dans quelques secondes."),
}
GENERIC = ("Demande impossible", "Cette demande ne peut pas être traitée.")


def french_message(error: HTTPException) -> str:
    """The message given to abort() (French in our code), else the French default of its code:
    Werkzeug's own descriptions are English."""
    if error.description and error.description != type(error).description:
        return error.description
    if error.code == 413:
        return too_large_message()
    return FRENCH_ERRORS.get(error.code or 500, GENERIC)[1]


def error_page(code: int, message: str, headers=None):
    """The French page of an error: its title, the message, a way back."""
    title = FRENCH_ERRORS.get(code, GENERIC)[0]
    html = render_template("error.html", title=title, message=message, status=code,
                           in_coordination=request.path.startswith("/coordination"))
    return html, code, headers or {}


def http_error_page(error: HTTPException):
    # Allow (405) and Retry-After (429) say what to do next; the page is ours, not Werkzeug's.
    headers = {k: v for k, v in error.get_headers() if k != "Content-Type"}
    return error_page(error.code or 500, french_message(error), headers)


def init_app(app) -> None:
    json_errors = app.error_handler_spec[None][None].get(HTTPException)  # flask-smorest's, made by api/

    def http_error(error: HTTPException):
        if request.path.startswith(JSON_PREFIXES) and json_errors is not None:
            return json_errors(error)
        return http_error_page(error)

    app.register_error_handler(HTTPException, http_error)
