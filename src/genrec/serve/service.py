"""What the API and the browser pages both do: recommend, take feedback, run turns, show a user's data.

Every method gets the calling ``Principal`` and enforces isolation itself: a user reaches only
their own history, sessions, jobs and generated items; another user's item, session or job is
answered exactly like one that does not exist (404), so nothing is learned by asking. Admins may
act for any user and read the audit log.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException

from genrec.config import ServeConfig
from genrec.data.accounts import AccountStore, Principal
from genrec.data.dataset import Dataset
from genrec.data.events import EventStore
from genrec.data.generated import GENERATED_PREFIX, GeneratedItem
from genrec.data.generated_store import GeneratedStore
from genrec.data.sql import Database
from genrec.generation.memory import POSITIVE
from genrec.serve.batcher import MicroBatcher
from genrec.serve.catalog import Filters
from genrec.serve.engine import Engine, Snapshot
from genrec.serve.impressions import ImpressionLog
from genrec.serve.jobs import Job, JobRunner
from genrec.serve.recs import RecQuery, score_batch
from genrec.serve.schemas import FeedbackIn, RecommendIn
from genrec.serve.turns import generated_view, run_turn

NOT_FOUND = "not found"


def unprocessable(field: list[str | int], message: str) -> HTTPException:
    """A 422 naming the field, shaped like pydantic's validation errors."""
    return HTTPException(422, [{"loc": ["body", *field], "msg": message, "type": "value_error"}])


