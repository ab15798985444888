"""The one module that owns the plugin manager: ``load_plugins()`` and pins.

Plugins are found by entry point in ``reel.plugins``. A worker may pin them
(``image==0.3.*,audio``): a pinned plugin that is missing, at a version outside
its specifier, or failing to import stops the worker with a clear message; an
unpinned one that fails is reported and skipped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import pluggy
from importlib_metadata import EntryPoint, entry_points
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from reel_sdk import ENTRY_POINT_GROUP, Generator, ReelSpec
from reel_sdk.hookspecs import PROJECT_NAME

log = logging.getLogger("reel.plugins")

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?\s*(.*)$")


class PluginError(RuntimeError):
    """A plugin pin cannot be satisfied or a plugin is broken."""


@dataclass
class PluginInfo:
    """An installed plugin as the host sees it."""

    name: str
    dist: str | None
    version: str | None
    module: str
    generators: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.dist,
            "version": self.version,
            "generators": self.generators,
            "error": self.error,
        }


@dataclass
class Registry:
    """Loaded plugins and their generators, by name."""

    plugins: list[PluginInfo] = field(default_factory=list)
    failed: list[PluginInfo] = field(default_factory=list)
    generators: dict[str, Generator] = field(default_factory=dict)
    plugin_of: dict[str, PluginInfo] = field(default_factory=dict)
    manager: pluggy.PluginManager | None = None

    def get(self, name: str) -> Generator | None:
        return self.generators.get(name)


def parse_pins(spec: str | None) -> dict[str, SpecifierSet]:
    """Parse ``"image==0.3.*,audio,video>=1,<2"`` or ``"image[==0.3.*]"`` into pins.

    A comma followed by a version operator continues the previous specifier.

    Raises:
        PluginError: a pin is malformed.
    """
    pins: dict[str, SpecifierSet] = {}
    if not spec or not spec.strip():
        return pins
    pieces: list[str] = []
    for piece in spec.split(","):
        piece = piece.strip()
        if not piece:
            continue
        continues_specifier = pieces and piece[0] in "<>=!~" and "[" not in pieces[-1]
        inside_brackets = pieces and pieces[-1].count("[") > pieces[-1].count("]")
        if continues_specifier or inside_brackets:
            pieces[-1] += "," + piece
        else:
            pieces.append(piece)
    for piece in pieces:
        m = _PIN.match(piece)
        if not m:
            raise PluginError(f"bad plugin pin {piece!r}: expected NAME, NAME==VERSION or NAME[SPEC]")
        name, bracket, rest = m.group(1), m.group(2), m.group(3).strip()
        text = (bracket if bracket is not None else rest).strip()
        try:
            pins[canonicalize_name(name)] = SpecifierSet(text)
        except InvalidSpecifier as exc:
            raise PluginError(f"bad version specifier in plugin pin {piece!r}: {exc}") from None
    return pins


def _names(ep: EntryPoint) -> set[str]:
    names: set[str] = {canonicalize_name(ep.name)}
    if ep.dist is not None:
        dist_name = canonicalize_name(ep.dist.name)
        names.add(dist_name)
        names.add(dist_name.removeprefix("reel-"))
    return names


def _split(value: str | None) -> set[str]:
    return {canonicalize_name(v) for v in (value or "").split(",") if v.strip()}


def load_plugins(
    pins: str | dict[str, SpecifierSet] | None = None,
    *,
    only: str | None = None,
    block: str | None = None,
    trace: bool = False,
) -> Registry:
    """Discover, check and load plugins; return their generators.

    Args:
        pins: a pin string or parsed pins; None or empty loads every plugin.
        only: comma-separated plugin names to load (``REEL_LOAD_PLUGINS``).
        block: comma-separated plugin names never to load (``REEL_BLOCK_PLUGINS``).
        trace: log each hook call (``REEL_TRACE_PLUGINS``).

    Raises:
        PluginError: a pinned plugin is missing, at the wrong version or broken.
    """
    parsed = parse_pins(pins) if isinstance(pins, str) or pins is None else pins
    only_names, blocked = _split(only), _split(block)
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(ReelSpec)
    if trace:  # every hook call and its result, through pluggy's own tracing
        pm.trace.root.setwriter(lambda message: log.info("%s", message.rstrip()))
        pm.enable_tracing()
    registry = Registry(manager=pm)
    seen_pins: set[str] = set()

    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        names = _names(ep)
        pin_name = next((n for n in parsed if n in names), None)
        if parsed and pin_name is None:
            continue
        if names & blocked or (only_names and not names & only_names):
            continue
        dist = ep.dist.name if ep.dist is not None else None
        version = ep.dist.version if ep.dist is not None else None
        info = PluginInfo(name=ep.name, dist=dist, version=version, module=ep.value)
        if pin_name is not None:
            seen_pins.add(pin_name)
            spec = parsed[pin_name]
            if spec and (version is None or not spec.contains(version, prereleases=True)):
                raise PluginError(
                    f"plugin {ep.name!r} ({dist} {version}) does not satisfy the pin {pin_name}{spec}"
                )
        module = None
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
            gens = _collect(pm, module)
        except Exception as exc:  # a plugin's own bug: report it with its distribution
            info.error = f"{type(exc).__name__}: {exc}"
            if pin_name is not None:
                raise PluginError(
                    f"pinned plugin {ep.name!r} ({dist} {version}) failed to load: {info.error}"
                ) from exc
            log.warning("skipping plugin %s (%s %s): %s", ep.name, dist, version, info.error)
            if module is not None and pm.is_registered(module):
                pm.unregister(module)
            registry.failed.append(info)
            continue
        for gen in gens:
            if gen.name in registry.generators:
                other = registry.plugin_of[gen.name].name
                msg = f"generator {gen.name!r} is provided by both {other!r} and {ep.name!r}"
                if pin_name is not None:
                    raise PluginError(msg)
                log.warning("%s; keeping %s", msg, other)
                continue
            registry.generators[gen.name] = gen
            registry.plugin_of[gen.name] = info
            info.generators.append(gen.name)
        registry.plugins.append(info)

    missing = set(parsed) - seen_pins
    if missing:
        installed = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
        raise PluginError(
            f"pinned plugin(s) {', '.join(sorted(missing))} not installed; installed: {', '.join(installed) or 'none'}"
        )
    pm.check_pending()
    return registry


def _collect(pm: pluggy.PluginManager, module: Any) -> list[Generator]:
    """Call one plugin's ``reel_generators`` and check what it returns.

    The call goes through pluggy's hook caller (a subset caller holding only this plugin),
    so hook-call monitoring and ``REEL_TRACE_PLUGINS`` see it like any other hook call.
    """
    others = [p for p in pm.get_plugins() if p is not module]
    caller = pm.subset_hook_caller("reel_generators", remove_plugins=others)
    gens: list[Generator] = []
    for result in cast("list[Iterable[object] | None]", caller()):
        for gen in result or []:
            if not isinstance(gen, Generator):
                raise TypeError(f"reel_generators returned {type(gen).__name__}, not a reel_sdk.Generator")
            type(gen).check_definition()
            gens.append(gen)
    return gens
