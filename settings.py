"""Every setting Maillage reads from the environment, in one place: its name, its default, a typed
parser and one French line saying what it does (README.md's settings table says the same, and
tests/test_settings.py checks that both list the same settings with the same defaults).

A bad value stops the start with one French line naming the variable and what it expects, never
a traceback: `create_app` raises SystemExit with that line, which Python prints alone on stderr.
Defaults go through the same parsers, so a rule added to a parser (say, refusing the development
SECRET_KEY in production) holds whatever the environment says.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import limits
import limits.storage

from models.events import EVENT_KINDS

# Flask's instance folder (instance_relative_config, app.py beside this file): where the default
# SQLite file and the local mailbox live. `{instance}` in a default stands for it.
INSTANCE = Path(__file__).resolve().parent / "instance"
DEV_SECRET_KEY = "dev-only-change-me"
# A production key is random and at least this long (secrets.token_urlsafe(32) gives 43).
MIN_SECRET_KEY_LENGTH = 32
MEGABYTE = 1024 * 1024


# --- parsers: text in, typed value out, or ValueError saying in French what is expected ----------

def whole_number(expected: str, minimum: int = 0) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = text.strip()
        if not (value.isascii() and value.isdigit()) or int(value) < minimum:
            raise ValueError(expected)
        return int(value)
    return parse


def seconds(expected: str) -> Callable[[str], float]:
    """A duration in seconds that may have a fraction (tests beat the clock every 0.3 s)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(expected) from None
        if not 0 < value < float("inf"):
            raise ValueError(expected)
        return value
    return parse


def megabytes(text: str) -> int:
    """A size given in megabytes, kept in bytes (what Werkzeug's body limits compare with)."""
    return whole_number("un nombre entier de mégaoctets (au moins 1) est attendu", 1)(text) * MEGABYTE


def boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "oui", "true", "yes", "on"):
        return True
    if value in ("", "0", "non", "false", "no", "off"):
        return False
    raise ValueError("1 (oui) ou 0 (non) est attendu")


def secret_key(text: str) -> str:
    # Whether the development key may serve depends on MAILLAGE_ENV too: checked by
    # production_problems once every setting is read.
    if not text:
        raise ValueError("une clé secrète non vide est attendue")
    return text


ENVIRONMENTS = ("production", "development", "test")


def environment(text: str) -> str:
    """Empty: decided by DATABASE_URL (production_problems)."""
    value = text.strip().lower()
    if value and value not in ENVIRONMENTS:
        raise ValueError("production, development (make run) ou test est attendu")
    return value


def secret_keys(text: str) -> list[str]:
    """Older keys, comma-separated; Flask wants them oldest first, and so do the links."""
    return [key.strip() for key in text.split(",") if key.strip()]


def database_url(text: str) -> str:
    """SQLite or PostgreSQL, in the spelling SQLAlchemy 2 and psycopg 3 want."""
    url = text.strip()
    if url.startswith("postgres://"):  # the Heroku-style name SQLAlchemy no longer accepts
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if not (url.startswith("sqlite:///") or (url.startswith("postgresql+psycopg://") and urlsplit(url).hostname)):
        raise ValueError("une adresse sqlite:///chemin/du/fichier ou postgresql://hôte/base est attendue")
    return url


def web_url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("une adresse http:// ou https:// est attendue, sans paramètres")
    return text.strip().rstrip("/")


def smtp_url(text: str) -> str:
    expected = "une adresse smtp://hôte:port ou smtps://utilisateur:mot-de-passe@hôte:port est attendue"
    parts = urlsplit(text.strip())
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise ValueError(expected) from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(expected)
    return text.strip()


def storage_uri(text: str) -> str:
    """Where Flask-Limiter counts: any storage the `limits` package knows (memory://, redis://…)."""
    scheme, sep, _ = text.strip().partition("://")
    if not sep or scheme not in limits.storage.SCHEMES:
        raise ValueError("une adresse de stockage comme memory:// ou redis://hôte:6379 est attendue")
    return text.strip()


