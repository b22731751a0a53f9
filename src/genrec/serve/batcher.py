"""Concurrent requests handled together: one forward pass (or one commit) per batch, off the event loop.

Requests wait in a queue; one task takes every request waiting (up to ``max_batch``, after at most
``max_wait`` seconds for more once the first arrives), runs the model once for all of them in a
dedicated thread, and answers each. Under load a batch fills while the previous one runs, so the
cost per request falls as the rate rises; an idle server answers a lone request at once. The
service uses one for recommendations (a forward pass per batch) and one for feedback (a group
commit: every event of a batch in one transaction, each answered after that commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class BatchStats:
    """Counters for /v1/admin/stats."""

    batches: int = 0
    requests: int = 0
    largest: int = 0
    busy_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        mean = self.requests / self.batches if self.batches else 0.0
        return {
            "batches": self.batches,
            "requests": self.requests,
            "largest_batch": self.largest,
            "mean_batch": round(mean, 2),
            "busy_seconds": round(self.busy_seconds, 3),
        }


@dataclass
class _Pending:
    payload: Any
    future: asyncio.Future[Any]
    queued_at: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    """Collect requests and run ``work(payloads) -> results`` once per batch in one worker thread."""

    def __init__(self, work: Callable[[Sequence[Any]], list[Any]], max_batch: int = 64, max_wait: float = 0.002):
        self.work = work
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.stats = BatchStats()
        self._queue: asyncio.Queue[_Pending] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recs-batch")

    def start(self) -> None:
        """Start the batching task on the running event loop."""
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="recs-batcher")

    async def stop(self) -> None:
        """Stop the task (requests still queued get an error) and the worker thread."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while self._queue is not None and not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(RuntimeError("the server is shutting down"))
        self._executor.shutdown(wait=False)

    async def submit(self, payload: Any) -> Any:
        """Queue one request and wait for its result (exceptions of ``work`` are raised here)."""
        if self._queue is None:
            raise RuntimeError("the batcher is not started")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(payload, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                if not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                    continue
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), left))
                except TimeoutError:
                    break
            start = time.perf_counter()
            try:
                results = await loop.run_in_executor(self._executor, self.work, [p.payload for p in batch])
            except Exception as err:  # one bad batch fails its requests, not the batcher
                log.exception("a batch of %d requests failed", len(batch))
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(err)
                continue
            finally:
                self.stats.busy_seconds += time.perf_counter() - start
            self.stats.batches += 1
            self.stats.requests += len(batch)
            self.stats.largest = max(self.stats.largest, len(batch))
            for p, result in zip(batch, results):
                if not p.future.done():
                    if isinstance(result, Exception):
                        p.future.set_exception(result)
                    else:
                        p.future.set_result(result)
