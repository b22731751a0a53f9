"""Most-popular baseline: every user gets the items with the most training interactions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from genrec.config import PopularityConfig
from genrec.data.dataset import Dataset
from genrec.models.base import Histories, Recommender
from genrec.models.registry import register_model

if TYPE_CHECKING:
    from genrec.train import Validator


@register_model("popularity")
class Popularity(Recommender):
    """Scores each item by its training interaction count."""

    config_class = PopularityConfig

    def _fit(self, dataset: Dataset, valid: Validator | None) -> None:
        self.counts = dataset.item_popularity().astype(np.float32)

    def score(self, histories: Histories) -> np.ndarray:
        """The same popularity scores for every history."""
        return np.broadcast_to(self.counts, (len(histories), self.n_items)).copy()

    def _state(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.counts = state["counts"]
