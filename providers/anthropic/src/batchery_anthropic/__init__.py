"""Batchery provider for Anthropic Message Batches and realtime messages."""
