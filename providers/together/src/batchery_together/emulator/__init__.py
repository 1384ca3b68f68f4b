"""Together AI's API emulated over real HTTP on loopback, built on OpenAI's emulator."""

from batchery_together.emulator._emulator import TogetherEmulator
from batchery_together.emulator._wire import TogetherBatch

__all__ = ["TogetherBatch", "TogetherEmulator"]
