"""The JSON occurrences come a page at a time (`limit`, `cursor`, `Link: <…>; rel="next"`): a test
that reads a long window walks every page, as a client would, rather than trusting the first."""
from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit


def next_url(response) -> str | None:
    """The path and query of the `next` link, or None on the last page."""
    link = response.headers.get("Link")
    if link is None:
        return None
    found = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert found, link
    parts = urlsplit(found.group(1))
    return f"{parts.path}?{parts.query}"


def walk(client, url: str, between=None, headers=None) -> list[list[dict]]:
    """Every page from `url`, following the next links; `between(n)` runs after page n."""
    pages = []
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        pages.append(response.get_json())
        url = next_url(response)
        if between is not None and url:
            between(len(pages))
    return pages


def all_occurrences(client, headers=None, **query) -> list[dict]:
    """Every occurrence the API gives for `query` (None values left out), across all its pages."""
    params = urlencode({k: v for k, v in query.items() if v is not None})
    return [o for page in walk(client, f"/api/v1/occurrences?{params}", headers=headers) for o in page]
