"""The node's web pages: server-rendered HTML (Jinja2), French first, for the association's people.

The pages sit on the node's main application next to /api/v1, /fed/v1 and
/ical (aiohttp cannot mount a sub-application at "/"), so nothing here is a
middleware: sign-in, roles and CSRF checks are helpers each handler calls
(node/web/auth.py). Handlers call the same node functions as the local API,
never the API over HTTP.

Each page module exposes ``ROUTES``; ``setup`` registers ours and, when they
exist, those of the search, agreements and audit pages.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from aiohttp import web

from .auth import LIMITER, LoginLimiter
from .render import not_found

STATIC = Path(__file__).with_name("static")
PAGE_MODULES = ("pages_home", "pages_catalogue", "pages_calendar", "pages_peers", "pages_account")
OPTIONAL_PAGE_MODULES = ("pages_search", "pages_agreements", "pages_audit")
PAGE_MODULES += ("pages_campaigns", "pages_federations", "pages_fund")  # co-funding and governance


def page_routes() -> list[web.RouteDef]:
    routes: list[web.RouteDef] = []
    for name in PAGE_MODULES:
        routes += importlib.import_module(f"{__name__}.{name}").ROUTES
    for name in OPTIONAL_PAGE_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise  # the module exists but something it imports is missing: a real error
            continue
        routes += module.ROUTES
    return routes


# Machine-facing parts of the node answer in their own formats, never with a web page.
MACHINE_PREFIXES = ("/api/", "/fed/", "/ical/")


@web.middleware
async def styled_not_found(request: web.Request, handler: Any) -> web.StreamResponse:
    """An address that matches no page gets the styled 404 in the visitor's language."""
    try:
        return await handler(request)
    except web.HTTPNotFound as exc:
        if request.path.startswith(MACHINE_PREFIXES) or exc.content_type == "text/html":
            raise
        raise not_found(request) from None


def setup(app: web.Application) -> None:
    """Add the web pages and /static/ to ``app`` (the node's main application)."""
    app[LIMITER] = LoginLimiter()
    app.add_routes(page_routes())
    app.router.add_static("/static/", STATIC, name="static", append_version=False)
    app.middlewares.append(styled_not_found)


def create_app() -> web.Application:
    """The web pages as an application of their own (to mount under a prefix, or in tests).

    It reads the node from ``request.config_dict``: mount it in an application holding NODE.
    """
    app = web.Application()
    setup(app)
    return app
