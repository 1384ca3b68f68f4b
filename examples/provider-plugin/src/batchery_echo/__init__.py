"""Echo for Batchery: a minimal third-party provider plugin, with an emulator of its API."""

from batchery_echo._module import EchoModule
from batchery_echo._provider import EchoOptions, EchoProvider
from batchery_echo.emulator import EchoEmulator

__all__ = ["EchoEmulator", "EchoModule", "EchoOptions", "EchoProvider"]
