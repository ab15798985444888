"""Subcommands imported only when they run, so ``reel --help`` and light commands start fast.

Importing every command module at start pulled in the whole host (SQLAlchemy, Alembic,
Celery) for ``reel --help``. Here the top-level group knows each command's name, module
and one-line help; the module is imported when the command is invoked or its own help
is asked for. Click calls ``make_context`` on the command it resolved and then invokes
``sub_ctx.command``, so a placeholder can hand both over to the real command.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

try:  # Typer >= 0.2x carries its own click; commands must be of the kind its groups hold
    from typer import _click as click
except ImportError:  # pragma: no cover - older Typer, on the click package
    import click  # type: ignore[no-redef]


@dataclass(frozen=True)
class Lazy:
    """``module:attribute`` of a command function or a ``typer.Typer`` sub-app, and its short help."""

    target: str
    help: str

    def load(self, name: str) -> click.Command:
        module, _, attr = self.target.partition(":")
        obj = getattr(importlib.import_module(module), attr)
        if isinstance(obj, typer.Typer):
            obj._add_completion = False  # a sub-app: completion belongs to the top level
            obj.rich_markup_mode = None  # plain click help: Typer's rich renderer costs ~0.3 s to import
            return typer.main.get_group(obj)  # a group even with one command (`reel keys create`)
        single = typer.Typer(add_completion=False, rich_markup_mode=None)
        single.command(name)(obj)
        return typer.main.get_command(single)


class LazyCommand(TyperCommand):
    """Stands in for a command in the help listing; becomes the real one when used."""

    def __init__(self, name: str, lazy: Lazy) -> None:
        super().__init__(name, short_help=lazy.help, help=lazy.help)
        self.lazy = lazy
        self._real: click.Command | None = None

    @property
    def real(self) -> click.Command:
        if self._real is None:
            self._real = self.lazy.load(self.name or "")
        return self._real

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        return self.real.make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        return self.real.invoke(ctx)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:  # shell completion
        return self.real.get_params(ctx)


class LazyGroup(TyperGroup):
    """A Typer group whose ``LAZY`` commands are imported on use."""

    lazy: dict[str, Lazy] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            return LazyCommand(cmd_name, self.lazy[cmd_name])
        return super().get_command(ctx, cmd_name)
