"""Sign in (/connexion), sign out (/deconnexion) and the account page (/compte: password; users for admins)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from storage import session, users
from storage.users import AccountError

from ..clock import now_ms
from ..runtime import NODE
from . import auth
from .render import bad_request, redirect, render, translator


def _next(target: str | None) -> str:
    """Where to go after signing in: only a path on this site (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def login_page(request: web.Request) -> web.Response:
    await auth.current_user(request)
    return render(request, "login.html", suivant=_next(request.query.get("suivant")), name="", failed=False)


async def login(request: web.Request) -> web.StreamResponse:
    data = await auth.form(request)
    name = str(data.get("name", ""))[:200]
    password = str(data.get("password", ""))[:1000]
    target = _next(str(data.get("suivant", "")))
    limiter = request.config_dict[auth.LIMITER]
    address = auth.remote_address(request)
    if limiter.blocked(address, name):
        return render(request, "login.html", status=429, suivant=target, name=name, failed=False, limited=True)
    user = await auth.sign_in(request, name, password) if name and password else None
    if user is None:
        limiter.failed(address, name)
        return render(request, "login.html", status=401, suivant=target, name=name, failed=True)
    response = redirect(target)
    await auth.start_session(request, user, response)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    await auth.form(request)
    response = redirect("/connexion")
    await auth.end_session(request, response)
    raise response


async def _account_page(request: web.Request, user: users.User, **extra: Any) -> web.Response:
    node = request.config_dict[NODE]
    everyone: list[users.User] = []
    if auth.has_role(user, auth.ADMIN):

        def read() -> list[users.User]:
            with session(node.engine) as s:
                return users.list_all(s)

        everyone = await node.run(read)
    values: dict[str, Any] = {"users": everyone, "roles": users.ROLES, "notice": None, "error": None,
                              "one_time": None, **extra}
    return render(request, "account.html", **values)


async def account(request: web.Request) -> web.Response:
    user = await auth.require(request, auth.READER)
    _ = translator(request)
    notice = {"password": _("Mot de passe changé."), "user": _("Compte créé.")}.get(request.query.get("fait", ""))
    return await _account_page(request, user, notice=notice)


async def change_password(request: web.Request) -> web.Response:
    user = await auth.require(request, auth.READER)
    data = await auth.form(request)
    _ = translator(request)
    node = request.config_dict[NODE]
    current, new, again = (str(data.get(k, ""))[:1000] for k in ("current", "new", "again"))
    if new != again:
        return await _account_page(request, user, error=_("Les deux nouveaux mots de passe diffèrent."), status=400)
    try:
        users.check_password(new)
    except AccountError:
        return await _account_page(
            request, user, error=_("Le mot de passe doit compter au moins %(n)s caractères.", n=users.MIN_PASSWORD),
            status=400)
    if await auth.sign_in(request, user.name, current) is None:
        return await _account_page(request, user, error=_("Le mot de passe actuel n'est pas le bon."), status=400)
    hashed = await node.run(users.hash_password, new)

    def commit() -> None:
        with session(node.engine) as s, s.begin():
            users.set_password(s, user.id, hashed)  # ends every session of this user …

    await node.run(commit)
    response = redirect("/compte?fait=password")
    await auth.start_session(request, user, response)  # … except a new one for this browser
    raise response


async def add_user(request: web.Request) -> web.Response:
    admin = await auth.require(request, auth.ADMIN)
    data = await auth.form(request)
    _ = translator(request)
    node = request.config_dict[NODE]
    name, role = str(data.get("name", "")).strip(), str(data.get("role", ""))
    if role not in users.ROLES:
        return await _account_page(request, admin, error=_("Choisissez un rôle."), status=400)
    password = users.new_password()
    hashed = await node.run(users.hash_password, password)

    def commit() -> users.User:
        with session(node.engine) as s, s.begin():
            return users.create(s, name, role, hashed, now_ms=now_ms())

    try:
        created = await node.run(commit)
    except AccountError:
        return await _account_page(
            request, admin, error=_("Ce nom est vide, trop long ou déjà pris : choisissez-en un autre."), status=400)
    return await _account_page(request, admin, notice=_("Compte créé."), one_time=(created.name, password))


async def reset_password(request: web.Request) -> web.Response:
    admin = await auth.require(request, auth.ADMIN)
    data = await auth.form(request)
    _ = translator(request)
    node = request.config_dict[NODE]
    try:
        user_id = int(str(data.get("user_id", "")))
    except ValueError:
        raise bad_request(request, _("Compte inconnu.")) from None
    password = users.new_password()
    hashed = await node.run(users.hash_password, password)

    def commit() -> users.User | None:
        with session(node.engine) as s, s.begin():
            target = users.get(s, user_id)
            if target is not None:
                users.set_password(s, user_id, hashed)
            return target

    target = await node.run(commit)
    if target is None:
        return await _account_page(request, admin, error=_("Compte inconnu."), status=404)
    if target.id == admin.id:
        response = await _account_page(request, admin, notice=_("Mot de passe réinitialisé."),
                                       one_time=(target.name, password))
        await auth.start_session(request, admin, response)
        return response
    return await _account_page(request, admin, notice=_("Mot de passe réinitialisé."), one_time=(target.name, password))


ROUTES: list[web.RouteDef] = [
    web.get("/connexion", login_page),
    web.post("/connexion", login),
    web.post("/deconnexion", logout),
    web.get("/compte", account),
    web.post("/compte/mot-de-passe", change_password),
    web.post("/compte/utilisateurs", add_user),
    web.post("/compte/reinitialiser", reset_password),
]
