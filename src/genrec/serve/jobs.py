"""Turns of the loop as background jobs: a bounded worker pool, a bounded queue and a status per job.

Generation takes seconds on a CPU, so a turn never runs on the event loop: ``submit`` queues it
(``QueueFull`` when ``queue`` turns already wait: the API answers 429 with Retry-After) and returns
a job whose status the client polls, or awaits with a timeout. Jobs live in this process's memory
(the finished turn itself is in the store); the newest ``keep`` finished jobs are remembered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


class QueueFull(RuntimeError):
    """Too many turns are waiting."""


@dataclass
class Job:
    """One turn in flight or done."""

    job_id: str
    user_id: str
    session_id: str
    instruction: str
    status: str = "queued"  # queued, running, done, failed
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    future: Future[Any] | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The public view of the job."""
        return {
            "job_id": self.job_id,
            "status": self.status,
            "session_id": self.session_id,
            "instruction": self.instruction,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "seconds": None if self.finished_at is None else round(self.finished_at - self.created_at, 3),
            "result": self.result,
            "error": self.error,
        }


class JobRunner:
    """Run turn jobs on ``workers`` threads with at most ``queue`` waiting."""

    def __init__(self, workers: int = 1, queue: int = 32, keep: int = 2000) -> None:
        self.workers = workers
        self.limit = queue
        self.keep = keep
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="turn")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self.done = 0
        self.failed = 0
        self.rejected = 0

    def waiting(self) -> int:
        """Jobs queued or running."""
        with self._lock:
            return sum(j.status in ("queued", "running") for j in self._jobs.values())

    def submit(self, user_id: str, session_id: str, instruction: str, work: Callable[[], dict[str, Any]]) -> Job:
        """Queue ``work`` as a job of ``user_id``; raises ``QueueFull`` when the queue is full."""
        with self._lock:
            queued = sum(j.status == "queued" for j in self._jobs.values())
            if queued >= self.limit:
                self.rejected += 1
                raise QueueFull(f"{queued} turns are waiting; try again shortly")
            job = Job("j_" + secrets.token_hex(8), user_id, session_id, instruction)
            self._jobs[job.job_id] = job
            self._prune()
        job.future = self._executor.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: Callable[[], dict[str, Any]]) -> None:
        job.status, job.started_at = "running", time.time()
        try:
            job.result = work()
            job.status = "done"
            self.done += 1
        except Exception as err:
            log.exception("turn job %s failed", job.job_id)
            job.error = f"{type(err).__name__}: {err}"
            job.status = "failed"
            self.failed += 1
        finally:
            job.finished_at = time.time()

    def get(self, job_id: str) -> Job | None:
        """The job with this id (None when unknown or forgotten)."""
        with self._lock:
            return self._jobs.get(job_id)

    async def wait(self, job: Job, timeout: float) -> Job:
        """Wait up to ``timeout`` seconds for the job to finish (returns it either way)."""
        if job.future is not None and timeout > 0 and job.status in ("queued", "running"):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(job.future)), timeout)
        return job

    def stats(self) -> dict[str, Any]:
        """Counters for /v1/admin/stats."""
        with self._lock:
            by_status: dict[str, int] = {}
            for j in self._jobs.values():
                by_status[j.status] = by_status.get(j.status, 0) + 1
        return {
            "workers": self.workers,
            "queue_limit": self.limit,
            "jobs": by_status,
            "done": self.done,
            "failed": self.failed,
            "rejected": self.rejected,
        }

    def shutdown(self) -> None:
        """Stop taking jobs; running ones finish."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _prune(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.status in ("done", "failed")]
        for key in finished[: max(0, len(finished) - self.keep)]:
            del self._jobs[key]
