"""Compile a module graph into one wired dependency-injector container per module.

dependency-injector composes containers but never checks who may see what; this is where
Batchery enforces NestJS's encapsulation: a `Dependency` slot is filled only from a provider that
an imported (or global) module exports, and anything else is refused with an error naming the
modules involved. The result is ordered so that every module comes after the modules it uses
(global ones first, then by import distance, deepest first): start-up walks it front to back and
shutdown back to front.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from dependency_injector import containers, providers

from batchery.modules._module import ModuleCompileError, ModuleDefinition, ModuleRef

__all__ = ["CompiledModule", "compile_modules"]

AnyProvider = providers.Provider[Any]
P = TypeVar("P", bound=AnyProvider)

# Thread- and context-local singletons have no single instance to create at start-up.
_SINGLETONS: tuple[type[AnyProvider], ...] = (providers.Singleton, providers.ThreadSafeSingleton)


@dataclass(frozen=True, slots=True)
class CompiledModule:
    """One module of one application: its definition, its own container, its import distance."""

    definition: ModuleDefinition
    container: containers.Container
    distance: int

    @property
    def name(self) -> str:
        return self.definition.name

    def resources(self) -> list[tuple[str, providers.Resource[Any]]]:
        """This module's own Resources, each after the Resources it depends on."""
        return self._in_dependency_order((providers.Resource,))

    def singletons(self) -> list[tuple[str, AnyProvider]]:
        """This module's own Singletons, each after the Singletons it depends on."""
        return self._in_dependency_order(_SINGLETONS)

    def _in_dependency_order(self, kinds: tuple[type[P], ...]) -> list[tuple[str, P]]:
        own: dict[int, tuple[str, P]] = {}
        for name, provider in self.container.providers.items():
            if isinstance(provider, kinds) and id(provider) not in own:
                own[id(provider)] = (name, provider)
        ordered: list[tuple[str, P]] = []
        seen: set[int] = set()

        def visit(key: int) -> None:
            seen.add(key)
            for dependency in own[key][1].traverse(types=kinds):
                if id(dependency) in own and id(dependency) not in seen:
                    visit(id(dependency))
            ordered.append(own[key])

        for key in own:
            if key not in seen:
                visit(key)
        return ordered


def compile_modules(root: ModuleRef, extra: Iterable[ModuleRef] = ()) -> tuple[CompiledModule, ...]:
    """Build, wire and order fresh containers for `root`, `extra` and everything they import.

    Raises:
        ModuleCompileError: on an import or dependency cycle, a provider used but not exported,
            an unfilled slot, an ambiguous slot, or one module configured two different ways.
    """
    graph = _Graph()
    graph.add(root)
    for ref in extra:
        graph.add(ref)
    return _Wiring(graph).compile()


class _Graph:
    """The module definitions reachable from the roots, keyed by module name, in visit order."""

    def __init__(self) -> None:
        self.definitions: dict[str, ModuleDefinition] = {}
        self.imports: dict[str, tuple[str, ...]] = {}
        self._stack: list[str] = []

    def add(self, ref: ModuleRef) -> str:
        definition = ModuleDefinition.of(ref)
        name = definition.name
        self._merge(definition)
        if name in self._stack:
            cycle = [*self._stack[self._stack.index(name) :], name]
            raise ModuleCompileError("import cycle: " + " -> ".join(cycle))
        if name not in self.imports:
            self._stack.append(name)
            self.imports[name] = tuple(self.add(i) for i in definition.module.imports)
            self._stack.pop()
        return name

    def _merge(self, definition: ModuleDefinition) -> None:
        """Keep one definition per name; an explicit `for_root` wins over a bare class."""
        name = definition.name
        known = self.definitions.get(name)
        if known is None or (definition.configured and not known.configured):
            if known is not None and known.module is not definition.module:
                raise _same_name(name, known, definition)
            self.definitions[name] = definition
        elif known.module is not definition.module:
            raise _same_name(name, known, definition)
        elif definition.configured and known != definition:
            raise ModuleCompileError(
                f"module {name!r} is configured twice with different options or global_"
            )


def _same_name(name: str, a: ModuleDefinition, b: ModuleDefinition) -> ModuleCompileError:
    first, second = (f"{d.module.__module__}.{d.module.__qualname__}" for d in (a, b))
    return ModuleCompileError(f"two different modules are named {name!r}: {first} and {second}")


