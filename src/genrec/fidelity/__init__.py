"""Fidelity checks on generated items: bias, privacy, safety, authenticity, legal, identifiability."""
