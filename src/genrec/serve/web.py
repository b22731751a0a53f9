"""The browser UI: server-rendered pages (Jinja2, everything escaped) and a small script for in-place updates.

Sign-in takes an API key and opens a session cookie (HttpOnly, SameSite=Strict); every form post
carries the session's CSRF token, and a post from another origin is refused. Without JavaScript
every form still works (post, then redirect); with it, feedback, turns and job polling update the
page in place from HTML fragments the same templates render.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from genrec.data.accounts import LastAdminKeyError, Principal, WebSession
from genrec.serve.auth import COOKIE, PRE_CSRF_COOKIE, csrf_ok, web_session
from genrec.serve.jobs import Job, QueueFull
from genrec.serve.schemas import FeedbackIn, FiltersIn, KeyIn, RecommendIn, TurnIn
from genrec.serve.service import Service

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)


def _money(value: Any) -> str:
    return "" if value is None else f"${float(value):,.2f}"


def _when(ts: Any) -> str:
    return "" if ts is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(float(ts)))


def _tone(text: Any) -> int:
    """A stable colour index (0-7) for a placeholder picture."""
    return int(hashlib.sha1(str(text).encode()).hexdigest()[:4], 16) % 8


def _initials(title: Any) -> str:
    words = [w for w in str(title).split() if w[:1].isalnum()]
    return "".join(w[0] for w in words[:2]).upper() or "?"


TEMPLATES.env.filters.update(money=_money, when=_when, tone=_tone, initials=_initials)


class SignInRequired(Exception):
    """The page needs a signed-in browser."""


def _service(request: Request) -> Service:
    return request.app.state.service


def _is_fetch(request: Request) -> bool:
    return request.headers.get("x-requested-with") == "fetch"


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status)


def _session(request: Request) -> WebSession:
    ws = web_session(request)
    if ws is None:
        raise SignInRequired
    return ws


def _same_origin(request: Request) -> bool:
    """A form post must come from this site: the browser's Sec-Fetch-Site says so, else its Origin."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser (the CSRF token still has to match)
    return origin != "null" and origin.split("://", 1)[-1] == request.headers.get("host", "")


async def _post(request: Request) -> tuple[WebSession, Any]:
    """The signed-in session and the form of a post, after the origin and CSRF checks (403 otherwise)."""
    ws = _session(request)
    form = await request.form()
    token = form.get("csrf") or request.headers.get("x-csrf-token")
    if not _same_origin(request) or not csrf_ok(ws.csrf, str(token) if token else None):
        raise HTTPException(403, "the form expired or came from another site; reload the page and try again")
    return ws, form


def _not_ready(request: Request) -> HTMLResponse | None:
    engine = _service(request).engine
    if engine.ready:
        return None
    return _page(request, "starting.html", 503, stage=engine.stage, error=engine.error)


def _base(ws: WebSession, **context: Any) -> dict[str, Any]:
    return {"me": ws.principal, "csrf": ws.csrf, **context}


# ---- sign in / out ---------------------------------------------------------------------------------
@router.get("/signin", response_class=HTMLResponse)
def signin_page(request: Request, error: str = "") -> Response:
    """The sign-in form (a double-submit token guards it before any session exists)."""
    token = secrets.token_urlsafe(24)
    response = _page(request, "signin.html", 401 if error else 200, token=token, error=error[:200])
    response.set_cookie(
        PRE_CSRF_COOKIE,
        token,
        max_age=1800,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.secure_cookies,
        path="/signin",
    )
    return response


@router.post("/signin")
async def signin(request: Request) -> Response:
    """Check the key, open a browser session and set its cookie."""
    form = await request.form()
    expected = request.cookies.get(PRE_CSRF_COOKIE, "")
    if not _same_origin(request) or not expected or not csrf_ok(expected, str(form.get("csrf") or "")):
        return signin_page(request, "The sign-in form expired; please try again.")
    key = str(form.get("key") or "").strip()
    principal = request.app.state.keys.verify(key) if 0 < len(key) <= 300 else None
    if principal is None:
        return signin_page(request, "That key is not valid.")
    settings = request.app.state.settings
    token, _ = await run_in_threadpool(_service(request).accounts.open_web_session, principal, settings.session_hours)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/",
    )
    response.delete_cookie(PRE_CSRF_COOKIE, path="/signin")
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    """End the browser session."""
    await _post(request)
    token = request.cookies.get(COOKIE, "")
    await run_in_threadpool(_service(request).accounts.close_web_session, token)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# ---- home: recommendations and the conversation ------------------------------------------------------
