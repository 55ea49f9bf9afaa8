"""Sign-in, roles and CSRF for the web pages, as helpers each handler calls (no middleware).

- The session cookie ``maillage_session`` holds a random token; the database keeps
  its SHA-256 (storage/users.py). HttpOnly, SameSite=Lax, Secure when the node's
  public URL is https.
- A form's ``csrf_token`` is an HMAC of the session token (before sign-in: of a
  random ``maillage_csrf`` cookie), keyed by a secret derived from the node's API token.
- Sign-in failures are counted per remote address and per name: 5 in 15 minutes
  and the next attempts get a 429 page until the oldest failure ages out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import defaultdict, deque
from typing import Any
from urllib.parse import quote

from aiohttp import web
from multidict import MultiDictProxy

from storage import session, users
from storage.users import User

from ..clock import now_ms
from ..runtime import NODE

ADMIN = "admin"  # administrateur : comptes, pairs, et tout ce que peut un membre
MEMBER = "member"  # membre : catalogue, accords
READER = "reader"  # lecture seule
RANKS = {READER: 0, MEMBER: 1, ADMIN: 2}

SESSION_COOKIE = "maillage_session"
ANON_COOKIE = "maillage_csrf"
SESSION_LIFETIME_MS = 14 * 86_400_000
# Typed request keys where aiohttp has them (3.12+), plain strings before.
_RequestKey: Any = getattr(web, "RequestKey", None) or (lambda name, _type: name)
USER_KEY = _RequestKey("maillage_web_user", object)  # the signed-in User, or None; request.get(USER_KEY)
_TOKEN_KEY = _RequestKey("maillage_web_session_token", object)
_ANON_KEY = _RequestKey("maillage_web_anon", object)
_NEW_ANON_KEY = _RequestKey("maillage_web_new_anon", object)

MAX_FAILURES = 5
FAILURE_WINDOW_S = 15 * 60

__all__ = ["ADMIN", "MEMBER", "READER", "User", "require", "form", "current_user", "csrf_token"]


class LoginLimiter:
    """Failed sign-ins per remote address and per name, in memory (a restart forgets them)."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = FAILURE_WINDOW_S) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return deque()
        return times

    def blocked(self, address: str, name: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        keys = (("addr", address), ("name", name.strip().casefold()))
        return any(len(self._recent(key, now)) >= self.max_failures for key in keys)

    def failed(self, address: str, name: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for key in (("addr", address), ("name", name.strip().casefold())):
            self._failures[key].append(now)
        if len(self._failures) > 100_000:  # a flood of names: forget the stale ones
            for key in list(self._failures):
                self._recent(key, now)


LIMITER = web.AppKey("maillage_login_limiter", LoginLimiter)


def secure_cookies(request: web.Request) -> bool:
    return request.config_dict[NODE].config.advertised_url.startswith("https://")


def _secret(request: web.Request) -> bytes:
    token = request.config_dict[NODE].token
    return hmac.new(token.encode(), b"maillage web csrf", hashlib.sha256).digest()


# ---- who is there ------------------------------------------------------------------------------


async def current_user(request: web.Request) -> User | None:
    """The signed-in user, or None (looked up once per request)."""
    if USER_KEY in request:
        return request[USER_KEY]  # type: ignore[no-any-return]
    token = request.cookies.get(SESSION_COOKIE)
    user = None
    if token and len(token) < 200:
        node = request.config_dict[NODE]

        def read() -> User | None:
            with session(node.engine) as s:
                return users.session_user(s, token, now_ms=now_ms())

        user = await node.run(read)
    request[USER_KEY] = user
    request[_TOKEN_KEY] = token if user is not None else None
    return user


def has_role(user: User | None, role: str) -> bool:
    return user is not None and RANKS.get(user.role, -1) >= RANKS[role]


async def require(request: web.Request, role: str = READER) -> User:
    """The signed-in user with at least ``role``; otherwise to the sign-in page, or a 403 page."""
    user = await current_user(request)
    if user is None:
        raise web.HTTPSeeOther(location=f"/connexion?suivant={quote(request.path_qs, safe='')}")
    if not has_role(user, role):
        raise forbidden(request, "role")
    return user


def forbidden(request: web.Request, why: str) -> web.HTTPForbidden:
    """A 403 page: ``why`` is "role" (not allowed) or "csrf" (form expired or forged)."""
    from .render import render

    page = render(request, "error.html", status=403, error=why)
    return web.HTTPForbidden(text=page.text, content_type="text/html", headers=_cookies_of(page))


def _cookies_of(response: web.StreamResponse) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower() in ("set-cookie", "content-security-policy")}


# ---- CSRF -----------------------------------------------------------------------------------------


def csrf_token(request: web.Request) -> str:
    """The token forms of this page carry (bound to the session, or to the anonymous cookie)."""
    token = request.get(_TOKEN_KEY)
    if token:
        material = b"session:" + token.encode()
    else:
        anon = request.get(_ANON_KEY) or request.cookies.get(ANON_COOKIE)
        if not anon or len(anon) > 100:
            anon = secrets.token_urlsafe(24)
            request[_NEW_ANON_KEY] = anon
        request[_ANON_KEY] = anon
        material = b"anonymous:" + anon.encode()
    return hmac.new(_secret(request), material, hashlib.sha256).hexdigest()


def set_anonymous_cookie(request: web.Request, response: web.StreamResponse) -> None:
    anon = request.get(_NEW_ANON_KEY)
    if anon:
        response.set_cookie(ANON_COOKIE, anon, httponly=True, samesite="Lax", secure=secure_cookies(request))


async def form(request: web.Request) -> MultiDictProxy[Any]:
    """The POSTed form, once its ``csrf_token`` is checked (403 page when missing or wrong)."""
    await current_user(request)
    data = await request.post()
    given = data.get("csrf_token")
    expected = csrf_token(request)
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        request.pop(_NEW_ANON_KEY, None)
        raise forbidden(request, "csrf")
    return data


# ---- signing in and out ------------------------------------------------------------------------


def remote_address(request: web.Request) -> str:
    return request.remote or "?"


async def sign_in(request: web.Request, name: str, password: str) -> User | None:
    """Check the password; on success open a session (cookie set by ``start_session``)."""
    node = request.config_dict[NODE]

    def check() -> User | None:
        with session(node.engine) as s, s.begin():
            return users.authenticate(s, name, password)

    return await node.run(check)


async def start_session(request: web.Request, user: User, response: web.StreamResponse) -> None:
    node = request.config_dict[NODE]

    def commit() -> str:
        with session(node.engine) as s, s.begin():
            return users.open_session(s, user.id, now_ms=now_ms(), lifetime_ms=SESSION_LIFETIME_MS)

    token = await node.run(commit)
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_LIFETIME_MS // 1000, httponly=True, samesite="Lax",
                        secure=secure_cookies(request), path="/")
    response.del_cookie(ANON_COOKIE, path="/")


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        node = request.config_dict[NODE]

        def commit() -> None:
            with session(node.engine) as s, s.begin():
                users.close_session(s, token)

        await node.run(commit)
    response.del_cookie(SESSION_COOKIE, path="/")
