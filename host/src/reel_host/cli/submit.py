"""``reel submit``: submit a task over the REST API and follow it with a progress bar."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from reel_host.lifecycle.status import FINISHED
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


def sse_events(response: httpx.Response) -> Iterator[tuple[str, str, str | None]]:
    """``(event, data, id)`` of each server-sent event of ``response``."""
    event, event_id = "message", None
    data: list[str] = []
    for line in response.iter_lines():
        if not line:
            if data:
                yield event, "\n".join(data), event_id
            event, event_id, data = "message", None, []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


GIVE_UP_S = 60.0  # how long --wait keeps trying while the API cannot be reached
RETRY_PAUSE_S = 1.0


class Unreachable(Exception):
    """The API stayed away (or kept answering 5xx) for ``GIVE_UP_S``."""


class Patience:
    """Counts how long calls to the API have been failing in a row."""

    def __init__(self) -> None:
        self.failing_since: float | None = None

    def ok(self) -> None:
        self.failing_since = None

    def failed(self, why: str) -> None:
        now = time.monotonic()
        self.failing_since = self.failing_since or now
        if now - self.failing_since > GIVE_UP_S:
            raise Unreachable(why)
        err.print(f"[yellow]{why}; trying again[/yellow]")
        time.sleep(RETRY_PAUSE_S)


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
    # one key for every try: a submit whose answer was lost is not made twice
    headers["Idempotency-Key"] = f"cli-{uuid.uuid4()}"
    body = {"generator": generator, "params": params, "priority": priority}
    with httpx.Client(headers=headers, timeout=httpx.Timeout(30, read=None)) as client:
        try:
            task = submit_once(client, base, body)
            if not wait:
                typer.echo(task["id"])
                return
            err.print(f"task {task['id']} queued")
            task = follow(client, base, task)
        except Unreachable as exc:
            err.print(f"[red]gave up after {GIVE_UP_S:g} s: {exc}[/red]")
            raise typer.Exit(1) from None
    if task["status"] != "succeeded":
        error = task.get("error") or {}
        err.print(f"[red]task {task['status']}: {error.get('code', '')} {error.get('message', '')}[/red]")
        raise typer.Exit(1)
    for output in task["outputs"]:
        typer.echo(output["url"])


def submit_once(client: httpx.Client, base: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST the task, trying again while the API is unreachable or overloaded (same idempotency key)."""
    patience = Patience()
    while True:
        try:
            answer = client.post(f"{base}/tasks/submit", json=body)
        except httpx.TransportError as exc:
            patience.failed(f"API unreachable ({type(exc).__name__})")
            continue
        if answer.status_code >= 500:
            patience.failed(f"API answered {answer.status_code}")
            continue
        if answer.status_code >= 400:
            error = answer.json().get("error", {})
            err.print(f"[red]{answer.status_code} {error.get('code')}: {error.get('message')}[/red]")
            raise typer.Exit(1)
        result: dict[str, Any] = answer.json()
        return result


def follow(client: httpx.Client, base: str, task: dict[str, Any]) -> dict[str, Any]:
    """Show the task's progress from its event stream until it ends.

    A stream that drops before the end (the API restarted, a proxy timed out) is opened
    again with ``Last-Event-ID``, so no log line is lost or shown twice.
    """
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
               TimeElapsedColumn())
    last_id: str | None = None
    patience = Patience()
    with Progress(*columns, console=err) as bar:
        row = bar.add_task(task["status"], total=1.0)
        while task["status"] not in FINISHED:
            resume = {"Last-Event-ID": last_id} if last_id else {}
            heard = False
            try:
                with client.stream("GET", f"{base}/tasks/{task['id']}/events", headers=resume) as stream:
                    if stream.status_code >= 500:
                        patience.failed(f"API answered {stream.status_code}")
                        continue
                    if stream.status_code >= 400:
                        stream.read()
                        error = stream.json().get("error", {})
                        err.print(f"[red]{stream.status_code} {error.get('code')}: {error.get('message')}[/red]")
                        raise typer.Exit(1)
                    for event, data, event_id in sse_events(stream):
                        heard = True
                        patience.ok()
                        last_id = event_id or last_id
                        if event == "log":
                            bar.console.print(json.loads(data)["message"], style="dim")
                        elif event == "task":
                            task = json.loads(data)
                            description = f"{task['status']}: {task['message'] or ''}"[:60]
                            bar.update(row, completed=task["progress"], description=description)
            except httpx.TransportError as exc:
                patience.failed(f"event stream lost ({type(exc).__name__})")
                continue
            if not heard and task["status"] not in FINISHED:
                patience.failed("event stream ended early")
    return task
