"""Pages from Jinja2 templates: one environment, the request's language, Babel formatting."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from babel import dates, numbers
from markupsafe import Markup
from multidict import CIMultiDict

from ..runtime import NODE
from . import auth, i18n

TEMPLATES = Path(__file__).with_name("templates")
PARIS = ZoneInfo("Europe/Paris")

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
# Placeholders: every render passes the request language's callables in its context.
_env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]


def environment() -> jinja2.Environment:
    return _env


def gettext_for(lang: str) -> tuple[Any, Any]:
    """``gettext`` and ``ngettext`` in Jinja's new style: named %(placeholders)s, escaped values."""
    found = i18n.translations(lang)

    def gettext(message: str, **variables: Any) -> Markup:
        return Markup(found.gettext(message)) % variables

    def ngettext(singular: str, plural: str, n: int, **variables: Any) -> Markup:
        variables.setdefault("num", n)
        return Markup(found.ngettext(singular, plural, n)) % variables

    return gettext, ngettext


def formatters(lang: str) -> dict[str, Any]:
    def format_money(cents: int, currency: str = "EUR") -> str:
        digits = numbers.get_currency_precision(currency)
        return numbers.format_currency(Decimal(cents).scaleb(-digits), currency, locale=lang)

    def _local(ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, UTC).astimezone(PARIS)

    def format_datetime(ms: int | None) -> str:
        return "" if ms is None else dates.format_datetime(_local(ms), "medium", tzinfo=PARIS, locale=lang)

    def format_date(ms: int | None) -> str:
        return "" if ms is None else dates.format_date(_local(ms).date(), "long", locale=lang)

    def format_number(n: float | Decimal) -> str:
        return numbers.format_decimal(n, locale=lang)

    return {
        "format_money": format_money,
        "format_datetime": format_datetime,
        "format_date": format_date,
        "format_number": format_number,
    }


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


ROLE_LABELS = {"admin": N_("administrateur"), "member": N_("membre"), "reader": N_("lecture seule")}
TYPE_LABELS = {"resource": N_("ressource"), "offer": N_("offre"), "need": N_("besoin")}
KIND_LABELS = {"equipment": N_("matériel"), "vehicle": N_("véhicule"), "space": N_("espace"),
               "skill": N_("compétence"), "other": N_("autre")}


def context_for(request: web.Request) -> dict[str, Any]:
    """What every template sees (also usable to translate a message in a handler: ``ctx["_"]``)."""
    lang = i18n.language(request)
    gettext, ngettext = gettext_for(lang)
    return {
        "request": request,
        # Whose node this is: volunteers of several associations may have several open.
        "association": request.config_dict[NODE].config.name,
        "user": request.get(auth.USER_KEY),
        "lang": lang,
        "csrf_token": auth.csrf_token(request),
        "_": gettext,
        "gettext": gettext,
        "ngettext": ngettext,
        "role_label": lambda role: gettext(ROLE_LABELS.get(role, role)),
        "type_label": lambda rtype: gettext(TYPE_LABELS.get(rtype, rtype)),
        "kind_label": lambda kind: gettext(KIND_LABELS.get(kind, kind)),
        **formatters(lang),
    }


def translator(request: web.Request) -> Any:
    """``_`` for the request's language, for messages built in handlers."""
    return gettext_for(i18n.language(request))[0]


def render(request: web.Request, template: str, **context: Any) -> web.Response:
    """Render ``template`` as the page, in the request's language.

    ``status`` in the context sets the HTTP status (200 by default).
    The signed-in user is known when the handler called ``auth.require`` or ``auth.current_user``.
    """
    status = int(context.pop("status", 200))
    values = {**context_for(request), **context}
    html = _env.get_template(template).render(values)
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    finish(request, response)
    return response


def finish(request: web.Request, response: web.StreamResponse) -> None:
    """Cookies a page sets: the language chosen with ?lang=, the anonymous CSRF cookie."""
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
    lang = request.query.get("lang")
    if lang in i18n.LANGUAGES and request.cookies.get(i18n.COOKIE) != lang:
        response.set_cookie(i18n.COOKIE, lang, max_age=365 * 86400, samesite="Lax", httponly=True,
                            secure=auth.secure_cookies(request))
    auth.set_anonymous_cookie(request, response)


def redirect(location: str) -> web.HTTPSeeOther:
    """A 303 to ``location`` (raise or return it after a POST)."""
    return web.HTTPSeeOther(location=location)


# ---- error pages -------------------------------------------------------------------------------

_ERRORS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    429: web.HTTPTooManyRequests,
}


def error_page(request: web.Request, status: int, message: str | None = None, **context: Any) -> web.HTTPException:
    """A styled error page (error.html in the base layout, in the request's language), to raise.

    ``message`` is shown as it is: translate it first (``translator(request)``).
    """
    page = render(request, "error.html", status=status, code=status, message=message, **context)
    kind = _ERRORS.get(status, web.HTTPBadRequest)
    headers = CIMultiDict((k, v) for k, v in page.headers.items() if k.lower() not in ("content-type", "content-length"))
    return kind(text=page.text, headers=headers, content_type="text/html")


def not_found(request: web.Request, message: str | None = None) -> web.HTTPException:
    """A styled 404 page, to raise where a handler finds no such agreement, resource or record."""
    return error_page(request, 404, message, error="not_found")


def bad_request(request: web.Request, message: str | None = None) -> web.HTTPException:
    """A styled 400 page, to raise when a form or a query cannot be understood at all."""
    return error_page(request, 400, message, error="bad_request")
