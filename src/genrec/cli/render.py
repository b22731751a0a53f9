"""Data shown in the terminal as literal text (never rich markup or control characters), and strict JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from rich.text import Text

from genrec.textsafe import strip_controls


def literal(value: object, limit: int | None = None) -> Text:
    """``value`` as rich Text printed as is: ``[red]`` stays text, ESC and other controls are removed."""
    text = strip_controls(str(value))
    if limit is not None and len(text) > limit:
        text = text[:limit]
    return Text(text)


def json_text(value: Any, default: Callable[[Any], Any] | None = float) -> str:
    """``value`` as strict JSON: an infinite or NaN number becomes null (JSON has neither)."""
    return json.dumps(_finite(json.loads(json.dumps(value, default=default))), allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