def rate_limit(text: str) -> str:
    try:
        limits.parse_many(text)
    except ValueError:
        raise ValueError("une limite comme « 10 per minute » ou « 100/hour » est attendue") from None
    return text.strip()


def time_zone(text: str) -> str:
    try:
        ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("un fuseau horaire IANA comme Europe/Paris ou America/Cayenne est attendu") from None
    return text.strip()


def event_kinds(text: str) -> tuple[str, ...]:
    """Comma-separated event kinds (models/events.py EVENT_KINDS); empty means none."""
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    if any(k not in EVENT_KINDS for k in kinds):
        raise ValueError(f"des types d'événements séparés par des virgules sont attendus, parmi : "
                         f"{', '.join(EVENT_KINDS)}")
    return kinds


def text_line(text: str) -> str:
    """A line of text shown on the legal pages (names, postal addresses)."""
    if not text.strip() or "\n" in text.strip():
        raise ValueError("une ligne de texte non vide est attendue")
    return text.strip()


def email_address(text: str) -> str:
    value = text.strip()
    local, at, domain = value.partition("@")
    if not (local and at and "." in domain) or any(c.isspace() for c in value):
        raise ValueError("une adresse électronique comme contact@exemple.fr est attendue")
    return value


def tiles_url(text: str) -> str:
    """A map tile server's address with its {z}/{x}/{y} placeholders (Leaflet's form)."""
    value = text.strip()
    parts = urlsplit(value.replace("{", "").replace("}", ""))
    placeholders = all(p in value for p in ("{z}", "{x}", "{y}"))
    if parts.scheme not in ("http", "https") or not parts.netloc or not placeholders:
        raise ValueError("une adresse https://…/{z}/{x}/{y}.png est attendue")
    return value


def folder(text: str) -> str:
    if not text.strip():
        raise ValueError("un chemin de dossier est attendu")
    return text.strip()


def existing_folder_or_none(text: str) -> str | None:
    """Empty: not set. Otherwise a folder that exists (prometheus_client writes into it at once)."""
    if not text.strip():
        return None
    if not Path(text.strip()).is_dir():
        raise ValueError("le chemin d'un dossier existant est attendu")
    return text.strip()


