"""``reel submit``: submit a task over the REST API and follow it with a progress bar."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from reel_host.paths import API_PREFIX

err = Console(stderr=True)


def parse_param(pair: str) -> tuple[str, Any]:
    """``k=v``: v is read as JSON when it parses (numbers, booleans, lists), else as a string."""
    key, sep, raw = pair.partition("=")
    if not sep or not key:
        raise typer.BadParameter(f"--param must be KEY=VALUE, got {pair!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def sse_events(response: httpx.Response) -> Iterator[tuple[str, str]]:
    event = "message"
    data: list[str] = []
    for line in response.iter_lines():
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


def submit(
    generator: str,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE (repeatable)")] = None,
    priority: Annotated[int, typer.Option(min=0, max=9, help="0-9, 9 runs first")] = 5,
    wait: Annotated[bool, typer.Option("--wait", help="follow the task until it ends")] = False,
    url: Annotated[str, typer.Option(envvar="REEL_URL", help="the API's base URL")] = "http://127.0.0.1:8000",
    key: Annotated[str | None, typer.Option(envvar="REEL_API_KEY", help="API key")] = None,
) -> None:
    """Submit GENERATOR with --param KEY=VALUE ...; with --wait, show progress and print output URLs."""
    key = key or os.environ.get("REEL_API_KEY")
    if not key:
        err.print("[red]no API key: pass --key or set REEL_API_KEY[/red]")
        raise typer.Exit(2)
    params = dict(parse_param(p) for p in param or [])
    headers = {"Authorization": f"Bearer {key}"}
    base = url.rstrip("/") + API_PREFIX
    with httpx.Client(headers=headers, timeout=httpx.Timeout(30, read=None)) as client:
        answer = client.post(f"{base}/tasks/submit", json={"generator": generator, "params": params,
                                                           "priority": priority})
        if answer.status_code >= 400:
            error = answer.json().get("error", {})
            err.print(f"[red]{answer.status_code} {error.get('code')}: {error.get('message')}[/red]")
            raise typer.Exit(1)
        task = answer.json()
        if not wait:
            typer.echo(task["id"])
            return
        err.print(f"task {task['id']} queued")
        task = follow(client, base, task)
    if task["status"] != "succeeded":
        error = task.get("error") or {}
        err.print(f"[red]task {task['status']}: {error.get('code', '')} {error.get('message', '')}[/red]")
        raise typer.Exit(1)
    for output in task["outputs"]:
        typer.echo(output["url"])


def follow(client: httpx.Client, base: str, task: dict[str, Any]) -> dict[str, Any]:
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TimeElapsedColumn())
    with Progress(*columns, console=err) as bar, \
            client.stream("GET", f"{base}/tasks/{task['id']}/events") as stream:
        row = bar.add_task(task["status"], total=1.0)
        for event, data in sse_events(stream):
            if event == "log":
                bar.console.print(json.loads(data)["message"], style="dim")
            elif event == "task":
                task = json.loads(data)
                description = f"{task['status']}: {task['message'] or ''}"[:60]
                bar.update(row, completed=task["progress"], description=description)
    return task
