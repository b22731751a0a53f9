"""Evaluation: full-ranking metrics, the evaluator, and the validation metric for early stopping."""

from genrec.eval.evaluator import EvalResult, evaluate
from genrec.eval.validation import RankingValidator, ranking_validator

__all__ = ["EvalResult", "RankingValidator", "evaluate", "ranking_validator"]