def _filters(request: Request) -> tuple[FiltersIn, dict[str, str]]:
    q = request.query_params
    raw = {k: q.get(k, "").strip() for k in ("brand", "category", "price_min", "price_max")}
    try:
        f = FiltersIn(
            brands=[raw["brand"]] if raw["brand"] else [],
            categories=[raw["category"]] if raw["category"] else [],
            price_min=float(raw["price_min"]) if raw["price_min"] else None,
            price_max=float(raw["price_max"]) if raw["price_max"] else None,
        )
    except (ValueError, ValidationError):
        f, raw = FiltersIn(), dict.fromkeys(raw, "")
    return f, raw


async def _recs(request: Request, who: Principal, filters: FiltersIn | None = None) -> dict[str, Any]:
    body = RecommendIn(k=12, filters=filters or FiltersIn())
    return await _service(request).recommend(who, body)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    """Recommendations as cards, the conversation with the loop, and the instruction box."""
    ws = _session(request)
    if (busy := _not_ready(request)) is not None:
        return busy
    svc = _service(request)
    filters, raw = _filters(request)
    recs = await _recs(request, ws.principal, filters)
    wanted = request.query_params.get("session", "")

    def conversation() -> tuple[str, list[dict[str, Any]]]:
        sessions = svc.events.sessions(ws.principal.user_id, 1)
        sid = wanted if wanted and svc.events.session_owner(wanted) == ws.principal.user_id else ""
        if not sid and wanted != "new" and sessions:
            sid = sessions[0]["session_id"]
        turns = [_turn_view(t.n, t.instruction, t.record, sid) for t in svc.events.turns(sid)] if sid else []
        return sid, turns

    sid, turns = await run_in_threadpool(conversation)
    snap = svc.snapshot()
    return _page(
        request,
        "home.html",
        **_base(ws, recs=recs["items"], session_id=sid, turns=turns, facets=snap.catalog.facets(), filters=raw),
        loop_on=snap.pipeline is not None,
    )


def _turn_view(n: int, instruction: str, record: dict[str, Any], session_id: str) -> dict[str, Any]:
    return {"n": n, "instruction": instruction, "session_id": session_id, **record}


@router.post("/ui/feedback")
async def ui_feedback(request: Request) -> Response:
    """Store a like / dislike / skip from a card; answers with the refreshed recommendations."""
    ws, form = await _post(request)
    if (busy := _not_ready(request)) is not None:
        return busy
    session_id = str(form.get("session_id") or "") or None
    try:
        body = FeedbackIn(
            kind=str(form.get("kind") or ""),
            item_id=str(form.get("item_id")) if form.get("item_id") else None,
            items=[str(i) for i in form.getlist("items")],
            session_id=session_id,
        )
    except ValidationError as err:
        raise HTTPException(422, "invalid feedback: " + "; ".join(e["msg"] for e in err.errors())) from err
    await _service(request).feedback(ws.principal, body)
    if not _is_fetch(request):
        back = "/" + (f"?{urlencode({'session': session_id})}" if session_id else "")
        return RedirectResponse(back, status_code=303)
    recs = await _recs(request, ws.principal)
    return _page(request, "_recs.html", **_base(ws, recs=recs["items"], session_id=session_id or ""))


@router.post("/ui/sessions/new")
async def ui_new_session(request: Request) -> Response:
    """Start a new conversation."""
    await _post(request)
    return RedirectResponse("/?session=new", status_code=303)


@router.post("/ui/turns")
async def ui_turn(request: Request) -> Response:
    """Queue a turn; answers with a fragment that polls the job (or, without JavaScript, waits and redirects)."""
    ws, form = await _post(request)
    if (busy := _not_ready(request)) is not None:
        return busy
    svc = _service(request)
    try:
        body = TurnIn(instruction=str(form.get("instruction") or ""))
    except ValidationError as err:
        raise HTTPException(422, "instruction: " + "; ".join(e["msg"] for e in err.errors())) from err
    session_id = str(form.get("session_id") or "")

    def start() -> Job:
        sid = session_id
        if not sid or svc.events.session_owner(sid) != ws.principal.user_id:
            sid = svc.events.create_session(ws.principal.user_id, body.instruction[:80])
        return svc.start_turn(ws.principal, sid, body.instruction)

    try:
        job = await run_in_threadpool(start)
    except QueueFull as err:
        raise HTTPException(429, "Many people are asking right now; try again in a few seconds.") from err
    if _is_fetch(request):
        return _page(request, "_job.html", **_base(ws, job=job.to_dict()))
    job = await svc.jobs.wait(job, 120.0)
    return RedirectResponse(f"/?{urlencode({'session': job.session_id})}#latest", status_code=303)


