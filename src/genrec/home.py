"""genrec's home directory (caches, the embedded store, keys): a leaf every layer may import."""

from __future__ import annotations

import os
from pathlib import Path


def default_home() -> Path:
    """genrec's cache/data directory: $GENREC_HOME or ~/.cache/genrec."""
    return Path(os.environ.get("GENREC_HOME", Path.home() / ".cache" / "genrec"))
