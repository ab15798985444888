"""Adapters for the stream formats of remote video providers.

An adapter builds the request for one prompt and turns the response's lines into
events; ``video.remote`` does the HTTP, the progress reports and the download.
Add a format by subclassing :class:`StreamAdapter` and calling :func:`register_adapter`::

    class MyAdapter(StreamAdapter):
        name = "my-provider"
        def request(self, config, prompt, model): ...
        def feed(self, line): ...

    register_adapter(MyAdapter)

The built-in ``openai-chat`` adapter speaks OpenAI-style streaming chat completions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from reel_video.remote import RemoteConfig


# -- events an adapter emits ------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    """The provider reports ``fraction`` (0..1) of its work done."""

    fraction: float
    message: str | None = None


@dataclass(frozen=True)
class VideoReady:
    """The provider's finished video is at ``url``."""

    url: str


@dataclass(frozen=True)
class ProviderFailed:
    """The provider reported an error in the stream."""

    message: str


@dataclass(frozen=True)
class Done:
    """The stream says it is complete."""


Event = Progress | VideoReady | ProviderFailed | Done


@dataclass
class RequestSpec:
    """One HTTP request to make."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None


class StreamAdapter:
    """Speaks one provider's stream format; one instance serves one run (it may keep state)."""

    name: ClassVar[str]

    def request(self, config: RemoteConfig, prompt: str, model: str) -> RequestSpec:
        """The request that starts a generation of ``prompt`` with the provider's ``model``."""
        raise NotImplementedError

    def feed(self, line: str) -> list[Event]:
        """Events found in one line of the response body (without its line ending)."""
        raise NotImplementedError

    def finish(self) -> list[Event]:
        """Events that only the whole stream reveals (called once the stream ends)."""
        return []


ADAPTERS: dict[str, type[StreamAdapter]] = {}


def register_adapter(cls: type[StreamAdapter]) -> type[StreamAdapter]:
    """Make ``cls`` selectable by its ``name`` (``REEL_VIDEO_REMOTE_ADAPTER``); usable as a decorator."""
    ADAPTERS[cls.name] = cls
    return cls


def get_adapter(name: str) -> type[StreamAdapter]:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise KeyError(
            f"unknown remote video adapter {name!r}; known: {', '.join(sorted(ADAPTERS))}"
        ) from None


# -- text helpers -----------------------------------------------------------------
PERCENT = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d+)?)\s*%")
URL = re.compile(r"https?://[^\s<>\"'`()\[\]{}]+")
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".m4v")


def last_percentage(text: str) -> float | None:
    """The last ``NN%`` in ``text`` as a fraction, or None."""
    values = [float(m) for m in PERCENT.findall(text) if float(m) <= 100]
    return values[-1] / 100 if values else None


def video_url(text: str) -> str | None:
    """The video URL in ``text``: the last one naming a video file, else the last URL."""
    urls = [u.rstrip(".,;:!?") for u in URL.findall(text)]
    videos = [u for u in urls if any(ext in u.lower() for ext in VIDEO_EXTENSIONS)]
    return (videos or urls or [None])[-1]


def error_message(payload: Any) -> str | None:
    """The message of an ``{"error": ...}`` payload (OpenAI shape or a bare string), else None."""
    if not isinstance(payload, dict) or not payload.get("error"):
        return None
    err = payload["error"]
    if isinstance(err, dict):
        return str(err.get("message") or err.get("msg") or json.dumps(err))
    return str(err)


@register_adapter
class OpenAIChatAdapter(StreamAdapter):
    """OpenAI-style streaming chat completions.

    POST ``{base}/v1/chat/completions`` with ``{"model", "messages", "stream": true}``;
    the answer is Server-Sent Events of JSON chunks whose ``choices[0].delta.content``
    carries progress ("Progress: 42%") and finally the video URL, then ``data: [DONE]``.
    """

    name = "openai-chat"

    def __init__(self) -> None:
        self.content = ""
        self._tail = ""  # recent text, so a percentage split across chunks is still seen
        self._event: str | None = None
        self._last = 0.0

    def request(self, config: RemoteConfig, prompt: str, model: str) -> RequestSpec:
        base = config.base_url.rstrip("/")
        url = f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"
        headers = {"Accept": "text/event-stream"}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        body = {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": True}
        return RequestSpec("POST", url, headers=headers, json=body)

    def feed(self, line: str) -> list[Event]:
        line = line.strip()
        if not line:
            self._event = None  # a blank line ends one SSE event
            return []
        if line.startswith(":"):
            return []
        if line.startswith("event:"):
            self._event = line[6:].strip()
            return []
        data = line[5:].strip() if line.startswith("data:") else line
        if data == "[DONE]":
            return [Done()]
        try:
            chunk = json.loads(data)
        except ValueError:
            return [ProviderFailed(data)] if self._event == "error" else []
        message = error_message(chunk)
        if message or self._event == "error":
            return [ProviderFailed(message or data)]
        return self._chunk_events(chunk)

    def _chunk_events(self, chunk: Any) -> list[Event]:
        text = ""
        choices = (chunk.get("choices") if isinstance(chunk, dict) else None) or []
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta") or choice.get("message") or {}
            for key in ("reasoning_content", "content"):
                part = delta.get(key)
                if isinstance(part, list):  # content parts
                    part = "".join(p.get("text", "") for p in part if isinstance(p, dict))
                if isinstance(part, str):
                    text += part
                    if key == "content":
                        self.content += part
        if not text:
            return []
        self._tail = (self._tail + text)[-200:]
        fraction = last_percentage(self._tail)
        if fraction is not None and fraction > self._last:
            self._last = fraction
            return [Progress(fraction, f"provider {fraction:.0%}")]
        return []

    def finish(self) -> list[Event]:
        url = video_url(self.content)
        return [VideoReady(url)] if url else []
