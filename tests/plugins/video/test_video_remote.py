"""video.remote against a real local HTTP server streaming like an OpenAI-style video provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from reel_sdk import Cancelled, GeneratorError, InvalidInput, TransientError
from reel_sdk.testing import GeneratorContract, RecordingContext, run_generator
from reel_video.adapters import (
    OpenAIChatAdapter,
    Progress,
    ProviderFailed,
    VideoReady,
    last_percentage,
    video_url,
)
from reel_video.encode import write_mp4
from reel_video.remote import RemoteConfig, RemoteVideo

from tests.plugins.video.provider import FakeProvider

TOKEN = "sk-test-not-a-secret"


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeProvider]:
    path = tmp_path_factory.mktemp("provider") / "video.mp4"
    frames = np.random.default_rng(0).integers(0, 255, size=(6, 32, 48, 3), dtype=np.uint8)
    write_mp4(frames, path, fps=12)
    with FakeProvider(path.read_bytes(), token=TOKEN) as server:
        yield server


@pytest.fixture
def remote_env(provider: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    provider.reset()
    monkeypatch.setenv("REEL_VIDEO_REMOTE_URL", provider.url)
    monkeypatch.setenv("REEL_VIDEO_REMOTE_TOKEN", TOKEN)
    monkeypatch.setenv("REEL_VIDEO_REMOTE_MODEL_PORTRAIT", "veo-portrait")
    monkeypatch.setenv("REEL_VIDEO_REMOTE_MODEL_LANDSCAPE", "veo-landscape")
    monkeypatch.setenv("REEL_VIDEO_REMOTE_TIMEOUT", "10")
    return provider


def run(params: dict[str, Any], tmp_path: Path, **ctx_kwargs: Any) -> tuple[list, RecordingContext]:
    ctx = RecordingContext(tmp_path / "work", **ctx_kwargs)
    return run_generator(RemoteVideo(), params, context=ctx), ctx


class TestRemoteContract(GeneratorContract):
    @pytest.fixture(autouse=True)
    def _env(self, remote_env: FakeProvider) -> None:
        self.provider = remote_env

    def make_generator(self) -> RemoteVideo:
        return RemoteVideo()

    def dummy_params(self) -> dict[str, Any]:
        return {"prompt": "a dog runs in the rain"}

    def check_outputs(self, outputs: list, params: dict[str, Any]) -> None:
        (video,) = outputs
        assert video.media_type == "video/mp4"
        with av.open(str(video.path)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.width, stream.codec_context.height) == (48, 32)
            assert sum(1 for _ in container.decode(stream)) == 6


def test_success__progress_relayed_and_video_fetched_into_workdir(remote_env, tmp_path) -> None:
    (video,), ctx = run({"prompt": "a cat on the beach"}, tmp_path)
    assert video.path.parent == ctx.workdir and video.path.read_bytes() == remote_env.video
    relayed = [round(e.fraction, 3) for e in ctx.events if e.message and e.message.startswith("provider")]
    assert relayed == [0.225, 0.45, 0.675, 0.9]  # 25/50/75/100% of the stream's 90% share
    assert ctx.events[-1].fraction == 1.0
    assert video.metadata["model"] == "veo-portrait" and video.metadata["frames"] == 6
    assert video.metadata["source_host"] == "127.0.0.1" and "source_url" not in video.metadata
    (request,) = remote_env.requests
    assert request["body"] == {
        "model": "veo-portrait",
        "stream": True,
        "messages": [{"role": "user", "content": "a cat on the beach"}],
    }
    assert remote_env.downloads == 1


def test_landscape__uses_the_landscape_model(remote_env, tmp_path) -> None:
    (video,), _ = run({"prompt": "a forest", "orientation": "landscape"}, tmp_path)
    assert remote_env.requests[0]["body"]["model"] == "veo-landscape"
    assert video.metadata["orientation"] == "landscape"


def test_auth__token_from_env_sent_as_bearer(remote_env, tmp_path) -> None:
    run({"prompt": "a cat"}, tmp_path)
    assert remote_env.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_auth__wrong_token_fails_with_provider_message(remote_env, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("REEL_VIDEO_REMOTE_TOKEN", "sk-wrong")
    with pytest.raises(GeneratorError, match="HTTP 401.*Incorrect API key provided") as info:
        run({"prompt": "a cat"}, tmp_path)
    assert not isinstance(info.value, TransientError)


def test_stream_breaks_midway__transient_then_retry_succeeds(remote_env, tmp_path) -> None:
    params = {"prompt": "a cat break-once"}
    with pytest.raises(TransientError, match="stream broke"):
        run(params, tmp_path / "first")
    assert remote_env.downloads == 0
    (video,), _ = run(params, tmp_path / "second")
    assert video.path.read_bytes() == remote_env.video


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("error-event", "content policy violation: prompt rejected"),
        ("error-json", "quota exceeded for this key"),
    ],
)
def test_error_in_stream__generator_error_with_provider_message(
    remote_env, tmp_path, prompt, message
) -> None:
    with pytest.raises(GeneratorError, match=message) as info:
        run({"prompt": prompt}, tmp_path)
    assert not info.value.retryable


def test_http_400__invalid_input_with_provider_message(remote_env, tmp_path) -> None:
    with pytest.raises(InvalidInput, match="prompt too long for model"):
        run({"prompt": "bad-request"}, tmp_path)


def test_http_503__transient(remote_env, tmp_path) -> None:
    with pytest.raises(TransientError, match="model overloaded"):
        run({"prompt": "overloaded"}, tmp_path)


def test_finished_without_url__generator_error(remote_env, tmp_path) -> None:
    with pytest.raises(GeneratorError, match="without a video URL") as info:
        run({"prompt": "no-url"}, tmp_path)
    assert not info.value.retryable


def test_cancellation_mid_stream__stops_and_closes_the_stream(remote_env, tmp_path) -> None:
    with pytest.raises(Cancelled):
        run({"prompt": "slow"}, tmp_path, cancel_at_progress=5)
    assert remote_env.client_gone.wait(5), "the provider kept streaming to a closed client"
    assert remote_env.downloads == 0


def test_unreachable_provider__transient(remote_env, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("REEL_VIDEO_REMOTE_URL", "http://127.0.0.1:9")
    with pytest.raises(TransientError):
        run({"prompt": "a cat"}, tmp_path)


def test_config__missing_variables_named_and_token_never_shown(monkeypatch) -> None:
    for name in ("URL", "TOKEN", "MODEL_PORTRAIT", "MODEL_LANDSCAPE"):
        monkeypatch.delenv(f"REEL_VIDEO_REMOTE_{name}", raising=False)
    with pytest.raises(GeneratorError, match="REEL_VIDEO_REMOTE_URL, REEL_VIDEO_REMOTE_MODEL_PORTRAIT"):
        RemoteVideo().load("remote", "cpu")
    config = RemoteConfig("http://x", "p", "l", token="sk-secret")
    assert "sk-secret" not in repr(config)


def test_params__prompt_and_orientation_only() -> None:
    schema = RemoteVideo.params_schema()
    assert set(schema["properties"]) == {"prompt", "orientation"}
    assert schema["properties"]["orientation"]["default"] == "portrait"
    with pytest.raises(InvalidInput, match="url"):
        RemoteVideo().parse_params({"prompt": "x", "url": "http://evil"})


def test_openai_adapter__parses_sse_progress_url_and_errors() -> None:
    adapter = OpenAIChatAdapter()
    lines = [
        ": comment",
        "",
        'data: {"choices": [{"delta": {"content": "Progress: 4"}}]}',
        'data: {"choices": [{"delta": {"content": "2%"}}]}',
        'data: {"choices": [{"delta": {"content": " Here: <video src=\'https://cdn.example/v/1.mp4?sig=a%2Fb\'>"}}]}',
        "data: [DONE]",
    ]
    events = [e for line in lines for e in adapter.feed(line)]
    assert events[0] == Progress(0.42, "provider 42%")
    assert adapter.finish() == [VideoReady("https://cdn.example/v/1.mp4?sig=a%2Fb")]
    assert OpenAIChatAdapter().feed('data: {"error": {"message": "nope"}}') == [ProviderFailed("nope")]
    assert last_percentage("step 3, 17.5 % done") == 0.175
    assert video_url("see https://x.test/page and https://x.test/out.webm.") == "https://x.test/out.webm"


# -- the download link is the provider's free text: SSRF-guarded (reel_sdk.net) --------------


def test_download_link_on_another_host__private_address_refused(remote_env, tmp_path) -> None:
    port = remote_env.url.rsplit(":", 1)[1]
    remote_env.video_link = f"http://localhost:{port}/files/video.mp4"  # another origin, a loopback address
    with pytest.raises(GeneratorError, match="refused.*loopback"):
        run({"prompt": "a cat"}, tmp_path)
    assert remote_env.downloads == 0


def test_download_redirect_hop__to_a_private_host_refused(remote_env, tmp_path) -> None:
    port = remote_env.url.rsplit(":", 1)[1]
    remote_env.video_link = f"{remote_env.url}/redirect"  # the provider's own origin: trusted...
    remote_env.redirect_to = f"http://localhost:{port}/files/video.mp4"  # ...but its redirect hop is not
    with pytest.raises(GeneratorError, match="refused"):
        run({"prompt": "a cat"}, tmp_path)
    assert remote_env.downloads == 0


def test_download_redirect_within_the_provider__followed(remote_env, tmp_path) -> None:
    remote_env.video_link = f"{remote_env.url}/redirect"
    remote_env.redirect_to = "/files/video.mp4"
    (video,), _ = run({"prompt": "a cat"}, tmp_path)
    assert video.path.read_bytes() == remote_env.video


def test_download_over_max_bytes__refused(remote_env, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("REEL_VIDEO_REMOTE_MAX_BYTES", "100")
    with pytest.raises(GeneratorError, match="MAX_BYTES"):
        run({"prompt": "a cat"}, tmp_path)


def test_download_private_allowed_when_configured(remote_env, monkeypatch, tmp_path) -> None:
    port = remote_env.url.rsplit(":", 1)[1]
    remote_env.video_link = f"http://localhost:{port}/files/video.mp4"
    monkeypatch.setenv("REEL_VIDEO_REMOTE_ALLOW_PRIVATE", "true")
    (video,), _ = run({"prompt": "a cat"}, tmp_path)
    assert video.metadata["source_host"] == "localhost"
