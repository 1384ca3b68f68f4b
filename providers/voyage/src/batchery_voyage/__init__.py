"""Batchery provider for Voyage AI: batch and realtime embeddings, contextual embeddings, rerank."""
