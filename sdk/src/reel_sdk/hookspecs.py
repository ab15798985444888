"""The markers and hook specifications of Reel's plugin system, and nothing else.

A plugin is a module named by an entry point in the group ``reel.plugins``. It
holds functions marked with :data:`hookimpl` whose names match the specs below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from reel_sdk.generator import Generator

PROJECT_NAME = "reel"
ENTRY_POINT_GROUP = "reel.plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class ReelSpec:
    """Hook specifications a Reel plugin may implement."""

    @hookspec
    def reel_generators(self) -> list[Generator]:  # type: ignore[empty-body]
        """Return the generators this plugin provides.

        Called once per process when plugins are loaded, in the API (to publish
        names and parameter schemas) and in workers (to run tasks). It must be
        cheap: import heavy libraries (torch, diffusers) inside ``Generator.load``,
        never at module top level.

        Returns:
            A list of :class:`reel_sdk.Generator` instances with unique ``name``s.
        """