class _Wiring:
    def __init__(self, graph: _Graph) -> None:
        self.graph = graph
        self.definitions = graph.definitions
        self.containers = {n: d.module.Container() for n, d in self.definitions.items()}
        self.globals = [n for n, d in self.definitions.items() if d.global_]
        self.edges: dict[str, list[str]] = {n: list(graph.imports[n]) for n in self.definitions}
        self.exports = {n: self._checked_exports(n) for n in self.definitions}

    def compile(self) -> tuple[CompiledModule, ...]:
        for name in self.definitions:
            self._wire(name)
        distance = _distances(self.edges)
        position = {name: i for i, name in enumerate(self.definitions)}
        pending = {name: set(targets) for name, targets in self.edges.items()}
        order: list[str] = []
        # Every module starts after everything it uses; among the ready ones, global modules
        # go first, then the deepest, then the earliest registered.
        while pending:
            ready = (name for name, waiting in pending.items() if not waiting)
            chosen = min(
                ready, key=lambda n: (not self.definitions[n].global_, -distance[n], position[n])
            )
            order.append(chosen)
            del pending[chosen]
            for waiting in pending.values():
                waiting.discard(chosen)
        return tuple(
            CompiledModule(self.definitions[n], self.containers[n], distance[n]) for n in order
        )

    def _checked_exports(self, name: str) -> frozenset[str]:
        exports = self.definitions[name].module.exports
        for export in exports:
            if export not in self.containers[name].providers:
                raise ModuleCompileError(
                    f"module {name!r} exports {export!r}, which is not a provider of its Container"
                )
        return frozenset(exports)

    def _wire(self, name: str) -> None:
        definition = self.definitions[name]
        slots = self.containers[name].providers
        collects: Mapping[str, str] = definition.module.collects
        for slot in collects:
            if not isinstance(slots.get(slot), providers.Dependency):
                raise ModuleCompileError(
                    f"module {name!r} collects into {slot!r}, which is not a "
                    "providers.Dependency() slot of its Container"
                )
        if definition.options and not isinstance(slots.get("options"), providers.Dependency):
            raise ModuleCompileError(
                f"module {name!r} was given options but its Container has no 'options' slot"
            )
        for slot, provider in slots.items():
            if not isinstance(provider, providers.Dependency):
                continue
            if slot == "options":
                provider.override(providers.Object(definition.options))
            elif slot in collects:
                provider.override(self._collected(name, collects[slot]))
            else:
                source = self._source(name, slot, provider)
                if source is not None:
                    provider.override(self.containers[source].providers[slot])
                    self.edges[name].append(source)

    def _collected(self, name: str, export: str) -> AnyProvider:
        sources = [n for n in self.definitions if n != name and export in self.exports[n]]
        self.edges[name].extend(sources)
        return providers.Dict({n: self.containers[n].providers[export] for n in sources})

    def _source(self, name: str, slot: str, provider: AnyProvider) -> str | None:
        """The module whose export fills `slot`; None when the slot's own default applies."""
        imported = self.graph.imports[name]
        candidates = [n for n in imported if slot in self.exports[n]] or [
            n for n in self.globals if n != name and slot in self.exports[n]
        ]
        if len(candidates) > 1:
            listed = ", ".join(repr(n) for n in candidates)
            raise ModuleCompileError(
                f"module {name!r} slot {slot!r} is exported by several modules ({listed}); "
                "import only one of them"
            )
        if candidates:
            return candidates[0]
        for other in (*imported, *self.globals):
            if other != name and slot in self.containers[other].providers:
                shown = ", ".join(repr(e) for e in sorted(self.exports[other])) or "nothing"
                raise ModuleCompileError(
                    f"module {name!r} cannot use {slot!r} from module {other!r}: "
                    f"{other!r} does not export it (it exports {shown})"
                )
        if isinstance(provider, providers.Dependency) and provider.is_defined:
            return None
        raise ModuleCompileError(
            f"module {name!r} has an unfilled dependency slot {slot!r}: "
            "no imported or global module exports it"
        )


def _distances(edges: Mapping[str, list[str]]) -> dict[str, int]:
    """Import distance: the longest path from a root (a module nobody uses) to each module.

    Raises:
        ModuleCompileError: when wiring through global modules or `collects` closes a cycle.
    """
    state: dict[str, bool] = {}  # False while on the DFS stack, True once finished
    stack: list[str] = []

    def check(name: str) -> None:
        state[name] = False
        stack.append(name)
        for target in edges[name]:
            if state.get(target) is False:
                cycle = [*stack[stack.index(target) :], target]
                raise ModuleCompileError("dependency cycle: " + " -> ".join(cycle))
            if target not in state:
                check(target)
        stack.pop()
        state[name] = True

    for name in edges:
        if name not in state:
            check(name)
    users: dict[str, set[str]] = {name: set() for name in edges}
    for name, targets in edges.items():
        for target in targets:
            users[target].add(name)
    distance: dict[str, int] = {}

    def depth(name: str) -> int:
        if name not in distance:
            distance[name] = max((depth(u) + 1 for u in users[name]), default=0)
        return distance[name]

    for name in edges:
        depth(name)
    return distance
