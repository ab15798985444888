"""The ``reel`` command: run Reel, manage projects and keys, submit tasks."""

from __future__ import annotations

import typer

from reel_host.cli import admin, callbacks, openapi, run, secrets, submit, users

app = typer.Typer(help="Reel: a plugin-based GPU processor host.", no_args_is_help=True, add_completion=False)
app.command("up")(run.up)
app.command("serve")(run.serve)
app.command("worker")(run.worker)
app.command("callbacks")(callbacks.callbacks)
app.command("migrate")(admin.migrate)
app.command("plugins")(admin.plugins)
app.command("submit")(submit.submit)
app.command("openapi")(openapi.openapi)
app.add_typer(admin.projects_app, name="projects")
app.add_typer(admin.keys_app, name="keys")
app.add_typer(secrets.secrets_app, name="secrets")
app.add_typer(users.users_app, name="users")

if __name__ == "__main__":
    app()
