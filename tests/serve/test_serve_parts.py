"""The service's parts on their own: micro-batching, the job queue, filters, diffs, replayed feedback."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from genrec.config import SyntheticConfig
from genrec.data.events import ConversationTurn, FeedbackEvent
from genrec.data.synthetic import generate
from genrec.generation.memory import catalog_index, replay
from genrec.generation.pipeline import Session
from genrec.models.popularity import Popularity
from genrec.serve.batcher import MicroBatcher
from genrec.serve.catalog import CatalogIndex, Filters
from genrec.serve.diff import item_changes, word_diff
from genrec.serve.jobs import JobRunner, QueueFull
from genrec.serve.recs import RecQuery, score_batch


@pytest.fixture(scope="module")
def shop():  # type: ignore[no-untyped-def]
    return generate(SyntheticConfig(n_users=80, n_items=60, n_categories=3, n_brands=5))


def test_concurrent_requests_share_batches_and_each_gets_its_own_answer() -> None:
    seen: list[int] = []

    def work(payloads: Sequence[Any]) -> list[Any]:
        seen.append(len(payloads))
        time.sleep(0.02)  # a forward pass
        return [p * 10 if p != 3 else ValueError("bad request 3") for p in payloads]

    async def main() -> list[Any]:
        batcher = MicroBatcher(work, max_batch=8, max_wait=0.005)
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(n) for n in range(20)), return_exceptions=True)
        finally:
            await batcher.stop()

    results = asyncio.run(main())
    assert [r for n, r in enumerate(results) if n != 3] == [n * 10 for n in range(20) if n != 3]
    assert isinstance(results[3], ValueError)  # one bad request fails alone
    assert sum(seen) == 20 and max(seen) > 1 and max(seen) <= 8  # batched, within the bound


def test_the_job_queue_is_bounded_and_reports_failures() -> None:
    gate = threading.Event()
    runner = JobRunner(workers=1, queue=2)
    first = runner.submit("a", "s_1", "x", lambda: (gate.wait(5), {"ok": 1})[1])
    time.sleep(0.1)  # the first one is running now: two more may wait
    runner.submit("a", "s_1", "y", lambda: {"ok": 2})
    runner.submit("b", "s_2", "z", lambda: 1 / 0)  # type: ignore[arg-type, return-value]
    with pytest.raises(QueueFull):
        runner.submit("c", "s_3", "w", dict)
    gate.set()
    deadline = time.time() + 5
    while runner.waiting() and time.time() < deadline:
        time.sleep(0.02)
    assert first.status == "done" and first.result == {"ok": 1}
    stats = runner.stats()
    assert stats["done"] == 2 and stats["failed"] == 1 and stats["rejected"] == 1
    failed = [j for j in (runner.get(k) for k in list(runner._jobs)) if j and j.status == "failed"]
    assert failed and "ZeroDivisionError" in (failed[0].error or "")
    runner.shutdown()


def test_hard_filters_hold_for_every_recommended_item(shop) -> None:  # type: ignore[no-untyped-def]
    catalog = CatalogIndex(shop)
    model = Popularity().fit(shop)
    brand = catalog.brands[0]
    category = catalog.categories[5][-1]
    cheap = float(np.nanmedian(catalog.price))
    queries = [
        RecQuery(model, catalog, [1, 2, 3], 10, filters=Filters(brands=[brand.upper()])),
        RecQuery(model, catalog, [1, 2, 3], 10, filters=Filters(categories=[category])),
        RecQuery(model, catalog, [4], 10, exclude={4}, filters=Filters(price_max=cheap)),
        RecQuery(model, catalog, [], 5, filters=Filters(price_min=cheap)),  # no history: popular items
    ]
    by_brand, by_category, by_price, cold = score_batch(queries)
    assert by_brand and all(catalog.brands[i] == brand for i, _ in by_brand)
    assert by_category and all(category in catalog.categories[i] for i, _ in by_category)
    assert by_price and all(catalog.price[i] <= cheap and i != 4 for i, _ in by_price)
    assert len(cold) == 5 and all(catalog.price[i] >= cheap for i, _ in cold)
    assert score_batch([RecQuery(model, catalog, [1], 10, filters=Filters(brands=["no such brand"]))]) == [[]]


def test_word_diff_rebuilds_both_texts() -> None:
    before, after = "Norvik Grey Running Socks, L", "Norvik Merino Grey Running Socks for cold runs, L"
    runs = word_diff(before, after)
    assert "".join(r["text"] for r in runs if r["op"] != "add") == before
    assert "".join(r["text"] for r in runs if r["op"] != "del") == after
    assert {"op": "add", "text": " Merino"} in runs and {"op": "add", "text": " for cold runs"} in runs
    changes = item_changes({"title": before, "description": "Soft."}, {"title": after, "description": "Soft."})
    assert changes["title"]["changed"] and not changes["description"]["changed"]


def test_replay_restores_feedback_history_and_conversation(shop) -> None:  # type: ignore[no-untyped-def]
    index = catalog_index(shop)
    a, b, c, d = (str(x) for x in shop.items["item_id"].iloc[:4])
    events = [
        FeedbackEvent(1, "u", "like", a, [], "s_old", 1.0),
        FeedbackEvent(2, "u", "dislike", b, [], None, 2.0),
        FeedbackEvent(3, "u", "skip", None, [c, d], "s_old", 3.0),  # another conversation's rejection
        FeedbackEvent(4, "u", "skip", None, [c, d], "s_now", 5.0),
        FeedbackEvent(5, "u", "purchase", d, [], "s_now", 6.0),
        FeedbackEvent(6, "u", "like", "gen:abc", [], "s_now", 7.0),
    ]
    turns = [ConversationTurn("s_now", 1, "show me tea", {"message": "Here.", "entries": [{"item_id": c}]}, 4.0)]
    before_like = replay(Session("u", [0]), events[:5], index, "s_now", turns)
    assert before_like.feedback.rejections == 1  # only this conversation's rejected lists count
    session = replay(Session("u", [0]), events, index, "s_now", turns)
    fb = session.feedback
    assert fb.likes == [a, "gen:abc"] and fb.dislikes == [b] and fb.clicks == [d]
    assert fb.skips == [c, d, c, d] and fb.rejections == 0  # a like in this conversation resets them
    assert session.history == [0, index[a], index[d]]  # generated items stay feedback only
    assert session.focus == "gen:abc" and session.shown == [c]
    assert [t.role for t in session.dialogue] == ["user", "system"]
