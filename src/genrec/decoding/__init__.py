"""Decoding semantic IDs: a prefix trie of valid codes and trie-constrained beam search."""

from genrec.decoding.beam import benchmark_decoding, constrained_beam_search, reorder_rows
from genrec.decoding.trie import PrefixTrie

__all__ = ["PrefixTrie", "benchmark_decoding", "constrained_beam_search", "reorder_rows"]
