"""NestJS-style modules on dependency-injector: imports, exports, `for_root`, lifecycle hooks.

A module declares a container, what it imports and what it exports; `Application.create`
compiles the modules into fresh containers, wires each import from an export (refusing anything
not exported), starts them deepest first and stops them in reverse. See docs/modules.md.
"""

from batchery.modules._module import (
    Module,
    ModuleCompileError,
    ModuleDefinition,
    ModuleError,
    ModuleInitError,
    ModuleRef,
    UnknownPathError,
)
from batchery.modules.application import Application
from batchery.modules.lifecycle import (
    BeforeApplicationShutdown,
    OnApplicationBootstrap,
    OnApplicationShutdown,
    OnModuleDestroy,
    OnModuleInit,
)

__all__ = [
    "Application",
    "BeforeApplicationShutdown",
    "Module",
    "ModuleCompileError",
    "ModuleDefinition",
    "ModuleError",
    "ModuleInitError",
    "ModuleRef",
    "OnApplicationBootstrap",
    "OnApplicationShutdown",
    "OnModuleDestroy",
    "OnModuleInit",
    "UnknownPathError",
]
