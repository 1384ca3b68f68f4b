"""`InferAtomsModule`: how the infer-atoms node enters a Batchery application.

`service` and `bus` come from core's global module; `for_root(**settings)` configures the node,
and `settings` can be overridden per application (`overrides={"infer-atoms.settings": ...}`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from batchery.modules import Module
from batchery.nodes import NodeInfo
from batchery.progress import ProgressBus
from batchery.service import BatchLlmService
from dependency_injector import containers, providers

from batchery_infer_atoms._model import InferAtomsSettings
from batchery_infer_atoms._node import INFO, InferAtomsNode

__all__ = ["InferAtomsModule"]


class InferAtomsModule(Module):
    name = "infer-atoms"
    exports = ("node",)
    INFO: ClassVar[NodeInfo] = INFO

    class Container(containers.DeclarativeContainer):
        options = providers.Dependency[Mapping[str, object]]()
        service = providers.Dependency[BatchLlmService]()
        bus = providers.Dependency[ProgressBus]()
        settings = providers.Singleton(InferAtomsSettings.from_options, options)
        node = providers.Singleton(InferAtomsNode, service, bus, settings)
