"""Recommendation lists shown, written to the store in batches by one background thread.

Recording every list as it is served would put a database write on the hot path; the lists are
queued instead and written every ``interval`` seconds in one transaction (and on shutdown). The
queue is bounded: when the store cannot keep up, the oldest unwritten lists are counted as dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence

from genrec.data.events import EventStore

log = logging.getLogger(__name__)


class ImpressionLog:
    """Queue shown lists and flush them to ``events`` periodically."""

    def __init__(self, events: EventStore, interval: float = 0.5, capacity: int = 100_000) -> None:
        self.events = events
        self.interval = interval
        self._queue: deque[tuple[str, str, Sequence[str], float]] = deque(maxlen=capacity)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="impressions", daemon=True)
        self.written = 0
        self.dropped = 0

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def add(self, user_id: str, source: str, items: Sequence[str]) -> None:
        """Queue one shown list."""
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append((user_id, source, list(items), time.time()))

    def flush(self) -> None:
        """Write everything queued now."""
        batch = []
        while self._queue:
            batch.append(self._queue.popleft())
        if not batch:
            return
        try:
            self.events.record_impressions(batch)
        except Exception:
            self._queue.extendleft(reversed(batch))  # kept for the next flush
            raise
        self.written += len(batch)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception:
                log.exception("writing impressions failed")

    def stop(self) -> None:
        """Stop the thread after a last flush."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        try:
            self.flush()
        except Exception:
            log.exception("writing impressions failed")
