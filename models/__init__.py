"""The data of Maillage and the operations on it. Imports nothing else of ours."""
from models.attendance import Attendance
from models.audit import AuditEntry
from models.base import Base, Model, UTCDateTime, db, utcnow
from models.conflicts import ConflictCase, ConflictNotice, ScheduleConflict
from models.deliveries import ClockLock, Delivery, PartnerReminderSettings, ScanMark
from models.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from models.events import Event, OccurrenceException
from models.feeds import FeedState, FeedToken, SyncSource
from models.imports import ImportJob
from models.partners import Partner, Person
from models.subscriptions import Subscription
from models.territory import Place, Quartier
from models.users import ApiToken, User
from models.versions import PageState, ScopeVersion

__all__ = [
    "ApiToken",
    "Attendance",
    "AuditEntry",
    "Base",
    "ClockLock",
    "Conflict",
    "ConflictCase",
    "ConflictNotice",
    "Delivery",
    "DomainError",
    "Event",
    "FeedState",
    "FeedToken",
    "Forbidden",
    "ImportJob",
    "InvalidInput",
    "Model",
    "NotFound",
    "OccurrenceException",
    "PageState",
    "Partner",
    "PartnerReminderSettings",
    "Person",
    "Place",
    "Quartier",
    "ScanMark",
    "ScheduleConflict",
    "ScopeVersion",
    "Subscription",
    "SyncSource",
    "UTCDateTime",
    "User",
    "db",
    "utcnow",
]
