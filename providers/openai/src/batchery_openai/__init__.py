"""OpenAI for Batchery: Files and Batches API, realtime chat and embeddings, and an emulator."""
