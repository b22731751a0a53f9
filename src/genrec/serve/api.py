"""The REST API under /v1 (OpenAPI schema at /openapi.json): API keys, JSON in and out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from genrec.data.accounts import LastAdminKeyError, Principal
from genrec.serve.auth import admin_principal, api_principal
from genrec.serve.jobs import QueueFull
from genrec.serve.schemas import (
    FeedbackIn,
    FeedbackOut,
    JobOut,
    KeyIn,
    KeyOut,
    Problem,
    RecommendIn,
    RecommendOut,
    SessionIn,
    SessionOut,
    TurnIn,
)
from genrec.serve.service import Service

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no valid API key"},
    404: {"model": Problem, "description": "not found (or not yours)"},
    422: {"model": Problem, "description": "invalid input: the detail names the field"},
    503: {"model": Problem, "description": "the server is still loading its models"},
}

router = APIRouter(prefix="/v1", responses=ERRORS)
User = Annotated[Principal, Depends(api_principal)]
Admin = Annotated[Principal, Depends(admin_principal)]
ItemPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\s\x00-\x1f\x7f]+$")]
SessionPath = Annotated[str, Path(min_length=3, max_length=40, pattern=r"^s_[0-9a-f]+$")]
JobPath = Annotated[str, Path(min_length=3, max_length=40, pattern=r"^j_[0-9a-f]+$")]
UserQuery = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@:\-]+$")]


def service(request: Request) -> Service:
    """The app's service object."""
    return request.app.state.service


# ---- health ------------------------------------------------------------------------------------
@router.get("/health", tags=["health"])
def health() -> dict[str, str]:
    """The process is up (it may still be loading: see /v1/ready)."""
    return {"status": "ok"}


@router.get("/ready", tags=["health"], responses={503: {"description": "still loading, or loading failed"}})
def ready(request: Request, response: Response) -> dict[str, Any]:
    """Whether the models are loaded; while not, the loading stage."""
    engine = service(request).engine
    if not engine.ready:
        response.status_code = 503
    return {"ready": engine.ready, "stage": engine.stage, "error": engine.error}


@router.get("/me", tags=["account"])
def me(who: User) -> dict[str, Any]:
    """The caller's user id and role."""
    return {"user_id": who.user_id, "role": who.role, "key_id": who.key_id}


# ---- recommendations and feedback -----------------------------------------------------------
@router.post("/recommendations", response_model=RecommendOut, tags=["recommendations"])
async def recommendations(body: RecommendIn, who: User, request: Request) -> dict[str, Any]:
    """Top-k catalog items for the caller (or ``user_id``, admins), or for an anonymous ``history``."""
    return await service(request).recommend(who, body)


@router.post("/feedback", response_model=FeedbackOut, status_code=201, tags=["feedback"])
async def feedback(body: FeedbackIn, who: User, request: Request) -> dict[str, Any]:
    """Store a like / dislike / skip / click / purchase; answered only after it is committed."""
    return await service(request).feedback(who, body)


# ---- the loop --------------------------------------------------------------------------------
@router.post("/sessions", response_model=SessionOut, status_code=201, tags=["loop"])
def create_session(body: SessionIn, who: User, request: Request) -> dict[str, Any]:
    """Start a conversation with the loop."""
    svc = service(request)
    svc.snapshot()
    session_id = svc.events.create_session(who.user_id, body.title)
    return svc.events.session(session_id) or {"session_id": session_id, "title": body.title}


@router.get("/sessions", response_model=list[SessionOut], tags=["loop"])
def list_sessions(who: User, request: Request, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[dict[str, Any]]:
    """The caller's conversations, newest first."""
    svc = service(request)
    svc.snapshot()
    return svc.events.sessions(who.user_id, limit)


@router.get("/sessions/{session_id}", tags=["loop"])
def get_session(session_id: SessionPath, who: User, request: Request) -> dict[str, Any]:
    """A conversation of the caller with every turn (instruction and answer)."""
    svc = service(request)
    svc.snapshot()
    svc.own_session(who, session_id)
    turns = [
        {"turn": t.n, "instruction": t.instruction, "at": t.at, "result": t.record}
        for t in svc.events.turns(session_id)
    ]
    return {"session_id": session_id, "turns": turns}


@router.post(
    "/sessions/{session_id}/turns",
    response_model=JobOut,
    status_code=202,
    tags=["loop"],
    responses={200: {"model": JobOut, "description": "finished within wait_seconds"}, 429: {"model": Problem}},
)
async def create_turn(
    session_id: SessionPath, body: TurnIn, who: User, request: Request, response: Response
) -> dict[str, Any]:
    """Queue a turn of the loop (retrieve / edit / create / clarify); poll /v1/jobs/{job_id}, or wait."""
    svc = service(request)
    try:
        job = await run_in_threadpool(svc.start_turn, who, session_id, body.instruction)
    except QueueFull as err:
        raise HTTPException(429, str(err), {"Retry-After": "5"}) from err
    job = await svc.jobs.wait(job, body.wait_seconds)
    if job.status in ("done", "failed"):
        response.status_code = 200
    response.headers["Location"] = f"/v1/jobs/{job.job_id}"
    return job.to_dict()


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["loop"])
async def get_job(
    job_id: JobPath, who: User, request: Request, wait: Annotated[float, Query(ge=0, le=30)] = 0.0
) -> dict[str, Any]:
    """A turn's status; its result when done (``wait``: seconds to wait for it)."""
    svc = service(request)
    job = svc.own_job(who, job_id)
    return (await svc.jobs.wait(job, wait)).to_dict()


