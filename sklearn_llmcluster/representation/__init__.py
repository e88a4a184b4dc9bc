"""Representation: text normalisation, embedders and the offline engine."""

from .embedders import (EMBEDDINGS_INSTALL_HINT, Embedder, TfidfEmbedder,
                        UseMultilingualEmbedder, best_local_embedder, resolve_embedder,
                        unit_rows)

__all__ = ["Embedder", "TfidfEmbedder", "UseMultilingualEmbedder", "best_local_embedder",
           "resolve_embedder", "unit_rows", "EMBEDDINGS_INSTALL_HINT"]
