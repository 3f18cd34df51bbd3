"""A series' rule in French words (scheduler.french.rule_phrase), as the form's preview, the
public pages and the messages say it."""
from datetime import date, time

import pytest

from models.events import Event
from scheduler.french import rule_phrase


def series(**values) -> Event:
    """An unsaved event: the form phrases a rule before anything is written."""
    defaults = {"start_date": date(2026, 12, 7), "start_time": time(14), "duration_minutes": 180,
                "frequency": "weekly", "interval": 1, "weekdays": [0], "month_week": None, "until": None,
                "count": None, "skip_public_holidays": True, "pause_school_holidays": False,
                "school_zone": None, "holiday_region": "38"}
    return Event(**(defaults | values))


def test_a_weekly_permanence_reads_as_the_issue_says_it():
    assert rule_phrase(series(until=date(2027, 3, 29))) == \
        "tous les lundis de 14 h à 17 h, du 7 décembre au 29 mars, hors jours fériés"


@pytest.mark.parametrize(("values", "expected"), [
    ({"frequency": "once", "skip_public_holidays": False}, "le lundi 7 décembre 2026 de 14 h à 17 h"),
    ({"frequency": "daily", "interval": 3, "skip_public_holidays": False},
     "tous les 3 jours de 14 h à 17 h, à partir du 7 décembre"),
    ({"frequency": "daily"}, "tous les jours de 14 h à 17 h, à partir du 7 décembre, hors jours fériés"),
    ({"weekdays": [0, 2, 3], "start_time": time(9, 30), "duration_minutes": 150},
     "tous les lundis, mercredis et jeudis de 9 h 30 à 12 h, à partir du 7 décembre, hors jours fériés"),
    ({"interval": 2, "weekdays": [2]},
     "un mercredi sur deux de 14 h à 17 h, à partir du 7 décembre, hors jours fériés"),
    ({"interval": 6, "count": 4},
     "toutes les 6 semaines, le lundi de 14 h à 17 h, à partir du 7 décembre, 4 séances, hors jours fériés"),
    ({"interval": 3, "weekdays": [1, 3], "count": 1, "skip_public_holidays": False},
     "toutes les 3 semaines, les mardis et jeudis de 14 h à 17 h, à partir du 7 décembre, 1 séance"),
    ({"frequency": "monthly", "month_week": 1, "weekdays": [3]},
     "le premier jeudi du mois de 14 h à 17 h, à partir du 7 décembre, hors jours fériés"),
    ({"frequency": "monthly", "month_week": -1, "weekdays": [4], "interval": 2, "skip_public_holidays": False},
     "le dernier vendredi tous les 2 mois de 14 h à 17 h, à partir du 7 décembre"),
    ({"until": date(2028, 6, 30), "skip_public_holidays": False},
     "tous les lundis de 14 h à 17 h, du 7 décembre 2026 au 30 juin 2028"),
    ({"until": date(2027, 12, 6), "skip_public_holidays": False},
     "tous les lundis de 14 h à 17 h, du 7 décembre 2026 au 6 décembre 2027"),
    ({"until": date(2027, 6, 28), "skip_public_holidays": False},
     "tous les lundis de 14 h à 17 h, du 7 décembre au 28 juin"),
    ({"until": date(2027, 1, 1), "count": 10, "skip_public_holidays": False},
     "tous les lundis de 14 h à 17 h, du 7 décembre au 1er janvier, 10 séances au plus"),
    ({"pause_school_holidays": True},
     "tous les lundis de 14 h à 17 h, à partir du 7 décembre, hors jours fériés, hors vacances scolaires (zone A)"),
    ({"pause_school_holidays": True, "school_zone": "C", "skip_public_holidays": False},
     "tous les lundis de 14 h à 17 h, à partir du 7 décembre, hors vacances scolaires (zone C)"),
    ({"start_time": time(22), "duration_minutes": 240, "skip_public_holidays": False},
     "tous les lundis de 22 h à 2 h, à partir du 7 décembre"),
    ({"frequency": "once", "duration_minutes": 2 * 24 * 60},
     "le lundi 7 décembre 2026 à partir de 14 h, pendant 2 jours"),
])
def test_every_kind_of_rule_has_its_phrase(values, expected):
    assert rule_phrase(series(**values)) == expected
