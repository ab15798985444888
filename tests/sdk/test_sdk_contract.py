"""The SDK's fixed surface and its testing kit, as a plugin author uses them."""

from __future__ import annotations

import subprocess
import sys

import pytest
import reel_sdk
from pydantic import BaseModel, ConfigDict, Field
from reel_sdk import Cancelled, Generator, InvalidInput, OutOfMemory, Output, Requirements, RunContext, TransientError
from reel_sdk.models import check_model_allowed, require_model_allowed
from reel_sdk.testing import GeneratorContract, RecordingContext, run_generator


class ShoutParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=500)


class Shout(Generator):
    name = "text.shout"
    kind = "text"
    Params = ShoutParams
    requirements = Requirements(gpu=False)

    def load(self, model_key: str, device: str):
        return str.upper

    def generate(self, model, params: ShoutParams, ctx: RunContext) -> list[Output]:
        ctx.progress(0.5, "shouting")
        path = ctx.workdir / "shout.txt"
        path.write_text(model(params.text))
        ctx.progress(1.0)
        return [Output(path=path, media_type="text/plain")]


class TestShout(GeneratorContract):
    def make_generator(self) -> Generator:
        return Shout()

    def dummy_params(self) -> dict:
        return {"text": "hi"}

    def check_outputs(self, outputs, params) -> None:
        assert outputs[0].path.read_text() == "HI"


def test_public_names__are_exported():
    for name in ["hookimpl", "Generator", "Output", "RunContext", "Requirements", "GeneratorError",
                 "InvalidInput", "TransientError", "OutOfMemory", "Cancelled"]:
        assert name in reel_sdk.__all__
    assert reel_sdk.ENTRY_POINT_GROUP == "reel.plugins"
    assert issubclass(OutOfMemory, TransientError)


def test_sdk_import__does_not_import_torch():
    code = "import reel_sdk, reel_sdk.testing, reel_sdk.torch_support, sys; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_run_generator__returns_outputs(tmp_path):
    outputs = run_generator(Shout(), {"text": "hey"}, workdir=tmp_path)
    assert outputs[0].path.read_text() == "HEY"
    assert outputs[0].name == "shout.txt"


def test_parse_params__names_the_field_and_value():
    with pytest.raises(InvalidInput) as err:
        Shout().parse_params({"text": ""})
    assert "params.text" in str(err.value)
    assert err.value.details[0]["field"] == "text"


def test_progress__raises_cancelled_once_cancelled(tmp_path):
    ctx = RecordingContext(tmp_path)
    ctx.progress(0.1)
    ctx.cancel()
    assert ctx.cancelled
    with pytest.raises(Cancelled):
        ctx.progress(0.2)
    with pytest.raises(Cancelled):
        ctx.check_cancelled()


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "half"])
def test_progress__refuses_fractions_outside_0_1(tmp_path, bad):
    with pytest.raises(ValueError, match="progress fraction"):
        RecordingContext(tmp_path).progress(bad)


def test_steps__reports_each_step(tmp_path):
    ctx = RecordingContext(tmp_path)
    on_step = ctx.steps(4, start=0.0, end=0.8)
    for i in range(4):
        on_step(i)
    assert [round(e.fraction, 2) for e in ctx.events] == [0.2, 0.4, 0.6, 0.8]
    assert ctx.events[-1].message == "step 4/4"


def test_requirements__validated():
    assert Requirements().to_dict() == {"gpu": False, "min_vram_gb": 0, "time_limit_s": None}
    with pytest.raises(ValueError):
        Requirements(min_vram_gb=-1)


def test_check_definition__refuses_bad_names():
    class Bad(Shout):
        name = "Shout"

    with pytest.raises(TypeError, match="dotted"):
        Bad.check_definition()


def test_allowed_models__defaults_globs_and_directories(monkeypatch, tmp_path):
    monkeypatch.delenv("REEL_ALLOWED_MODELS", raising=False)
    assert check_model_allowed("org/a", ["org/a"]) == "org/a"
    with pytest.raises(ValueError, match="allowed: org/a"):
        check_model_allowed("org/b", ["org/a"])
    monkeypatch.setenv("REEL_ALLOWED_MODELS", f"stabilityai/*,{tmp_path}")
    assert check_model_allowed("stabilityai/sdxl", ["org/a"])
    assert check_model_allowed(str(tmp_path / "tiny"), [])
    with pytest.raises(InvalidInput):
        require_model_allowed("/etc/passwd", [])
