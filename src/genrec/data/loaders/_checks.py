"""Checks a load's arguments before any file is read: known options of the right type, real files."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from genrec.data.errors import DataFormatError

#: Loaders that read a folder (or an archive) as well as a file.
FOLDER_KINDS = ("movielens", "minionerec")


def check_options(kind: str, loader: Callable[..., Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` checked against the loader's signature: unknown keys and wrong types raise ValueError.

    Values given as text (from the command line) are converted to the parameter's type.
    """
    params = list(inspect.signature(loader).parameters.values())[1:]  # the first is the source path
    known = {p.name: p for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD}
    open_ended = len(known) < len(params)
    hints = typing.get_type_hints(loader)
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key not in known and open_ended:
            out[key] = value
            continue
        if key not in known:
            raise ValueError(f"unknown option {key!r} for the {kind} loader; known: {', '.join(sorted(known))}")
        out[key] = _convert(kind, key, value, hints.get(key))
    return out


def check_path(kind: str, path: str | Path | Sequence[str | Path], option: str | None = None) -> None:
    """Raise FileNotFoundError / DataFormatError unless ``path`` is there and is what the loader reads."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    for p in map(Path, paths):
        label = f"{option}: " if option else ""
        if not p.exists():
            raise FileNotFoundError(f"{label}{p}: no such file or directory")
        if p.is_dir() and (option is not None or kind not in FOLDER_KINDS):
            raise DataFormatError(f"{label}is a directory; the {kind} loader needs a file here", p)
        if not p.is_dir() and not p.is_file():
            raise DataFormatError(f"{label}not a regular file", p)


def check_loaded(kind: str, path: Any, n_interactions: int) -> None:
    """An empty result is an error, never a dataset with nothing in it."""
    if n_interactions == 0:
        raise DataFormatError(f"the {kind} loader found no interactions", _label(path))


def _label(path: Any) -> str:
    if isinstance(path, (str, Path)):
        return str(path)
    return ", ".join(map(str, path))[:300]


def _convert(kind: str, key: str, value: Any, hint: Any) -> Any:
    """``value`` as the type the loader's parameter ``key`` declares."""
    types = set(typing.get_args(hint)) if typing.get_args(hint) else {hint}
    if value is None and type(None) in types:
        return None
    if bool in types:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return text in ("1", "true", "yes", "on")
        raise ValueError(f"option {key}={value!r} of the {kind} loader must be true or false")
    if int in types:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        if text.lstrip("+-").isdigit() and text.isascii() and len(text) < 20:
            return int(text)
        raise ValueError(f"option {key}={value!r} of the {kind} loader must be an integer")
    if str in types:
        if isinstance(value, (str, Path)):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # a column or file named like a number
        raise ValueError(f"option {key}={value!r} of the {kind} loader must be text")
    if any(typing.get_origin(t) in (Mapping, dict) or t in (Mapping, dict) for t in types):
        if isinstance(value, Mapping):
            return dict(value)
        raise ValueError(f"option {key} of the {kind} loader must be a mapping (from Python), got {value!r}")
    return value