# --- the settings ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    name: str  # of the environment variable
    default: str  # as one would write it in the environment; "{instance}" is Flask's instance folder
    parse: Callable[[str], Any]
    description: str  # French, one line
    key: str | tuple[str, str] | None = None  # in app.config when not `name`; a pair: a key of a dict
    secret: bool = False  # its value is never repeated in an error message (logs keep them)

    @property
    def config_key(self) -> str | tuple[str, str]:
        return self.key or self.name


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", "sqlite:///{instance}/maillage.sqlite3", database_url,
            "La base de données : un fichier SQLite, ou postgresql://… en production.",
            key="SQLALCHEMY_DATABASE_URI", secret=True),
    Setting("MAILLAGE_ENV", "", environment,
            "production : refuse de démarrer sans vraie SECRET_KEY ; development (make run) et test "
            "acceptent la clé de développement, et le disent ; vide : production dès que DATABASE_URL "
            "est donnée."),
    Setting("SECRET_KEY", DEV_SECRET_KEY, secret_key,
            "Signe les sessions, les formulaires et les liens d'abonnement ; obligatoire en production "
            f"(au moins {MIN_SECRET_KEY_LENGTH} caractères aléatoires).",
            secret=True),
    Setting("SECRET_KEY_FALLBACKS", "", secret_keys,
            "Anciennes clés séparées par des virgules : les sessions et les liens qu'elles ont signés "
            "restent valides.", secret=True),
    Setting("SMTP_URL", "smtp://127.0.0.1:8025", smtp_url,
            "Le serveur d'envoi des courriels (smtps:// et identifiants comme dans une adresse).", secret=True),
    Setting("BASE_URL", "http://127.0.0.1:5000", web_url,
            "L'adresse publique de Maillage, celle des liens des courriels et des flux."),
    Setting("DEFAULT_TIMEZONE", "Europe/Paris", time_zone,
            "Le fuseau horaire par défaut des lieux et des pages."),
    Setting("TRUSTED_PROXIES", "0", whole_number("un nombre entier de relais (0 ou plus) est attendu"),
            "Nombre de relais devant gunicorn dont on croit les en-têtes X-Forwarded-* (0 : exposé "
            "directement ; 1 derrière un relais inverse comme nginx)."),
    Setting("ALLOW_PRIVATE_URLS", "0", boolean,
            "1 : les agendas synchronisés et les webhooks peuvent viser 127.0.0.1 ou un réseau privé "
            "(tests et postes de développement)."),
    Setting("RATELIMIT_STORAGE_URI", "memory://", storage_uri,
            "Où compter les requêtes limitées : memory:// pour un processus, redis://… pour plusieurs."),
    Setting("RATELIMIT_LOGIN", "10 per minute", rate_limit,
            "Essais de connexion par adresse IP.", key=("RATELIMITS", "auth.login")),
    Setting("RATELIMIT_LOGIN_ACCOUNT", "20 per hour", rate_limit,
            "Essais de connexion par compte (adresse électronique saisie), d'où qu'ils viennent.",
            key=("RATELIMITS", "auth.login/account")),
    Setting("RATELIMIT_FEEDS", "300 per minute", rate_limit,
            "Lectures des flux iCal par adresse IP.", key=("RATELIMITS", "feeds")),
    Setting("RATELIMIT_OCCURRENCES", "30 per minute", rate_limit,
            "Recherches d'occurrences sans jeton d'API, par adresse IP.", key=("RATELIMITS", "occurrences")),
    Setting("RATELIMIT_TOKENS", "30 per hour", rate_limit,
            "Créations de liens privés d'agenda par adresse IP.", key=("RATELIMITS", "feeds_pages.private_links")),
    Setting("RATELIMIT_SUBSCRIPTIONS", "20 per hour", rate_limit,
            "Demandes d'abonnement par courriel, par adresse IP.", key=("RATELIMITS", "subscriptions.subscribe_page")),
    Setting("PROMETHEUS_MULTIPROC_DIR", "", existing_folder_or_none,
            "Dossier vide partagé par les processus gunicorn d'une machine, pour que /metrics les additionne."),
    Setting("CONFLICT_HORIZON_DAYS", "365", whole_number("un nombre entier de jours (au moins 1) est attendu", 1),
            "Jusqu'où, en jours, les chevauchements sont cherchés."),
    Setting("CONFLICT_MAX_OPENED", "200",
            whole_number("un nombre entier de chevauchements (au moins 1) est attendu", 1),
            "Au-delà de ce nombre de chevauchements ouverts par une écriture, elle est refusée (422), sauf "
            "strict=false d'une coordination."),
    Setting("CONFLICT_NON_COMPETING_KINDS", "coordination", event_kinds,
            "Types d'événements, séparés par des virgules, qui ne se disputent jamais un public."),
    Setting("NOTICE_HORIZON_DAYS", "90", whole_number("un nombre entier de jours (au moins 1) est attendu", 1),
            "Jusqu'où, en jours, le changement d'un événement entier est signalé aux personnes concernées."),
    Setting("API_TOKEN_DAYS", "365", whole_number("un nombre entier de jours (au moins 1) est attendu", 1),
            "Durée de validité, en jours, d'un nouveau jeton d'API (flask tokens create)."),
    Setting("REMINDER_GRACE_MINUTES", "180", whole_number("un nombre entier de minutes (0 ou plus) est attendu"),
            "Après un arrêt de l'horloge, ce qui est échu depuis moins de ces minutes part en retard ; "
            "le reste est noté comme manqué."),
    Setting("SEPARATE_SENDERS", "0", boolean,
            "1 : les courriels et webhooks dus partent des processus « python -m scheduler send » "
            "(Procfile sender:), l'horloge ne fait plus que relever ce qui est dû."),
    Setting("REBUILD_AFTER_WRITES", "1", boolean,
            "1 : après une écriture, le processus qui l'a faite reconstruit en arrière-plan les flux et pages "
            "qu'elle change (flux du territoire, accueil, ceux servis récemment) ; 0 : le premier lecteur les "
            "reconstruit."),
    Setting("SCREEN_REFRESH_SECONDS", "300", whole_number("un nombre entier de secondes (au moins 10) est attendu", 10),
            "Toutes les combien de secondes l'écran du hall (/ecran/…) recharge son programme."),
    Setting("IMPORT_MAX_MB", "20", megabytes,
            "Taille maximale, en Mo, d'un fichier importé (les autres requêtes restent à 1 Mo).",
            key="IMPORT_MAX_CONTENT_LENGTH"),
    Setting("IMPORT_INLINE_MAX_EVENTS", "200",
            whole_number("un nombre entier d'événements (0 ou plus) est attendu"),
            "Au-delà de ce nombre d'événements, un import de la page est fait par l'horloge, "
            "la page montrant l'avancement."),
    Setting("IMPORT_API_INLINE_MAX_EVENTS", "500",
            whole_number("un nombre entier d'événements (0 ou plus) est attendu"),
            "Au-delà de ce nombre d'événements, l'import immédiat de l'API répond 413 : passer par "
            "/api/v1/import-jobs."),
    Setting("IMPORT_INLINE_MAX_OVERLAP_WORK", "200000",
            whole_number("un nombre entier (0 ou plus) est attendu"),
            "Au-delà de cette estimation de la recherche des chevauchements d'un fichier (ses occurrences "
            "des douze mois à venir, chacune multipliée par le nombre d'événements du même lieu), l'import "
            "est fait par l'horloge (la page) ou répond 413 (l'API), même avec peu d'événements : une "
            "requête ne doit jamais dépasser le délai de gunicorn."),
    Setting("MAILBOX_DIR", "{instance}/mailbox", folder,
            "Où la boîte aux lettres locale (make run) range les courriels reçus."),
    Setting("CLOCK_HEARTBEAT_SECONDS", "15", seconds("un nombre de secondes (plus que 0) est attendu"),
            "Toutes les combien de secondes l'horloge renouvelle son verrou (les tests l'accélèrent)."),
    Setting("CLOCK_LOCK_TTL_SECONDS", "60", seconds("un nombre de secondes (plus que 0) est attendu"),
            "Sans battement depuis ce nombre de secondes, le verrou d'une horloge passe à une autre (SQLite)."),
    Setting("LEGAL_PUBLISHER", "Instance de démonstration de Maillage (éditeur à renseigner)", text_line,
            "Mentions légales : l'éditeur du site (nom de la structure et adresse postale)."),
    Setting("LEGAL_DIRECTOR", "À renseigner", text_line,
            "Mentions légales : le directeur ou la directrice de la publication."),
    Setting("LEGAL_HOST", "À renseigner (nom, adresse et téléphone de l'hébergeur)", text_line,
            "Mentions légales : l'hébergeur (nom, adresse, téléphone)."),
    Setting("DATA_CONTROLLER", "L'éditeur du site (à renseigner)", text_line,
            "Données personnelles : le responsable du traitement (structure et adresse)."),
    Setting("MAP_TILES_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png", tiles_url,
            "Le serveur des fonds de carte de /carte ; en production, un serveur qui l'accepte (celui "
            "d'OpenStreetMap limite son usage)."),
    Setting("MAP_ATTRIBUTION", "© les contributeurs d'OpenStreetMap", text_line,
            "La mention de la source des fonds de carte, affichée sur la carte."),
    Setting("CONTACT_EMAIL", "contact@maillage.invalid", email_address,
            "À qui écrire pour ses données personnelles ou un défaut d'accessibilité."),
)
BY_NAME = {s.name: s for s in SETTINGS}

