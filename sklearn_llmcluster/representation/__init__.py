"""Representation: text normalisation, embedders and the offline engine."""

from .embedders import (EMBEDDINGS_INSTALL_HINT, Embedder, ObjectEmbedder, ProviderEmbedder,
                        SklearnEmbedder, TfidfEmbedder, UseMultilingualEmbedder,
                        best_local_embedder, check_embedder_spec, resolve_embedder, unit_rows)

__all__ = ["Embedder", "TfidfEmbedder", "UseMultilingualEmbedder", "ProviderEmbedder",
           "ObjectEmbedder", "SklearnEmbedder", "best_local_embedder", "check_embedder_spec",
           "resolve_embedder", "unit_rows", "EMBEDDINGS_INSTALL_HINT"]
