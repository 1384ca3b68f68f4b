"""Batchery provider for the Gemini API batch mode, realtime generateContent and embeddings."""