# What no environment changes.
FIXED = {
    "MAX_CONTENT_LENGTH": MEGABYTE,
    # Endpoints that take a whole calendar, up to IMPORT_MAX_MB (app.py MaillageRequest).
    "UPLOAD_ENDPOINTS": ("imports.ImportPreview", "imports.Imports", "imports.ImportJobs",
                         "feeds_pages.import_calendar"),
    # No X-RateLimit/Retry-After on every answer (a 503's own Retry-After would be overwritten);
    # a 429 gets its Retry-After in extensions.py.
    "RATELIMIT_HEADERS_ENABLED": False,
}


class BadSetting(ValueError):
    pass


def _problem(setting: Setting, text: str, expected: str) -> str:
    if not text.strip():
        return f"{setting.name} est vide : {expected}"
    if setting.secret:
        return f"{setting.name} : {expected}"
    shown = text if len(text) <= 60 else text[:57] + "…"
    shown = shown.encode("unicode_escape").decode("ascii", "replace") if not shown.isprintable() else shown
    return f"{setting.name}=« {shown} » : {expected}"


def _read(setting: Setting, environ, instance: Path) -> Any:
    text = environ.get(setting.name)
    if text is None:
        text = setting.default.replace("{instance}", str(instance))
    try:
        return setting.parse(text)
    except ValueError as error:
        raise BadSetting(_problem(setting, text, str(error))) from None


