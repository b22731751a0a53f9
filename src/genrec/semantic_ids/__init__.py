"""Semantic IDs: item embeddings quantised into short code tuples (RQ-KMeans, RQ-VAE)."""

from genrec.semantic_ids.base import SemanticIdTokenizer, codebook_size_for, create_tokenizer, mix_embeddings
from genrec.semantic_ids.rq_kmeans import RQKMeans
from genrec.semantic_ids.rq_vae import RQVAE

__all__ = ["RQVAE", "RQKMeans", "SemanticIdTokenizer", "codebook_size_for", "create_tokenizer", "mix_embeddings"]