# ---- the caller's data -----------------------------------------------------------------------
@router.get("/items/{item_id}", tags=["items"])
def get_item(item_id: ItemPath, who: User, request: Request) -> dict[str, Any]:
    """A catalog item, or one of the caller's generated items with provenance and verdict."""
    return service(request).item(who, item_id)


@router.get("/me/generated", tags=["items"])
def my_generated(who: User, request: Request, user_id: UserQuery = None) -> list[dict[str, Any]]:
    """The caller's generated items that passed the checks, with provenance and verdicts."""
    return service(request).my_generated(who, user_id)


@router.get("/me/history", tags=["account"])
def my_history(
    who: User, request: Request, user_id: UserQuery = None, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> dict[str, Any]:
    """The caller's past items, feedback events and sessions."""
    return service(request).history(who, user_id, limit)


# ---- admin -----------------------------------------------------------------------------------
@router.get("/admin/audit", tags=["admin"], responses={403: {"model": Problem}})
def audit(
    who: Admin,
    request: Request,
    verdict: Annotated[str | None, Query(pattern=r"^(pass|warn|block|unchecked)$")] = None,
    check: Annotated[str | None, Query(min_length=1, max_length=40, pattern=r"^[a-z_]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """The fidelity audit log, newest first (filter by verdict and by a check that did not pass)."""
    return service(request).audit(verdict, check, limit)


@router.get("/admin/models", tags=["admin"], responses={403: {"model": Problem}})
def models(who: Admin, request: Request) -> dict[str, Any]:
    """The loaded models and the serving counters."""
    svc = service(request)
    return {**svc.snapshot().info(), "stats": svc.stats()}


@router.post("/admin/reload", status_code=202, tags=["admin"], responses={403: {"model": Problem}, 409: {}})
def reload(who: Admin, request: Request) -> dict[str, Any]:
    """Reload the models in the background; requests keep being served by the current ones until the swap."""
    svc = service(request)
    if not svc.start_reload():
        raise HTTPException(409, "a reload is already running")
    return {"reloading": True, "current_version": svc.snapshot().version}


@router.post("/admin/keys", response_model=KeyOut, status_code=201, tags=["admin"], responses={403: {}})
def create_key(body: KeyIn, who: Admin, request: Request) -> dict[str, Any]:
    """Create an API key for a user (the key is in this answer only)."""
    key_id, key = service(request).accounts.create_key(body.user_id, body.role, body.label)
    return {"key_id": key_id, "user_id": body.user_id, "role": body.role, "key": key}


@router.get("/admin/keys", tags=["admin"], responses={403: {"model": Problem}})
def list_keys(who: Admin, request: Request) -> list[dict[str, Any]]:
    """Every key (ids, users, roles; never secrets)."""
    return service(request).accounts.keys()


@router.delete(
    "/admin/keys/{key_id}",
    status_code=204,
    tags=["admin"],
    responses={403: {}, 409: {"model": Problem, "description": "the last active admin key"}},
)
def revoke_key(key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")], who: Admin, request: Request) -> Response:
    """Revoke a key (its browser sessions end too); the last active admin key is kept (409)."""
    svc = service(request)
    try:
        revoked = svc.accounts.revoke_key(key_id, keep_an_admin=True)
    except LastAdminKeyError as err:
        raise HTTPException(409, str(err)) from err
    if not revoked:
        raise HTTPException(404, NOT_FOUND_KEY)
    request.app.state.keys.forget()
    return Response(status_code=204)


NOT_FOUND_KEY = "no such active key"
