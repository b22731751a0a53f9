"""Data shown in the terminal as literal text: never rich markup, never control characters."""

from __future__ import annotations

from rich.text import Text

from genrec.textsafe import strip_controls


def literal(value: object, limit: int | None = None) -> Text:
    """``value`` as rich Text printed as is: ``[red]`` stays text, ESC and other controls are removed."""
    text = strip_controls(str(value))
    if limit is not None and len(text) > limit:
        text = text[:limit]
    return Text(text)
