"""Representation: text normalisation, embedders and the offline engine."""

from .embedders import Embedder, TfidfEmbedder, resolve_embedder, unit_rows

__all__ = ["Embedder", "TfidfEmbedder", "resolve_embedder", "unit_rows"]
