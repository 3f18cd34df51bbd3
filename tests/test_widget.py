"""The widget in another site's page: its iframe takes its content's height (postMessage and the
builder's short snippet), light or dark with an accent colour kept only when readable; the
builder fits a phone."""
from __future__ import annotations

import html as html_module
import re

import pytest

from helpers.browser import host_page_server, serious_violations
from helpers.public_territory import build_territory


@pytest.fixture
def territory(app, create_quartier, create_place, create_partner, create_event):
    return build_territory(create_quartier, create_place, create_partner, create_event)


def snippet_of(client, query: str) -> str:
    page = client.get(f"/widget/?{query}").get_data(as_text=True)
    return html_module.unescape(re.search(r'<textarea id="snippet"[^>]*>(.*?)</textarea>', page, re.S).group(1))


def test_the_builder_gives_a_short_snippet_that_sizes_the_frame_from_maillage_only(client, territory):
    snippet = snippet_of(client, f"portee=lieu:{territory.centre.slug}&theme=sombre&accent=%23ffcc00")
    assert f'src="http://maillage.test/widget/lieux/{territory.centre.slug}?theme=sombre&accent=ffcc00"' in snippet
    assert 'e.origin !== "http://maillage.test"' in snippet and "maillage-hauteur" in snippet
    assert len(snippet.strip().splitlines()) <= 12


def test_the_widget_takes_the_theme_and_a_readable_accent_only(client, territory):
    url = f"/widget/lieux/{territory.centre.slug}"
    dark = client.get(f"{url}?theme=sombre&accent=ffcc00").get_data(as_text=True)
    assert 'class="widget theme-sombre" data-accent="ffcc00"' in dark
    pale = client.get(f"{url}?accent=ffff00").get_data(as_text=True)  # yellow on white: unreadable
    assert 'class="widget theme-clair">' in pale and "data-accent" not in pale
    assert 'data-accent="0b3d91"' in client.get(f"{url}?accent=%230B3D91").get_data(as_text=True)
    assert "data-accent" not in client.get(f"{url}?accent=javascript:alert(1)").get_data(as_text=True)
    builder = client.get(f"/widget/?portee=lieu:{territory.centre.slug}&accent=%23ffff00").get_data(as_text=True)
    assert "ne se lirait pas assez bien" in builder


@pytest.mark.browser
@pytest.mark.parametrize("scope", ["quartier", "place"])
def test_the_frame_is_as_tall_as_the_widget_in_a_page_of_another_site(client, live_server, page, territory, scope):
    key = f"quartier:{territory.quartier.code}" if scope == "quartier" else f"lieu:{territory.bij.slug}"
    snippet = snippet_of(client, f"portee={key}").replace("http://maillage.test", live_server)
    server, origin = host_page_server(f"""<!doctype html><html lang="fr"><head><title>Centre social</title></head>
<body><h1>Nos partenaires emploi</h1><div style="width:360px">{snippet}</div><p>Suite de la page.</p></body></html>""")
    try:
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(origin)
        frame_element = page.locator("iframe[data-maillage]")
        page.frame_locator("iframe[data-maillage]").locator("footer").wait_for()
        frame = next(f for f in page.frames if f.url.startswith(live_server + "/widget/"))
        page.wait_for_function("document.querySelector('iframe[data-maillage]').style.height !== '480px'")
        content = frame.evaluate("Math.ceil(document.documentElement.getBoundingClientRect().height)")
        height = frame_element.evaluate("f => f.getBoundingClientRect().height")
        assert abs(height - content) <= 20, (height, content)
        assert content > 480 or scope == "place", content  # a quartier's fortnight is taller than the default
        assert frame.evaluate("document.documentElement.scrollHeight <= window.innerHeight + 1")  # no inner scroll
    finally:
        server.shutdown()


@pytest.mark.browser
def test_the_builder_fits_a_phone_and_its_preview_takes_its_height(live_server, page, territory):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/widget/?portee=quartier:{territory.quartier.code}&theme=sombre")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.wait_for_function("document.querySelector('iframe.preview').style.height !== ''")
    frame = next(f for f in page.frames if "/widget/quartiers/" in f.url)
    content = frame.evaluate("Math.ceil(document.documentElement.getBoundingClientRect().height)")
    height = page.evaluate("document.querySelector('iframe.preview').getBoundingClientRect().height")
    assert abs(height - content) <= 20
    assert serious_violations(page) == []
    page.goto(f"{live_server}/widget/quartiers/{territory.quartier.code}?theme=sombre&accent=ffcc00")
    assert serious_violations(page) == []
