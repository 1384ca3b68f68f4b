"""Installed, Echo is found the way core finds every provider: through its entry point."""

from batchery.plugins import discover_providers
from batchery_echo import EchoModule


def test_echo_is_discovered_through_its_entry_point() -> None:
    found = {entry.name: entry for entry in discover_providers(environ={})}
    entry = found["echo"]
    assert entry.error is None
    assert entry.module is EchoModule
    assert entry.distribution == "batchery-echo"
