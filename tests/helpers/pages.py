"""The pages' forms: their CSRF token."""
from __future__ import annotations

import re


def csrf_token_in(html: str) -> str:
    """The CSRF token of the first form of a page."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)
