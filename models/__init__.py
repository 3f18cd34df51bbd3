"""The data of Maillage and the operations on it. Imports nothing else of ours."""
from models.audit import AuditEntry
from models.deliveries import ClockLock, Delivery, PartnerReminderSettings, ScanMark
from models.base import Base, UTCDateTime, db, utcnow
from models.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from models.events import Event, OccurrenceException
from models.feeds import FeedState, FeedToken, SyncSource
from models.imports import ImportJob
from models.partners import Partner, Person
from models.subscriptions import Subscription
from models.territory import Place, Quartier
from models.users import ApiToken, User
from models.versions import PageState, ScopeVersion
from models.conflicts import ConflictNotice, ScheduleConflict  # noqa: E402  (after the models it refers to)

__all__ = [
    "AuditEntry", "Base", "UTCDateTime", "db", "utcnow", "Conflict", "DomainError", "Forbidden",
    "InvalidInput", "NotFound", "Event", "OccurrenceException", "Partner", "Person", "Place",
    "Quartier", "ApiToken", "User", "FeedState", "FeedToken", "SyncSource", "ImportJob",
    "ScopeVersion", "PageState", "ClockLock", "Delivery", "PartnerReminderSettings", "ScanMark",
    "Subscription",
    "ConflictNotice", "ScheduleConflict",
]