class Service:
    """The server's state and operations."""

    def __init__(self, settings: ServeConfig, db: Database, dataset: Dataset | None = None) -> None:
        self.settings = settings
        self.db = db
        self.engine = Engine(settings, db, dataset)
        self.accounts = AccountStore(db)
        self.generated = GeneratedStore(db)
        self.batcher = MicroBatcher(score_batch, settings.batch_max, settings.batch_wait_ms / 1000.0)
        # feedback events of concurrent requests share one transaction (group commit); each is
        # answered only after the commit that holds it
        self.feedback_writer = MicroBatcher(self._write_feedback, max_batch=256, max_wait=0.0)
        self.jobs = JobRunner(settings.turn_workers, settings.turn_queue)
        self._events: EventStore | None = None
        self._impressions: ImpressionLog | None = None
        self._lock = threading.Lock()
        self.reloading = False

    # ---- state ------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The loaded models (503 while loading)."""
        snap = self.engine.current
        if snap is None:
            detail = f"starting: {self.engine.stage}" if self.engine.error is None else f"failed: {self.engine.error}"
            raise HTTPException(503, detail, {"Retry-After": "5"})
        return snap

    @property
    def events(self) -> EventStore:
        """The event store of the loaded dataset."""
        if self._events is None:
            with self._lock:
                if self._events is None:
                    self._events = EventStore(self.db, self.snapshot().dataset.name)
        return self._events

    @property
    def impressions(self) -> ImpressionLog | None:
        """The impression writer (None when impressions are not logged)."""
        if self._impressions is None and self.settings.log_impressions and self.engine.ready:
            events = self.events  # outside the lock: ``events`` takes it too (an anonymous first request)
            with self._lock:
                if self._impressions is None:
                    self._impressions = ImpressionLog(events)
                    self._impressions.start()
        return self._impressions

    def stop(self) -> None:
        """Flush what is queued and stop the workers."""
        if self._impressions is not None:
            self._impressions.stop()
        self.jobs.shutdown()

    # ---- recommendations --------------------------------------------------------------------
    def user_feedback(self, user_id: str) -> tuple[list[int], set[int]]:
        """(catalog items the user took after the dataset's log, items they disliked or skipped), internal ids."""
        index = self.snapshot().catalog.index
        took: list[int] = []
        rejected: set[int] = set()
        for e in self.events.feedback(user_id):
            ids = [e.item_id] if e.item_id else list(e.items)
            for item in ids:
                if item not in index:
                    continue
                if e.kind in POSITIVE:
                    took.append(index[item])
                elif e.kind in ("dislike", "skip"):
                    rejected.add(index[item])
        return took, rejected

    def prepare(self, who: Principal, body: RecommendIn) -> tuple[RecQuery, str | None, list[int]]:
        """Resolve a request to internal ids (blocking: reads the user's feedback)."""
        snap = self.snapshot()
        catalog = snap.catalog
        user: str | None
        exclude: set[int] = set()
        if body.history is not None:
            unknown = [n for n, item in enumerate(body.history) if item not in catalog.index]
            if unknown:
                raise unprocessable(["history", unknown[0]], f"unknown item id {body.history[unknown[0]]!r}")
            user, history = None, [catalog.index[i] for i in body.history]
        else:
            user = body.user_id or who.user_id
            if user != who.user_id and not who.is_admin:
                raise HTTPException(403, "only admins may ask for another user's recommendations")
            took, rejected = self.user_feedback(user)
            history = catalog.history(user) + took
            exclude |= rejected
        if body.exclude_history:
            exclude |= set(history)
        unknown = [n for n, item in enumerate(body.exclude_items) if item not in catalog.index]
        if unknown:
            item = body.exclude_items[unknown[0]]
            raise unprocessable(["exclude_items", unknown[0]], f"unknown item id {item!r}")
        exclude |= {catalog.index[i] for i in body.exclude_items}
        f = body.filters
        filters = Filters(f.brands, f.categories, f.price_min, f.price_max)
        return RecQuery(snap.model, catalog, history, body.k, exclude, filters), user, history

    async def recommend(self, who: Principal, body: RecommendIn) -> dict[str, Any]:
        """Top-k catalog items (batched with concurrent requests)."""
        from starlette.concurrency import run_in_threadpool

        query, user, history = await run_in_threadpool(self.prepare, who, body)
        pairs = await self.batcher.submit(query)
        catalog = query.catalog
        items = [{**catalog.record(i), "score": s, "why": catalog.why(history, i)} for i, s in pairs]
        log = self.impressions
        if log is not None:
            log.add(user or who.user_id, "recommendations" if user else "anonymous", [it["item_id"] for it in items])
        return {
            "user_id": user,
            "model": query.model.name,
            "items": items,
            "model_version": self.snapshot().version,
        }

    # ---- feedback ---------------------------------------------------------------------------
    def known_item(self, who: Principal, item_id: str) -> bool:
        """Whether the caller may refer to this item (a catalog item, or one of their generated items)."""
        if item_id in self.snapshot().catalog.index:
            return True
        if item_id.startswith(GENERATED_PREFIX):
            return self.own_generated(who, item_id) is not None
        return False

    def check_feedback(self, who: Principal, body: FeedbackIn) -> None:
        """422 for an item the caller may not refer to, 404 for a session that is not theirs."""
        if body.item_id is not None and not self.known_item(who, body.item_id):
            raise unprocessable(["item_id"], f"unknown item id {body.item_id!r}")
        for n, item in enumerate(body.items):
            if not self.known_item(who, item):
                raise unprocessable(["items", n], f"unknown item id {item!r}")
        if body.session_id is not None:
            self.own_session(who, body.session_id)

    async def feedback(self, who: Principal, body: FeedbackIn) -> dict[str, Any]:
        """Store a feedback event; returns it once committed."""
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(self.check_feedback, who, body)
        row = (who.user_id, body.kind, body.item_id, list(body.items), body.session_id)
        event = await self.feedback_writer.submit(row)
        return dict(event.to_dict())

    def _write_feedback(self, rows: Sequence[tuple[str, str, str | None, list[str], str | None]]) -> list[Any]:
        return list(self.events.record_feedback_many(rows))

    # ---- sessions and turns -----------------------------------------------------------------
    def own_session(self, who: Principal, session_id: str) -> str:
        """The owner of a session the caller may use (404 otherwise)."""
        owner = self.events.session_owner(session_id)
        if owner is None or (owner != who.user_id and not who.is_admin):
            raise HTTPException(404, NOT_FOUND)
        return owner

    def start_turn(self, who: Principal, session_id: str, instruction: str) -> Job:
        """Queue a turn of the loop in a session of the caller."""
        snap = self.snapshot()
        if snap.pipeline is None:
            raise HTTPException(409, "the generative loop is off on this server (started with --no-loop)")
        owner = self.own_session(who, session_id)
        events = self.events

        def work() -> dict[str, Any]:
            return run_turn(self.snapshot(), events, owner, session_id, instruction)

        return self.jobs.submit(owner, session_id, instruction, work)

    def own_job(self, who: Principal, job_id: str) -> Job:
        """A job of the caller (404 otherwise)."""
        job = self.jobs.get(job_id)
        if job is None or (job.user_id != who.user_id and not who.is_admin):
            raise HTTPException(404, NOT_FOUND)
        return job

    # ---- a user's data ----------------------------------------------------------------------
    def own_generated(self, who: Principal, item_id: str) -> GeneratedItem | None:
        """A generated item the caller may see: theirs and not blocked (admins: any)."""
        try:
            item = self.generated.get(item_id)
        except KeyError:
            return None
        if who.is_admin:
            return item
        if item.provenance.user_id != who.user_id or item.blocked:
            return None
        return item

    def item(self, who: Principal, item_id: str) -> dict[str, Any]:
        """A catalog item, or a generated item of the caller (404 for anything else)."""
        snap = self.snapshot()
        catalog = snap.catalog
        if item_id in catalog.index:
            i = catalog.index[item_id]
            return {**catalog.record(i), "description": catalog.descriptions[i], "generated": False}
        generated = self.own_generated(who, item_id) if item_id.startswith(GENERATED_PREFIX) else None
        if generated is None:
            raise HTTPException(404, NOT_FOUND)
        return {"item_id": generated.item_id, **generated_view(snap.pipeline, catalog, generated)}

    def my_generated(self, who: Principal, user_id: str | None = None) -> list[dict[str, Any]]:
        """The caller's generated items that passed the checks, newest first, with provenance."""
        user = self._subject(who, user_id)
        snap = self.snapshot()
        items = self.generated.items(snap.dataset.name, user)
        return [{"item_id": g.item_id, **generated_view(snap.pipeline, snap.catalog, g)} for g in reversed(items)]

    def history(self, who: Principal, user_id: str | None = None, limit: int = 50) -> dict[str, Any]:
        """The user's items from the dataset's log (newest first) and their feedback events."""
        user = self._subject(who, user_id)
        catalog = self.snapshot().catalog
        past = catalog.history(user)[::-1][:limit]
        return {
            "user_id": user,
            "items": [catalog.record(i) for i in past],
            "interactions": len(catalog.history(user)),
            "feedback": [e.to_dict() for e in self.events.feedback(user, limit=limit)][::-1],
            "sessions": self.events.sessions(user, limit),
            "shown": self.events.impressions(user, min(limit, 20)),
        }

    def _subject(self, who: Principal, user_id: str | None) -> str:
        if user_id is None or user_id == who.user_id:
            return who.user_id
        if not who.is_admin:
            raise HTTPException(404, NOT_FOUND)
        return user_id

    # ---- admin ------------------------------------------------------------------------------
    def audit(self, verdict: str | None, check: str | None, limit: int) -> list[dict[str, Any]]:
        """The newest audit entries (filtered by verdict and by a check that did not pass), with item titles."""
        snap = self.snapshot()
        rows = self.generated.audit(
            dataset=snap.dataset.name, verdict=verdict, newest_first=True, limit=None if check else limit
        )
        if check:
            rows = [r for r in rows if check in r["checks"]]
        rows = rows[:limit]
        for r in rows:
            try:
                g = self.generated.get(r["item_id"])
                r.update(title=g.title, user_id=g.provenance.user_id, kind=g.provenance.kind)
            except KeyError:
                r.update(title=None, user_id=None, kind=None)
        return rows

    def audit_checks(self) -> list[str]:
        """Every check name that appears in the audit log."""
        snap = self.snapshot()
        names: set[str] = set()
        for r in self.generated.audit(dataset=snap.dataset.name):
            names.update(r["checks"])
        return sorted(names)

    def start_reload(self) -> bool:
        """Start a model reload in the background; False when one is running already."""
        self.snapshot()
        with self._lock:
            if self.reloading:
                return False
            self.reloading = True

        def run() -> None:
            try:
                self.engine.reload()
            except Exception:
                import logging

                logging.getLogger("genrec.serve").exception("reload failed; the previous models stay loaded")
            finally:
                self.reloading = False

        threading.Thread(target=run, name="genrec-reload", daemon=True).start()
        return True

    def stats(self) -> dict[str, Any]:
        """Counters of the batcher, the job runner and the impression log."""
        log = self._impressions
        return {
            "recommendations": self.batcher.stats.to_dict(),
            "feedback_commits": self.feedback_writer.stats.to_dict(),
            "turns": self.jobs.stats(),
            "impressions": {"written": log.written, "dropped": log.dropped} if log else None,
            "reloading": self.reloading,
        }
