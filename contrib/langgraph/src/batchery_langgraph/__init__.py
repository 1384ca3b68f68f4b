"""Batchery nodes in LangGraph graphs."""
