"""Batchery provider for any server that speaks OpenAI's files and batches API."""
