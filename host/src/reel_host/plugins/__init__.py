"""Plugin discovery: one plugin manager, entry points, version pins."""

from reel_host.plugins.registry import PluginError, PluginInfo, Registry, load_plugins, parse_pins

__all__ = ["PluginError", "PluginInfo", "Registry", "load_plugins", "parse_pins"]
