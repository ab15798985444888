"""The ``reel`` command: run Reel, manage projects and keys, submit tasks.

Commands are imported when they run (see ``reel_host.cli.lazy``): ``reel --help``,
``reel plugins`` and ``reel submit`` never import SQLAlchemy, Alembic or Celery.
"""

from __future__ import annotations

import typer

from reel_host.cli.lazy import Lazy, LazyGroup


class ReelCommands(LazyGroup):
    lazy = {
        "up": Lazy("reel_host.cli.run:up", "Run Reel embedded: API and one worker, SQLite, local storage, no Redis."),
        "serve": Lazy("reel_host.cli.run:serve", "Run the API only (distributed mode: workers run elsewhere)."),
        "worker": Lazy("reel_host.cli.run:worker", "Run a worker that takes the tasks of its plugins' generators."),
        "callbacks": Lazy("reel_host.cli.callbacks:callbacks",
                          "Send callbacks: consume queue reel.callbacks and sweep the outbox."),
        "migrate": Lazy("reel_host.cli.admin:migrate", "Bring the database schema up to date."),
        "plugins": Lazy("reel_host.cli.plugins:plugins", "List installed plugins and their generators."),
        "submit": Lazy("reel_host.cli.submit:submit", "Submit a task over the REST API; --wait follows it."),
        "doctor": Lazy("reel_host.cli.doctor:doctor",
                       "Check database, broker, storage, plugins, GPUs, settings and models."),
        "models": Lazy("reel_host.cli.models:models_app", "Models of the installed generators: list, pull, rm."),
        "gc": Lazy("reel_host.cli.admin:gc", "Delete finished tasks past their project's retention days."),
        "projects": Lazy("reel_host.cli.admin:projects_app", "Create and list projects; set their limits."),
        "keys": Lazy("reel_host.cli.admin:keys_app", "Create, list and revoke API keys."),
        "secrets": Lazy("reel_host.cli.secrets:secrets_app", "Sealing keys: make one, re-seal stored secrets."),
        "users": Lazy("reel_host.cli.users:users_app", "Console accounts: first admin, invitations, resets."),
        "openapi": Lazy("reel_host.cli.openapi:openapi", "Print the REST API's OpenAPI document."),
    }


# plain click help for the listing: Typer's rich help renderer costs more to import than all the rest
app = typer.Typer(cls=ReelCommands, help="Reel: a plugin-based GPU processor host.", no_args_is_help=True,
                  add_completion=False, rich_markup_mode=None)


@app.callback()
def main() -> None:
    """Reel: a plugin-based GPU processor host."""


if __name__ == "__main__":
    app()
