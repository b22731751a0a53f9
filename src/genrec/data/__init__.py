"""Data layer: the dataset model, the embedded store, loaders, the synthetic generator and splits."""

from genrec.data.dataset import EVENT_TYPES, Dataset, Interactions
from genrec.data.errors import DataFormatError
from genrec.data.split import EvalCases, Split, leave_one_out, make_split, temporal
from genrec.data.store import Store

__all__ = [
    "EVENT_TYPES",
    "DataFormatError",
    "Dataset",
    "EvalCases",
    "Interactions",
    "Split",
    "Store",
    "leave_one_out",
    "make_split",
    "temporal",
]
