"""Item encoders: text to sentence embeddings, with an on-disk cache."""

from genrec.encoders.cache import EmbeddingCache, default_cache_root, text_key
from genrec.encoders.text import (
    DEFAULT_FIELDS,
    TextEncoder,
    default_model_path,
    encode_items,
    has_item_text,
    item_texts,
    load_sentence_model,
    model_identity,
)

__all__ = [
    "DEFAULT_FIELDS",
    "EmbeddingCache",
    "TextEncoder",
    "default_cache_root",
    "default_model_path",
    "encode_items",
    "has_item_text",
    "item_texts",
    "load_sentence_model",
    "model_identity",
    "text_key",
]
