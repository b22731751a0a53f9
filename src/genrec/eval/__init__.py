"""Evaluation: full-ranking metrics and the evaluator."""

from genrec.eval.evaluator import EvalResult, evaluate

__all__ = ["EvalResult", "evaluate"]
