"""The public pages, where young people are (pages), found by a search or a position (search), on
a hall screen or a poster (display), in other sites (widget); cached so as never to be stale
(cache). One blueprint, "public", in blueprint.py; importing this package registers its routes."""
from web.public import display, pages, widget
from web.public.blueprint import bp
from web.public.cache import PageCache

__all__ = ["PageCache", "bp", "display", "pages", "widget"]
