"""``genrec chat``: drive the generative loop from a terminal or a script, one line per turn.

A line is an instruction for the loop, or a command:
  :like N / :dislike N   feedback on entry N of the last list (1-based)
  :skip                  reject the whole last list (counts towards activating generation)
  :user ID               switch to another user
  :audit                 the fidelity audit log of this dataset
  :quit                  leave
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from genrec.cli.render import json_text, literal
from genrec.config import LoopSettings, apply_overrides
from genrec.data.events import EventStore
from genrec.generation.memory import catalog_index, replay
from genrec.generation.pipeline import GenerativePipeline, Response, Session

HELP = __doc__.split("\n\n", 1)[1] if __doc__ else ""


def settings_from(overrides: list[str], progress: bool = True) -> LoopSettings:
    """LoopSettings with ``part.key=value`` overrides (parts: pipeline, recommender, textgen, instructor, llm)."""
    return apply_overrides(LoopSettings(progress=progress), overrides)


def response_record(r: Response) -> dict[str, Any]:
    """A JSON-serialisable view of a response."""
    return {
        "action": r.intent.action,
        "reason": r.intent.reason,
        **({"declined": r.intent.declined} if r.intent.declined else {}),
        "constraints": r.intent.constraints.model_dump(exclude_defaults=True),
        "message": r.message,
        "entries": [dataclasses.asdict(e) for e in r.entries],
        "blocked": r.blocked,
    }


def show(console: Console, r: Response) -> None:
    """Print a response as a table; generated entries are flagged."""
    console.print(Text.assemble((r.intent.action, "bold"), ": ", literal(r.message)))
    for b in r.blocked:
        reasons = "; ".join(b["reasons"][:3])
        console.print(Text.assemble(("blocked", "red"), " ", literal(f'{b["item_id"]} "{b["title"][:60]}": {reasons}')))
    if not r.entries:
        return
    table = Table(show_header=True)
    for col in ("#", "item", "title", "brand", "price", ""):
        table.add_column(col)
    for n, e in enumerate(r.entries, 1):
        flag = f"AI-generated ({e.kind}, {e.verdict})" if e.generated else ""
        price = "" if e.price is None else f"{e.price:.2f}"
        table.add_row(str(n), literal(e.item_id), literal(e.title, 70), literal(e.brand or ""), price, flag)
    console.print(table)


def run_chat(
    pipeline: GenerativePipeline,
    user: str,
    lines: Iterable[str],
    console: Console,
    as_json: bool = False,
    stream: TextIO | None = None,
    echo: bool = False,
    events: EventStore | None = None,
) -> list[dict[str, Any]]:
    """Run one chat over ``lines``; returns the turn records (printed as JSON lines when ``as_json``).

    ``echo`` prints each input line before its answer (for scripted sessions shown to a reader).
    ``events``: where feedback is stored (each :like / :dislike / :skip is committed before it is
    acknowledged) and restored from when the chat starts or switches user.
    """
    session, session_id = _start(pipeline, user, events)
    records: list[dict[str, Any]] = []
    last: Response | None = None
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        record: dict[str, Any] = {"user": session.user_id, "input": line}
        if echo and not as_json:
            console.print(Text.assemble(("> ", "bold cyan"), literal(line)), style="bold cyan")
        if line.startswith(":"):
            command, _, arg = line[1:].partition(" ")
            if command == "quit":
                break
            record.update(_command(pipeline, session, command, arg.strip(), last))
            if "session" in record:
                session, session_id = _start(pipeline, record.pop("session").user_id, events)
            elif "feedback" in record:
                kind, item_id, items = record.pop("feedback")
                if events is not None and (item_id or items):
                    stored = events.record_feedback(session.user_id, kind, item_id, items, session_id)
                    record["event_id"] = stored.event_id
        else:
            start = time.perf_counter()
            last = pipeline.respond(session, line)
            record.update(response_record(last))
            record["seconds"] = round(time.perf_counter() - start, 2)
            if not as_json:
                show(console, last)
                if echo:
                    console.print(f"[dim]({record['seconds']:.1f} s)[/]")
        if as_json:
            print(json_text(record, default=str), file=stream, flush=True)
        elif "note" in record:
            console.print(literal(record["note"]))
        elif "error" in record:
            console.print(literal(record["error"]), style="red")
        records.append(record)
    return records


def _command(
    pipeline: GenerativePipeline, session: Session, command: str, arg: str, last: Response | None
) -> dict[str, Any]:
    if command in ("like", "dislike"):
        # ASCII digits only: "²".isdigit() is true but int("²") fails
        if last is None or not (arg.isascii() and arg.isdigit()) or not 1 <= int(arg) <= len(last.entries):
            return {"error": f":{command} needs the number of an entry of the last list"}
        item_id = last.entries[int(arg) - 1].item_id
        (session.like if command == "like" else session.dislike)(item_id)
        return {"note": f"{command}d {item_id}", "item_id": item_id, "feedback": (command, item_id, [])}
    if command == "skip":
        session.reject_all()
        return {
            "note": f"rejected the list ({session.feedback.rejections} in a row)",
            "feedback": ("skip", None, list(session.shown)),
        }
    if command == "user":
        try:
            return {"note": f"now chatting as {arg}", "session": pipeline.session(arg)}
        except KeyError as err:  # pipeline.session names the unknown user and the dataset
            return {"error": f":user: {err.args[0]}"}
    if command == "audit":
        log = pipeline.store.audit(dataset=pipeline.dataset.name)
        return {
            "note": "\n".join(f"{e['item_id']} {e['verdict']}: {'; '.join(e['reasons'][:2])}" for e in log)
            or "(empty)",
            "audit": log,
        }
    if command == "help":
        return {"note": HELP}
    return {"error": f"unknown command :{command}; try :help"}


def _start(pipeline: GenerativePipeline, user: str, events: EventStore | None) -> tuple[Session, str | None]:
    """A session for ``user`` with the feedback stored earlier replayed into it, and its stored session id."""
    session = pipeline.session(user)
    if events is None:
        return session, None
    replay(session, events.feedback(user), catalog_index(pipeline.dataset))
    return session, events.create_session(user, "genrec chat")
