"""Public names for what callers outside the fidelity package need: the packaged word lists and the brand lexicon.

``packaged_list("given_names.txt")`` reads one of the lists under ``rules/`` (given names,
protected brands, materials); ``brand_lexicon(ctx)`` is the catalog's brand finder the
authenticity check uses (every catalog brand, spelling tricks undone), which generators use to
drop brands their source does not name.
"""

from __future__ import annotations

from genrec.fidelity._catalog import BrandLexicon, BrandMention, brand_lexicon, build_brand_lexicon
from genrec.fidelity._rules import read_list

__all__ = ["BrandLexicon", "BrandMention", "brand_lexicon", "build_brand_lexicon", "packaged_list"]


def packaged_list(name: str) -> list[str]:
    """A one-entry-a-line list packaged under ``genrec/fidelity/rules/`` (comments and blank lines dropped)."""
    return read_list(name)
