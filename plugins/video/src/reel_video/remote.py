"""``video.remote``: drive an external streaming video-generation API and keep its video.

Configuration is the worker's, read from the environment when the generator loads
(never from a request):

    REEL_VIDEO_REMOTE_URL               provider base URL (required)
    REEL_VIDEO_REMOTE_TOKEN             bearer token (optional)
    REEL_VIDEO_REMOTE_MODEL_PORTRAIT    provider model name for portrait videos (required)
    REEL_VIDEO_REMOTE_MODEL_LANDSCAPE   provider model name for landscape videos (required)
    REEL_VIDEO_REMOTE_ADAPTER           stream format, default ``openai-chat``
    REEL_VIDEO_REMOTE_TIMEOUT           seconds to wait for the next chunk, default 300
    REEL_VIDEO_REMOTE_MAX_BYTES         largest video downloaded, default 4 GiB
    REEL_VIDEO_REMOTE_DOWNLOAD_TIMEOUT  seconds a whole download may take, default 1800
    REEL_VIDEO_REMOTE_ALLOW_PRIVATE     let download links point at private addresses, default false

The video link comes from the provider's free text, so it is fetched through the SDK's
SSRF guard (``reel_sdk.net``): a link (or any redirect hop) on another host than the
configured provider must resolve to a public address, and the connection goes to the
address that was checked. Links on the provider's own origin are trusted like the
provider. The link is not echoed to clients (it often carries a token): outputs say only
which host served the video (``source_host``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field
from reel_sdk import (
    Generator,
    GeneratorError,
    InvalidInput,
    Output,
    Requirements,
    RunContext,
    TransientError,
)

from reel_video.families import Orientation

ENV_PREFIX = "REEL_VIDEO_REMOTE_"
STREAM_SHARE = 0.9  # provider progress fills 0..0.9, the download the rest
CHUNK = 1 << 16
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class RemoteConfig:
    """Where and how to reach the provider (the token is kept out of ``repr``)."""

    base_url: str
    model_portrait: str
    model_landscape: str
    token: str = field(default="", repr=False)
    adapter: str = "openai-chat"
    read_timeout_s: float = 300.0
    connect_timeout_s: float = 15.0
    max_bytes: int = 4 * 1024**3
    download_timeout_s: float = 1800.0
    allow_private_downloads: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RemoteConfig:
        """Read ``REEL_VIDEO_REMOTE_*``.

        Raises:
            GeneratorError: a required variable is missing or a value is malformed.
        """
        env = os.environ if env is None else env

        def get(name: str) -> str:
            return env.get(ENV_PREFIX + name, "").strip()

        missing = [ENV_PREFIX + n for n in ("URL", "MODEL_PORTRAIT", "MODEL_LANDSCAPE") if not get(n)]
        if missing:
            raise GeneratorError(f"video.remote is not configured on this worker: set {', '.join(missing)}")
        url = get("URL")
        if urlsplit(url).scheme not in ("http", "https"):
            raise GeneratorError(f"{ENV_PREFIX}URL must be an http(s) URL, got {url!r}")
        try:
            timeout = float(get("TIMEOUT") or 300)
            download_timeout = float(get("DOWNLOAD_TIMEOUT") or 1800)
            max_bytes = int(get("MAX_BYTES") or 4 * 1024**3)
        except ValueError:
            raise GeneratorError(f"{ENV_PREFIX}TIMEOUT, DOWNLOAD_TIMEOUT and MAX_BYTES must be numbers") from None
        return cls(
            base_url=url,
            model_portrait=get("MODEL_PORTRAIT"),
            model_landscape=get("MODEL_LANDSCAPE"),
            token=get("TOKEN"),
            adapter=get("ADAPTER") or "openai-chat",
            read_timeout_s=timeout,
            max_bytes=max_bytes,
            download_timeout_s=download_timeout,
            allow_private_downloads=get("ALLOW_PRIVATE").lower() in ("1", "true", "yes"),
        )

    def model_for(self, orientation: Orientation) -> str:
        return self.model_portrait if orientation == "portrait" else self.model_landscape


class RemoteVideoParams(BaseModel):
    """Parameters of ``video.remote``."""

    model_config = ConfigDict(extra="forbid", title="Text to video (remote provider)")

    prompt: str = Field(title="Prompt", description="What the video shows.", min_length=1, max_length=4000)
    orientation: Orientation = Field(
        "portrait",
        title="Orientation",
        description="portrait or landscape; picks the provider model configured for it.",
    )


@dataclass
class RemoteSession:
    """What ``load`` returns: the configuration and a pooled HTTP client."""

    config: RemoteConfig
    client: Any  # httpx.Client for the provider (operator-configured: its own origin is trusted)
    downloads: Any = None  # httpx.Client for links on other hosts: public addresses only (reel_sdk.net)


class RemoteVideo(Generator):
    """Text-to-video through an external streaming API; the video is downloaded and kept."""

    name = "video.remote"
    kind = "video"
    Params = RemoteVideoParams
    requirements = Requirements(gpu=False)
    title = "Text to video (remote provider)"
    description = (
        "Sends the prompt to the video provider this deployment configured, relays its streamed "
        "progress and stores the finished MP4."
    )

    def model_key(self, params: RemoteVideoParams) -> str:
        return "remote"

    def load(self, model_key: str, device: str) -> RemoteSession:
        import httpx
        from reel_sdk.net import guarded_client

        from reel_video.adapters import get_adapter

        config = RemoteConfig.from_env()
        try:
            get_adapter(config.adapter)
        except KeyError as exc:
            raise GeneratorError(str(exc.args[0])) from None
        timeout = httpx.Timeout(config.read_timeout_s, connect=config.connect_timeout_s)
        return RemoteSession(
            config=config,
            # the provider is the operator's choice: a plain client (environment proxies honoured)
            client=httpx.Client(timeout=timeout, follow_redirects=True),
            downloads=guarded_client(allow_private=config.allow_private_downloads, timeout=timeout),
        )

    def unload(self, model: RemoteSession) -> None:
        model.client.close()
        if model.downloads is not None:
            model.downloads.close()

    def generate(self, model: RemoteSession, params: RemoteVideoParams, ctx: RunContext) -> list[Output]:
        import httpx

        from reel_video.adapters import Done, Progress, ProviderFailed, VideoReady, get_adapter

        config = model.config
        provider_model = config.model_for(params.orientation)
        adapter = get_adapter(config.adapter)()
        spec = adapter.request(config, params.prompt, provider_model)

        # 1. Stream the generation, relaying progress and checking cancellation per line.
        ctx.progress(0.0, f"asking {provider_model}")
        done = False
        url: str | None = None
        try:
            with model.client.stream(spec.method, spec.url, headers=spec.headers, json=spec.json) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise http_error("generation request", resp)
                for line in resp.iter_lines():
                    ctx.check_cancelled()
                    for event in adapter.feed(line):
                        if isinstance(event, Progress):
                            ctx.progress(min(event.fraction, 1.0) * STREAM_SHARE, event.message)
                        elif isinstance(event, ProviderFailed):
                            raise GeneratorError(f"video provider error: {event.message}"[:1000])
                        elif isinstance(event, VideoReady):
                            url = event.url
                        elif isinstance(event, Done):
                            done = True
                    if done:
                        break
        except httpx.TimeoutException as exc:
            raise TransientError(f"video provider timed out: {exc!r}") from exc
        except httpx.TransportError as exc:  # connect failures and streams broken midway
            raise TransientError(f"video provider stream broke: {exc!r}") from exc
        for event in adapter.finish():
            if isinstance(event, VideoReady):
                url = event.url
        if url is None:
            if not done:
                raise TransientError("video provider stream ended before it finished")
            raise GeneratorError("video provider finished without a video URL")

        # 2. Download the video into the workdir, so the result outlives the provider's URL.
        ctx.progress(STREAM_SHARE, "downloading video")
        path = ctx.workdir / "video.mp4"
        url = download(model, url, spec, path, ctx)

        # 3. Check that what came back is a video, and describe it.
        from reel_video.encode import probe_video

        try:
            facts = probe_video(path)
        except Exception as exc:
            raise GeneratorError(
                f"the provider's file from {urlsplit(url).hostname} is not a readable video: {exc}") from exc
        ctx.progress(1.0, "done")
        meta = {**facts, "model": provider_model, "orientation": params.orientation,
                "source_host": urlsplit(url).hostname}
        return [Output(path=path, media_type="video/mp4", name="video.mp4", metadata=meta)]


def download(model: RemoteSession, url: str, spec: Any, path: Any, ctx: RunContext) -> str:
    """Fetch ``url`` into ``path`` within the size and time bounds, following at most
    ``MAX_REDIRECTS`` redirects, each hop guarded; returns the URL that served the file."""
    import httpx
    from reel_sdk.net import AddressRefused, safe_url

    config = model.config
    deadline = time.monotonic() + config.download_timeout_s
    try:
        for _ in range(MAX_REDIRECTS + 1):
            if urlsplit(url).scheme not in ("http", "https"):
                raise GeneratorError(f"the provider's video link is not http(s): {safe_url(url)!r}")
            trusted = _same_origin(url, spec.url)  # the provider's own origin: trusted like the provider
            client = model.client if trusted or model.downloads is None else model.downloads
            headers = {"Authorization": spec.headers["Authorization"]} \
                if trusted and "Authorization" in spec.headers else {}
            with client.stream("GET", url, headers=headers, follow_redirects=False) as resp:  # hops: below
                if resp.is_redirect and resp.headers.get("location"):
                    url = str(resp.url.join(resp.headers["location"]))
                    continue
                if resp.status_code >= 400:
                    resp.read()
                    raise http_error("video download", resp)
                total = int(resp.headers.get("content-length") or 0)
                if total > config.max_bytes:
                    raise GeneratorError(f"the provider's video is {total} bytes, over "
                                         f"{ENV_PREFIX}MAX_BYTES ({config.max_bytes})")
                got = 0
                with path.open("wb") as fh:
                    for chunk in resp.iter_bytes(CHUNK):
                        fh.write(chunk)
                        got += len(chunk)
                        if got > config.max_bytes:
                            raise GeneratorError(f"the provider's video is over {ENV_PREFIX}MAX_BYTES "
                                                 f"({config.max_bytes} bytes)")
                        if time.monotonic() > deadline:
                            raise TransientError(f"video download took over {ENV_PREFIX}DOWNLOAD_TIMEOUT "
                                                 f"({config.download_timeout_s:g} s)")
                        if total:
                            ctx.progress(STREAM_SHARE + (1 - STREAM_SHARE) * min(got / total, 1.0) * 0.99)
                        else:
                            ctx.check_cancelled()
                return url
        raise GeneratorError(f"the provider's video link redirected more than {MAX_REDIRECTS} times")
    except AddressRefused as exc:
        raise GeneratorError(f"the provider's video link is refused: {exc} "
                             f"(set {ENV_PREFIX}ALLOW_PRIVATE=true to allow private hosts)") from None
    except httpx.TimeoutException as exc:
        raise TransientError(f"video download timed out: {exc!r}") from exc
    except httpx.TransportError as exc:
        raise TransientError(f"video download broke: {exc!r}") from exc


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.netloc) == (pb.scheme, pb.netloc)


def provider_message(resp: Any) -> str:
    """The provider's own words from an error response."""
    try:
        body = resp.json()
    except (ValueError, json.JSONDecodeError):
        return resp.text.strip()[:500] or resp.reason_phrase
    from reel_video.adapters import error_message

    if isinstance(body, dict):
        return error_message(body) or str(body.get("detail") or body.get("message") or body)[:500]
    return str(body)[:500]


def http_error(what: str, resp: Any) -> GeneratorError:
    """Classify an HTTP error answer: 400/422 bad input, 408/429/5xx transient, other 4xx fatal."""
    status = resp.status_code
    msg = f"video provider refused the {what} (HTTP {status}): {provider_message(resp)}"
    if status in (400, 422):
        return InvalidInput(msg)
    if status in (408, 425, 429) or status >= 500:
        return TransientError(msg)
    if status in (401, 403):
        msg += f" (check {ENV_PREFIX}TOKEN)"
    return GeneratorError(msg)
