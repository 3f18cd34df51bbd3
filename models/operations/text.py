"""What text Maillage keeps: the one check of the words people type, import or sync before they
are written, so that the API, the pages, the import and the sync refuse the same things with the
same French words.

Refused everywhere: control characters (NUL, which PostgreSQL cannot store, and the rest of C0/C1
but tab and line breaks), lone UTF-16 surrogates (JSON's `"\\ud800"`: no database encoding can
store one, the driver would fail with a 500), and the bidirectional embeddings, overrides and
isolates (U+202A–U+202E, U+2066–U+2069), which make a title read differently from what it holds
(Trojan Source). Refused in one-line fields (a title, a room, a name): line breaks of any kind,
which would split a poster line, a mail subject or a header. The marks LRM/RLM stay allowed:
Arabic or Hebrew text needs them and they reorder nothing.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from models.errors import InvalidInput

_SURROGATE = re.compile("[\ud800-\udfff]")
_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")
_LINE_BREAK = re.compile("[\n\r\x85\u2028\u2029]")
_TAB = re.compile("\t")

# How many entries a list of short texts may hold (an event's employers, audience tags; a place's
# rooms; a quartier's communes): a forum has 5 to 7 employers, never 190,000.
MAX_LIST_ENTRIES = 100


def unstorable(value: str) -> str | None:
    """What no database can keep nor even look up (a lone surrogate, NUL), in French, or None:
    checked on every text of a request, a reference to a row as much as a title."""
    if _SURROGATE.search(value):
        return "Caractère invalide (demi-paire UTF-16 isolée) : le texte doit être de l'Unicode valide."
    if "\x00" in value:
        return "Caractère nul (\\u0000) interdit."
    return None


def text_problem(value: str, *, one_line: bool = True) -> str | None:
    """What is wrong with a text, in French, or None when it may be kept."""
    if (problem := unstorable(value)) is not None:
        return problem
    if (found := _CONTROL.search(value)) is not None:
        return f"Caractère de contrôle interdit (U+{ord(found.group()):04X})."
    if (found := _BIDI_CONTROL.search(value)) is not None:
        return (f"Caractère de contrôle de direction du texte interdit (U+{ord(found.group()):04X}) : "
                "il ferait lire le texte autrement qu'il n'est écrit.")
    if one_line and (_LINE_BREAK.search(value) or _TAB.search(value)):
        return "Ce champ tient sur une ligne : retours à la ligne et tabulations interdits."
    return None


def list_problem(values: Iterable, *, max_entries: int = MAX_LIST_ENTRIES) -> str | None:
    """What is wrong with a list of one-line texts (employers, tags, rooms, communes), or None."""
    values = list(values)
    if len(values) > max_entries:
        return f"Au plus {max_entries} entrées."
    for value in values:
        if isinstance(value, str) and (problem := text_problem(value, one_line=True)) is not None:
            return problem
    return None


def text_problems(values: Mapping, *, one_line: Iterable[str] = (), multi_line: Iterable[str] = (),
                  lists: Iterable[str] = ()) -> dict[str, list[str]]:
    """Each named field of `values` that is present and wrong, with its message."""
    problems: dict[str, list[str]] = {}
    for name in one_line:
        if isinstance(value := values.get(name), str) and (problem := text_problem(value)) is not None:
            problems[name] = [problem]
    for name in multi_line:
        if isinstance(value := values.get(name), str) and (problem := text_problem(value, one_line=False)):
            problems[name] = [problem]
    for name in lists:
        if isinstance(value := values.get(name), list | tuple) and (problem := list_problem(value)) is not None:
            problems[name] = [problem]
    return problems


def check_texts(values: Mapping, *, one_line: Iterable[str] = (), multi_line: Iterable[str] = (),
                lists: Iterable[str] = ()) -> None:
    """Raises InvalidInput, field by field, when a named text of `values` may not be kept."""
    problems = text_problems(values, one_line=one_line, multi_line=multi_line, lists=lists)
    if problems:
        raise InvalidInput(next(iter(problems.values()))[0], problems)
