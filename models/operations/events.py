"""Looking events up. Their writes go through `scheduler.writes`, the one write path."""
from __future__ import annotations

from models.base import db
from models.errors import NotFound
from models.events import Event


def event_by_id(event_id: int) -> Event:
    event = db.session.get(Event, event_id)
    if event is None:
        raise NotFound(f"Événement inconnu : {event_id}.")
    return event


# Characters no one types and that break readers or databases: NUL (PostgreSQL refuses it in
# text), the other C0 and C1 control characters, and the bidirectional overrides that make a
# text read otherwise than it is stored. Tabs and, where a text has several lines, line breaks
# are the only control characters kept.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def text_problem(value: str, *, one_line: bool = False) -> str | None:
    """What is wrong with a text a person will read (None when nothing), in French."""
    allowed = "\t" if one_line else "\t\n\r"
    for char in value:
        code = ord(char)
        if (code < 32 or 127 <= code < 160) and char not in allowed:
            if char in "\n\r":
                return "saut de ligne interdit dans un texte d'une ligne"
            return f"caractère de contrôle interdit (U+{code:04X})"
        if char in _BIDI_CONTROLS:
            return f"caractère de contrôle de sens d'écriture interdit (U+{code:04X})"
    return None
