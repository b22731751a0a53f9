"""Recommenders behind one API (fit / score / recommend / save / load), created by name."""

from genrec.models.base import Recommendations, Recommender
from genrec.models.registry import create_model, get_model_class, model_names, register_model

__all__ = ["Recommendations", "Recommender", "create_model", "get_model_class", "model_names", "register_model"]
