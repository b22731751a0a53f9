"""Small numpy helpers on embedding matrices shared across layers."""

from __future__ import annotations

import numpy as np


def unit(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``x`` (as float32) scaled to unit L2 norm along ``axis``; all-zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=axis, keepdims=True), 1e-12)
