"""What text Maillage keeps: the one check of the words people type, import or sync before they
are written, so that the API, the pages, the import and the sync refuse the same things with the
same French words.

Refused everywhere: control characters (NUL, which PostgreSQL cannot store, and the rest of C0/C1
but tab and line breaks), lone UTF-16 surrogates (JSON's `"\\ud800"`: no database encoding can
store one, the driver would fail with a 500), and the bidirectional embeddings, overrides and
isolates (U+202A–U+202E, U+2066–U+2069), which make a title read differently from what it holds
(Trojan Source). Refused in one-line fields (a title, a room, a name): line breaks of any kind,
which would split a poster line, a mail subject or a header (a tab stays: it splits nothing).
The marks LRM/RLM stay allowed: Arabic or Hebrew text needs them and they reorder nothing.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from models.errors import InvalidInput

_SURROGATE = re.compile("[\ud800-\udfff]")
_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")
# C0 and C1 but tab and the line breaks, which `_LINE_BREAK` leaves to multi-line texts.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")
_LINE_BREAK = re.compile("[\n\r\x85\u2028\u2029]")

# How many entries a list of short texts may hold (an event's employers, audience tags; a place's
# rooms; a quartier's communes): a forum has 5 to 7 employers, never 190,000.
MAX_LIST_ENTRIES = 100


def unstorable(value: str) -> str | None:
    """What no database can keep nor even look up (a lone surrogate, NUL), in French, or None:
    checked on every text of a request, a reference to a row as much as a title."""
    if (found := _SURROGATE.search(value)) is not None:
        return f"demi-paire UTF-16 isolée interdite (U+{ord(found.group()):04X})"
    if "\x00" in value:
        return "caractère de contrôle interdit (U+0000)"
    return None


def text_problem(value: str, *, one_line: bool = False) -> str | None:
    """What is wrong with a text a person will read (None when nothing), in French, as a phrase
    to be placed after what it is about (a field, an import's line and property)."""
    if (problem := unstorable(value)) is not None:
        return problem
    if (found := _CONTROL.search(value)) is not None:
        return f"caractère de contrôle interdit (U+{ord(found.group()):04X})"
    if (found := _BIDI_CONTROL.search(value)) is not None:
        return f"caractère de contrôle de sens d'écriture interdit (U+{ord(found.group()):04X})"
    if one_line and _LINE_BREAK.search(value):
        return "saut de ligne interdit dans un texte d'une ligne"
    return None


def sentence(problem: str) -> str:
    """A problem phrase as a message of its own: capital letter, full stop."""
    return problem[:1].upper() + problem[1:] + "."


def list_problem(values: Iterable, *, max_entries: int = MAX_LIST_ENTRIES) -> str | None:
    """What is wrong with a list of one-line texts (employers, tags, rooms, communes), or None."""
    values = list(values)
    if len(values) > max_entries:
        return f"au plus {max_entries} entrées"
    for value in values:
        if isinstance(value, str) and (problem := text_problem(value, one_line=True)) is not None:
            return problem
    return None


def text_problems(values: Mapping, *, one_line: Iterable[str] = (), multi_line: Iterable[str] = (),
                  lists: Iterable[str] = ()) -> dict[str, list[str]]:
    """Each named field of `values` that is present and wrong, with its message."""
    problems: dict[str, list[str]] = {}
    for name in one_line:
        if isinstance(value := values.get(name), str) and (problem := text_problem(value, one_line=True)):
            problems[name] = [sentence(problem)]
    for name in multi_line:
        if isinstance(value := values.get(name), str) and (problem := text_problem(value)):
            problems[name] = [sentence(problem)]
    for name in lists:
        if isinstance(value := values.get(name), list | tuple) and (problem := list_problem(value)):
            problems[name] = [sentence(problem)]
    return problems


def check_texts(values: Mapping, *, one_line: Iterable[str] = (), multi_line: Iterable[str] = (),
                lists: Iterable[str] = ()) -> None:
    """Raises InvalidInput, field by field, when a named text of `values` may not be kept."""
    problems = text_problems(values, one_line=one_line, multi_line=multi_line, lists=lists)
    if problems:
        raise InvalidInput(next(iter(problems.values()))[0], problems)
