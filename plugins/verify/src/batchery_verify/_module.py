"""`VerifyModule`: how the verify node enters a Batchery application.

`service` and `bus` come from core's global module; `for_root(**settings)` configures the node,
and `settings` can be overridden per application (`overrides={"verify.settings": ...}`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from batchery.modules import Module
from batchery.nodes import NodeInfo
from batchery.progress import ProgressBus
from batchery.service import BatchLlmService
from dependency_injector import containers, providers

from batchery_verify._model import VerifySettings
from batchery_verify._node import INFO, VerifyNode

__all__ = ["VerifyModule"]


class VerifyModule(Module):
    name = "verify"
    exports = ("node",)
    INFO: ClassVar[NodeInfo] = INFO

    class Container(containers.DeclarativeContainer):
        options = providers.Dependency[Mapping[str, object]]()
        service = providers.Dependency[BatchLlmService]()
        bus = providers.Dependency[ProgressBus]()
        settings = providers.Singleton(VerifySettings.from_options, options)
        node = providers.Singleton(VerifyNode, service, bus, settings)
