"""genrec: an engine for generative recommendation."""

__version__ = "0.1.0"
