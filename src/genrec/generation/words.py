"""The word lists the instructor and the catalog vocabulary read requests with (``data/words.toml``)."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

RESOURCE = "words.toml"


@cache
def word_lists() -> dict[str, dict[str, Any]]:
    """Every section of the packaged word lists, as read from the TOML file."""
    text = resources.files("genrec.generation").joinpath("data", RESOURCE).read_text(encoding="utf-8")
    return tomllib.loads(text)


def word_list(section: str, key: str) -> list[str]:
    """One list of words or phrases; KeyError names the section and key that do not exist."""
    lists = word_lists()
    if section not in lists or key not in lists[section]:
        raise KeyError(f"no word list {section}.{key} in {RESOURCE}")
    value = lists[section][key]
    if not isinstance(value, list):
        raise TypeError(f"{RESOURCE}: {section}.{key} is not a list")
    return [str(v) for v in value]


def word_table(section: str, key: str) -> dict[str, Any]:
    """One table (word -> value) of the packaged word lists."""
    value = word_lists()[section][key]
    if not isinstance(value, dict):
        raise TypeError(f"{RESOURCE}: {section}.{key} is not a table")
    return dict(value)


__all__ = ["word_list", "word_lists", "word_table"]
