"""Request bodies: a size limit checked before anything parses them, and 422 details that are always valid JSON.

A body larger than ``ServeConfig.max_body_bytes`` gets ``413`` from the ``BodyLimit`` middleware:
at once when its Content-Length says so, else as soon as the bytes read pass the limit (a
chunked body), so an oversized body is never parsed. ``safe_errors`` makes pydantic's validation
errors fit to send back: an ``input`` is echoed only when it is a short, JSON-safe scalar
(never NaN, Infinity, a lone surrogate or a large value), and every text is valid UTF-8.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The longest text (or number's digits) echoed back in an error.
ECHO_CHARS = 100


class BodyLimit:
    """Answer ``413`` to a request whose body is larger than ``max_bytes`` (pure ASGI; the body is read at most once)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _send_json(send, 400, "Content-Length is not a number")
                return
            if size > self.max_bytes:
                await self._too_large(send)
                return
        # Read the whole body now (it is at most max_bytes), then hand it to the app as one message.
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)

    async def _too_large(self, send: Send) -> None:
        await _send_json(
            send, 413, f"the request body is larger than {self.max_bytes} bytes (the server's --max-body-bytes)"
        )


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that returns ``messages`` first, then whatever the client sends next (a disconnect)."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    # the unread rest of the body makes the connection unusable for another request
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def safe_text(text: str, limit: int = ECHO_CHARS) -> str:
    """``text`` cut to ``limit`` characters, with anything that is not valid UTF-8 (lone surrogates) escaped."""
    cut = text if len(text) <= limit else text[:limit] + "..."
    return cut.encode("utf-8", "backslashreplace").decode("utf-8")


def _scalar(value: Any) -> tuple[bool, Any]:
    """(whether ``value`` may be echoed, the value to echo)."""
    if value is None or isinstance(value, bool):
        return True, value
    if isinstance(value, int):
        return abs(value) < 10**18, value
    if isinstance(value, float):
        return math.isfinite(value), value
    if isinstance(value, str):
        return len(value) <= ECHO_CHARS, safe_text(value)
    return False, None


def safe_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Validation errors as JSON-safe dicts: ``loc``, ``msg``, ``type``, a short ``input``, a plain ``ctx``."""
    out: list[dict[str, Any]] = []
    for error in errors[:20]:
        loc = [part if isinstance(part, int) else safe_text(str(part)) for part in error.get("loc", ())]
        item: dict[str, Any] = {
            "type": safe_text(str(error.get("type", "value_error"))),
            "loc": loc,
            "msg": safe_text(str(error.get("msg", "")), 500),
        }
        if "input" in error:
            ok, value = _scalar(error["input"])
            if ok:
                item["input"] = value
        ctx = error.get("ctx")
        if isinstance(ctx, dict):
            plain = {}
            for key, value in ctx.items():
                ok, echoed = _scalar(value)
                plain[safe_text(str(key))] = echoed if ok else safe_text(str(value))
            item["ctx"] = plain
        out.append(item)
    return out
