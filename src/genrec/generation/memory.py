"""A conversation's state rebuilt from what is stored: feedback events and earlier turns.

``genrec chat`` and ``genrec serve`` keep no feedback only in memory: every like, dislike, skip,
click and purchase is an event in ``genrec.data.events.EventStore``, and a ``Session`` is rebuilt
from them (and from the session's stored turns) when a conversation starts or continues.

Feedback about the user (likes, dislikes, skipped items, clicks, purchases) counts from every
session; what belongs to one conversation (rejected lists in a row, the item in focus, the
dialogue) only from that session's own events and turns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from genrec.data.dataset import Dataset
from genrec.data.events import ConversationTurn, FeedbackEvent
from genrec.generation.intent import Turn
from genrec.generation.pipeline import Session

#: Events that say the user took an item: they join the history the recommender reads.
POSITIVE = ("like", "click", "purchase")


def catalog_index(dataset: Dataset) -> dict[str, int]:
    """External item id -> internal id, for the items of ``dataset``."""
    return {str(item): i for i, item in enumerate(dataset.items["item_id"])}


def replay(
    session: Session,
    events: Iterable[FeedbackEvent],
    item_index: Mapping[str, int],
    session_id: str | None = None,
    turns: Iterable[ConversationTurn] = (),
) -> Session:
    """Apply stored ``events`` (oldest first) and this session's ``turns`` to ``session`` in time order.

    ``item_index`` maps catalog item ids to the internal ids of ``session.history``: liked, clicked
    and purchased catalog items join the history (generated items stay feedback only).
    """
    timeline: list[tuple[float, int, FeedbackEvent | ConversationTurn]] = [(e.at, 0, e) for e in events]
    timeline += [(t.at, 1, t) for t in turns]
    for _, _, entry in sorted(timeline, key=lambda x: (x[0], x[1])):
        if isinstance(entry, ConversationTurn):
            _apply_turn(session, entry)
        else:
            _apply_event(session, entry, item_index, own=session_id is not None and entry.session_id == session_id)
    return session


def _apply_event(session: Session, event: FeedbackEvent, item_index: Mapping[str, int], own: bool) -> None:
    fb = session.feedback
    item = event.item_id
    if event.kind in POSITIVE and item is not None:
        (fb.likes if event.kind == "like" else fb.clicks).append(item)
        if item in item_index:
            session.history.append(int(item_index[item]))
        if event.kind == "like" and own:
            fb.rejections = 0
            session.focus = item
    elif event.kind == "dislike" and item is not None:
        fb.dislikes.append(item)
    elif event.kind == "skip":
        fb.skips.extend(event.items or ([item] if item else []))
        if own and event.items:  # a whole list rejected in this conversation
            fb.rejections += 1


def _apply_turn(session: Session, turn: ConversationTurn) -> None:
    record = turn.record
    session.dialogue.append(Turn("user", turn.instruction))
    shown = [str(e["item_id"]) for e in record.get("entries", []) if "item_id" in e]
    session.shown = shown
    if shown:
        session.focus = shown[0]
    session.dialogue.append(Turn("system", str(record.get("message", ""))))