def value(name: str, environ=None, instance: Path = INSTANCE) -> Any:
    """One setting, for the processes that run without the app (the local mailbox)."""
    try:
        return _read(BY_NAME[name], os.environ if environ is None else environ, instance)
    except BadSetting as error:
        raise SystemExit(f"{error}.") from None


def from_environ(instance_path: str | Path = INSTANCE, given=(), environ=None) -> dict:
    """The app's config from the environment. `given`: config keys the caller sets itself
    (create_app's overrides), not read. Every bad value is named, in one line."""
    environ = os.environ if environ is None else environ
    config: dict[str, Any] = dict(FIXED)
    problems = []
    for setting in SETTINGS:
        key = setting.config_key
        if (key[0] if isinstance(key, tuple) else key) in given:
            continue
        try:
            parsed = _read(setting, environ, Path(instance_path))
        except BadSetting as error:
            problems.append(str(error))
            continue
        if isinstance(key, tuple):
            config.setdefault(key[0], {})[key[1]] = parsed
        else:
            config[key] = parsed
    problems.extend(production_problems(config, environ, given))
    if problems:
        raise SystemExit(" ; ".join(problems) + ".")
    return config


def development_mode(config: dict, environ, given=()) -> bool:
    """make run (MAILLAGE_ENV=development), the tests (MAILLAGE_ENV=test, or an app made with
    TESTING), Flask's debug mode, or no MAILLAGE_ENV and no DATABASE_URL (the SQLite file of a
    checkout: `flask db heads` on a development machine); anything else is production."""
    declared = config.get("MAILLAGE_ENV")
    if declared == "production":
        return False
    return (declared in ("development", "test") or bool(dict(given).get("TESTING"))
            or environ.get("FLASK_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")
            or (not declared and "DATABASE_URL" not in environ and "SQLALCHEMY_DATABASE_URI" not in given))


def production_problems(config: dict, environ, given=()) -> list[str]:
    """In production, a real SECRET_KEY: with the development one, anyone could sign a session
    cookie of a national coordinator. A key the caller gives (create_app's overrides) is theirs."""
    key = config.get("SECRET_KEY")
    if ("SECRET_KEY" in given or key is None or "MAILLAGE_ENV" not in config  # a bad MAILLAGE_ENV stops anyway
            or development_mode(config, environ, given)):
        return []
    if key == DEV_SECRET_KEY or len(key) < MIN_SECRET_KEY_LENGTH:
        return [(f"SECRET_KEY : en production, une clé aléatoire d'au moins {MIN_SECRET_KEY_LENGTH} caractères "
                "est attendue (python3 -c 'import secrets; print(secrets.token_urlsafe(32))'), la clé de "
                "développement ne sert qu'avec MAILLAGE_ENV=development (make run)")]
    return []


def uses_development_key(config: dict) -> bool:
    return config.get("SECRET_KEY") == DEV_SECRET_KEY
