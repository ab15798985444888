"""video.diffusers with tiny random-weight Wan, LTX-Video and CogVideoX pipelines."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image
from reel_sdk import InvalidInput
from reel_sdk.testing import GeneratorContract, RecordingContext, run_generator
from reel_video.diffusers_video import DiffusersVideo
from reel_video.families import DEFAULT_MODELS, LTX, WAN

PROMPT = "a red cat walks on the beach at sunset"


def probe(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = sum(1 for _ in container.decode(stream))
        return {
            "frames": decoded,
            "fps": float(stream.average_rate),
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
        }


class _TinyFamilyContract(GeneratorContract):
    family = "wan"
    size = (48, 32)  # width, height

    @pytest.fixture(autouse=True)
    def _tiny(self, allow_tiny: dict[str, Path]) -> None:
        self.model = str(allow_tiny[self.family])

    def make_generator(self) -> DiffusersVideo:
        return DiffusersVideo()

    def dummy_params(self) -> dict[str, Any]:
        width, height = self.size
        return {
            "prompt": PROMPT,
            "model": self.model,
            "width": width,
            "height": height,
            "num_frames": 9,
            "fps": 8,
            "steps": 2,
            "seed": 0,
        }

    def check_outputs(self, outputs: list, params: dict[str, Any]) -> None:
        video, poster = outputs
        assert (video.media_type, poster.media_type) == ("video/mp4", "image/png")
        facts = probe(video.path)
        assert facts == {
            "frames": 9,
            "fps": 8.0,
            "width": params["width"],
            "height": params["height"],
            "codec": "h264",
            "pix_fmt": "yuv420p",
        }
        meta = video.metadata
        assert (meta["frames"], meta["fps"], meta["width"], meta["height"]) == (9, 8, *self.size)
        assert (meta["seed"], meta["model"], meta["family"]) == (0, self.model, self.family)
        with Image.open(poster.path) as img:
            img.load()
            assert img.size == self.size


class TestWanContract(_TinyFamilyContract):
    family = "wan"
    size = (48, 32)


class TestLtxContract(_TinyFamilyContract):
    family = "ltx"
    size = (64, 32)


class TestCogVideoXContract(_TinyFamilyContract):
    family = "cogvideox"
    size = (48, 32)


@pytest.mark.parametrize("family", ["wan", "ltx"])
def test_orientation__portrait_is_taller_and_landscape_wider(allow_tiny, family, tmp_path) -> None:
    gen = DiffusersVideo()
    sizes = {}
    for orientation in ("portrait", "landscape"):
        params = {
            "prompt": PROMPT,
            "model": str(allow_tiny[family]),
            "orientation": orientation,
            "num_frames": 1,
            "steps": 1,
            "seed": 1,
        }
        video, _ = run_generator(gen, params, workdir=tmp_path / orientation)
        facts = probe(video.path)
        sizes[orientation] = (facts["width"], facts["height"])
        assert video.metadata["orientation"] == orientation
    native = {"wan": WAN, "ltx": LTX}[family]
    assert sizes["landscape"] == native.landscape
    assert sizes["portrait"] == native.landscape[::-1]


def test_progress__reports_each_step_then_encoding(allow_tiny, tmp_path) -> None:
    ctx = RecordingContext(tmp_path)
    params = {
        "prompt": PROMPT,
        "model": str(allow_tiny["wan"]),
        "width": 32,
        "height": 32,
        "num_frames": 5,
        "steps": 3,
        "seed": 0,
    }
    run_generator(DiffusersVideo(), params, context=ctx)
    messages = [e.message for e in ctx.events]
    assert [m for m in messages if m and m.startswith("denoising")] == [
        "denoising step 1/3",
        "denoising step 2/3",
        "denoising step 3/3",
    ]
    assert ctx.events[-2].message == "encoding MP4" and ctx.events[-1].fraction == 1.0


def test_same_seed__same_video(allow_tiny, tmp_path) -> None:
    params = {
        "prompt": PROMPT,
        "model": str(allow_tiny["ltx"]),
        "width": 32,
        "height": 32,
        "num_frames": 9,
        "steps": 2,
        "seed": 7,
    }
    first, _ = run_generator(DiffusersVideo(), params, workdir=tmp_path / "a")
    second, _ = run_generator(DiffusersVideo(), params, workdir=tmp_path / "b")
    assert first.path.read_bytes() == second.path.read_bytes()


@pytest.mark.parametrize(
    ("family", "value", "rule"), [("wan", 80, "4k+1"), ("ltx", 10, "8k+1"), ("cogvideox", 13, "8k+1")]
)
def test_bad_frame_count__refused_naming_field_value_and_rule(allow_tiny, family, value, rule) -> None:
    with pytest.raises(InvalidInput) as info:
        DiffusersVideo().parse_params(
            {"prompt": PROMPT, "model": str(allow_tiny[family]), "num_frames": value}
        )
    assert "num_frames" in str(info.value) and str(value) in str(info.value) and rule in str(info.value)
    assert info.value.details[0]["field"] == "num_frames"
    assert info.value.details[0]["value"] == value


def test_bad_frame_count__known_hub_id_refused_before_loading(monkeypatch) -> None:
    monkeypatch.delenv("REEL_ALLOWED_MODELS", raising=False)
    with pytest.raises(InvalidInput, match=r"num_frames must be 8k\+1 for LTX-Video .* got 120"):
        DiffusersVideo().parse_params({"prompt": PROMPT, "model": "Lightricks/LTX-Video", "num_frames": 120})


def test_size_not_a_multiple__refused_naming_field_and_value(allow_tiny) -> None:
    with pytest.raises(InvalidInput) as info:
        DiffusersVideo().parse_params({"prompt": PROMPT, "model": str(allow_tiny["ltx"]), "width": 48})
    assert "width must be a multiple of 32 for LTX-Video, got 48" in str(info.value)


def test_disallowed_model__invalid_input_naming_the_allowed_set(monkeypatch) -> None:
    monkeypatch.delenv("REEL_ALLOWED_MODELS", raising=False)
    with pytest.raises(InvalidInput) as info:
        DiffusersVideo().parse_params({"prompt": PROMPT, "model": "someone/other-video-model"})
    message = str(info.value)
    assert "someone/other-video-model" in message
    assert all(model in message for model in DEFAULT_MODELS)


def test_defaults__wan_portrait_with_default_models_allowed(monkeypatch) -> None:
    monkeypatch.delenv("REEL_ALLOWED_MODELS", raising=False)
    params = DiffusersVideo().parse_params({"prompt": PROMPT})
    assert (params.model, params.orientation) == ("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "portrait")
    assert DiffusersVideo().model_key(params) == params.model
    for model in DEFAULT_MODELS:
        DiffusersVideo().parse_params({"prompt": PROMPT, "model": model})


def test_params_schema__every_field_titled_described_and_defaulted() -> None:
    schema = DiffusersVideo.params_schema()
    assert schema["additionalProperties"] is False
    for name, prop in schema["properties"].items():
        assert prop.get("title") and prop.get("description"), name
        assert name == "prompt" or "default" in prop, name
    assert schema["required"] == ["prompt"]


def test_plugin__registered_by_entry_point_and_imports_without_torch() -> None:
    (ep,) = [ep for ep in entry_points(group="reel.plugins") if ep.value == "reel_video.plugin"]
    code = (
        "import json, sys; import reel_video.plugin as p; "
        "print(json.dumps([[g.name for g in p.reel_generators()], "
        "[m for m in ('torch', 'diffusers', 'transformers', 'av', 'httpx') if m in sys.modules]]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    names, heavy = json.loads(out)
    assert names == ["video.diffusers", "video.remote"] and heavy == []
    assert ep.load().reel_generators is not None