@router.get("/ui/jobs/{job_id}", response_class=HTMLResponse)
async def ui_job(request: Request, job_id: str) -> Response:
    """A job's fragment: still working (polls again), the finished turn, or the error."""
    ws = _session(request)
    if len(job_id) > 40:
        raise HTTPException(404, "not found")
    svc = _service(request)
    job = await svc.jobs.wait(svc.own_job(ws.principal, job_id), 0.5)
    view = job.to_dict()
    if job.status == "done" and job.result is not None:
        turn = _turn_view(int(job.result.get("turn", 0)), job.instruction, job.result, job.session_id)
        return _page(request, "_turn.html", **_base(ws, t=turn, latest=True))
    return _page(request, "_job.html", **_base(ws, job=view))


# ---- items, generated items, history ------------------------------------------------------------------
@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, item_id: str) -> Response:
    """One item: a catalog item, or a generated item of the signed-in user (404 for anyone else's)."""
    ws = _session(request)
    if (busy := _not_ready(request)) is not None:
        return busy
    item = _service(request).item(ws.principal, item_id[:128])
    return _page(request, "item.html", **_base(ws, item=item))


@router.get("/generated", response_class=HTMLResponse)
def generated_page(request: Request) -> Response:
    """The signed-in user's generated items with provenance."""
    ws = _session(request)
    if (busy := _not_ready(request)) is not None:
        return busy
    items = _service(request).my_generated(ws.principal)
    return _page(request, "generated.html", **_base(ws, items=items))


@router.get("/history", response_class=HTMLResponse)
def history_page(request: Request) -> Response:
    """The signed-in user's past items, feedback and conversations."""
    ws = _session(request)
    if (busy := _not_ready(request)) is not None:
        return busy
    history = _service(request).history(ws.principal, limit=100)
    return _page(request, "history.html", **_base(ws, history=history))


# ---- admin ----------------------------------------------------------------------------------------
def _admin(request: Request) -> WebSession:
    ws = _session(request)
    if not ws.principal.is_admin:
        raise HTTPException(403, "This page is for administrators.")
    return ws


def _admin_page(
    request: Request,
    ws: WebSession,
    new_key: dict[str, str] | None = None,
    key_error: str = "",
    status: int = 200,
) -> Response:
    if (busy := _not_ready(request)) is not None:
        return busy
    svc = _service(request)
    verdict = request.query_params.get("verdict", "")
    check = request.query_params.get("check", "")
    verdict = verdict if verdict in ("pass", "warn", "block") else ""
    checks = svc.audit_checks()
    check = check if check in checks else ""
    audit = svc.audit(verdict or None, check or None, 200)
    context = _base(
        ws,
        models=svc.snapshot().info(),
        stats=svc.stats(),
        keys=svc.accounts.keys()[:100],
        audit=audit,
        checks=checks,
        verdict=verdict,
        check=check,
        new_key=new_key,
        key_error=key_error,
    )
    return _page(request, "admin.html", status, **context)


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request) -> Response:
    """The audit log (filter by verdict and check), the loaded models, reload, and API keys."""
    return _admin_page(request, _admin(request))


@router.post("/admin/reload")
async def admin_reload(request: Request) -> Response:
    """Reload the models in the background."""
    _admin(request)
    await _post(request)
    _service(request).start_reload()
    return RedirectResponse("/admin", status_code=303)


@router.post("/admin/keys")
async def admin_create_key(request: Request) -> Response:
    """Create a key for a user; the page shows it once."""
    ws = _admin(request)
    _, form = await _post(request)
    try:
        body = KeyIn(user_id=str(form.get("user_id") or "").strip(), role=str(form.get("role") or "user"))
    except ValidationError as err:
        raise HTTPException(422, "user id: " + "; ".join(e["msg"] for e in err.errors())) from err
    key_id, key = await run_in_threadpool(_service(request).accounts.create_key, body.user_id, body.role)
    return _admin_page(request, ws, {"key_id": key_id, "user_id": body.user_id, "role": body.role, "key": key})


@router.post("/admin/keys/{key_id}/revoke")
async def admin_revoke_key(request: Request, key_id: str) -> Response:
    """Revoke a key; an unknown key, or the last active admin key, shows why on the admin page."""
    ws = _admin(request)
    await _post(request)
    key_id = key_id[:12]
    try:
        revoked = await run_in_threadpool(_service(request).accounts.revoke_key, key_id, True)
    except LastAdminKeyError as err:
        return await run_in_threadpool(_admin_page, request, ws, None, f"Not revoked: {err}.", 409)
    if not revoked:
        message = f"Not revoked: there is no active key {key_id}."
        return await run_in_threadpool(_admin_page, request, ws, None, message, 404)
    request.app.state.keys.forget()
    return RedirectResponse("/admin", status_code=303)
