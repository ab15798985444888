from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from reel_image.generator import DiffusersImage
from reel_sdk import InvalidInput
from reel_sdk.testing import GeneratorContract, RecordingContext, run_generator


def small(model: Path, **extra: object) -> dict[str, object]:
    return {
        "prompt": "a red cat",
        "model": str(model),
        "width": 64,
        "height": 64,
        "steps": 2,
        "seed": 7,
        **extra,
    }


class TestDiffusersImageContract(GeneratorContract):
    @pytest.fixture(autouse=True)
    def _model(self, tiny_sd: Path) -> None:
        self.model_dir = tiny_sd

    def make_generator(self) -> DiffusersImage:
        return DiffusersImage()

    def dummy_params(self) -> dict[str, object]:
        return small(self.model_dir)

    def check_outputs(self, outputs, params) -> None:  # type: ignore[no-untyped-def]
        with Image.open(outputs[0].path) as image:
            assert image.format == "PNG"
            assert image.size == (params["width"], params["height"])


@pytest.mark.parametrize("family", ["tiny_sd", "tiny_sdxl", "tiny_flux"])
def test_generate__each_pipeline_family_makes_a_png_of_the_requested_size(
    family: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    model = request.getfixturevalue(family)
    ctx = RecordingContext(tmp_path)

    outputs = run_generator(DiffusersImage(), small(model, width=80, height=64), context=ctx)

    assert len(outputs) == 1
    with Image.open(outputs[0].path) as image:
        image.load()
        assert image.size == (80, 64)
        assert json.loads(image.text["reel"])["seed"] == 7
    assert outputs[0].media_type == "image/png"
    assert [e.message for e in ctx.events if e.message and e.message.startswith("step")] == [
        "step 1/2",
        "step 2/2",
    ]
    assert ctx.events[-1].fraction == 1.0


def test_generate__metadata_carries_the_generation_parameters(tiny_sd: Path) -> None:
    outputs = run_generator(DiffusersImage(), small(tiny_sd, num_images=2, negative_prompt="blurry"))

    assert [o.metadata["seed"] for o in outputs] == [7, 8]
    meta = outputs[0].metadata
    assert meta["model"] == str(tiny_sd)
    assert (meta["width"], meta["height"], meta["steps"]) == (64, 64, 2)
    assert meta["pipeline"] == "StableDiffusionPipeline"
    assert meta["negative_prompt"] == "blurry"
    assert meta["guidance"] == 7.5


def test_generate__same_seed_gives_same_image(tiny_sd: Path) -> None:
    first = run_generator(DiffusersImage(), small(tiny_sd))[0].path.read_bytes()
    again = run_generator(DiffusersImage(), small(tiny_sd))[0].path.read_bytes()
    assert first == again


def test_generate__webp_format_and_a_chosen_scheduler(tiny_sdxl: Path) -> None:
    outputs = run_generator(DiffusersImage(), small(tiny_sdxl, format="webp", scheduler="dpm++_2m_karras"))

    assert outputs[0].media_type == "image/webp"
    assert outputs[0].metadata["scheduler"] == "DPMSolverMultistepScheduler"
    with Image.open(outputs[0].path) as image:
        assert (image.format, image.size) == ("WEBP", (64, 64))


def test_generate__flux_refuses_a_size_that_is_not_a_multiple_of_16(tiny_flux: Path) -> None:
    with pytest.raises(InvalidInput, match=r"height must be a multiple of 16 for FluxPipeline, got 72"):
        run_generator(DiffusersImage(), small(tiny_flux, height=72))


def test_generate__flux_refuses_a_non_flow_matching_scheduler(tiny_flux: Path) -> None:
    with pytest.raises(InvalidInput, match=r"scheduler 'ddim' does not apply to FluxPipeline"):
        run_generator(DiffusersImage(), small(tiny_flux, scheduler="ddim"))


def test_params__width_not_a_multiple_of_8_is_refused_with_its_value(tiny_sd: Path) -> None:
    with pytest.raises(InvalidInput) as info:
        DiffusersImage().parse_params(small(tiny_sd, width=500))
    assert "width must be a multiple of 8, got 500" in str(info.value)
    assert info.value.details[0]["field"] == "width"


def test_params__size_out_of_bounds_is_refused(tiny_sd: Path) -> None:
    with pytest.raises(InvalidInput, match="params.height"):
        DiffusersImage().parse_params(small(tiny_sd, height=4096))


def test_params__disallowed_model_names_the_allowed_set(
    monkeypatch: pytest.MonkeyPatch, image_models_dir: Path
) -> None:
    with pytest.raises(InvalidInput) as info:
        DiffusersImage().parse_params({"prompt": "x", "model": "someone/else"})
    assert "'someone/else' is not allowed" in str(info.value)
    assert str(image_models_dir) in str(info.value)

    monkeypatch.delenv("REEL_ALLOWED_MODELS")
    with pytest.raises(InvalidInput, match="stabilityai/stable-diffusion-xl-base-1.0"):
        DiffusersImage().parse_params({"prompt": "x", "model": str(image_models_dir)})
    assert DiffusersImage().parse_params({"prompt": "x"}).model == "stabilityai/stable-diffusion-xl-base-1.0"


def test_model_key__is_the_model_so_the_host_caches_per_model(tiny_sd: Path, tiny_sdxl: Path) -> None:
    gen = DiffusersImage()
    assert gen.model_key(gen.parse_params(small(tiny_sd))) == str(tiny_sd)
    assert gen.model_key(gen.parse_params(small(tiny_sdxl))) == str(tiny_sdxl)


def test_load__a_missing_directory_is_invalid_input(image_models_dir: Path) -> None:
    with pytest.raises(InvalidInput, match="not a directory"):
        DiffusersImage().load(str(image_models_dir / "absent"), "cpu")


def test_plugin__imports_without_torch() -> None:
    code = (
        "import sys, reel_image.plugin as p; gens = p.reel_generators(); "
        "[g.params_schema() for g in gens]; "
        "assert 'torch' not in sys.modules and 'diffusers' not in sys.modules, 'heavy import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plugin__is_registered_under_the_reel_entry_point() -> None:
    from importlib.metadata import entry_points

    names = {ep.name: ep.value for ep in entry_points(group="reel.plugins")}
    assert names.get("image") == "reel_image.plugin"


def test_generate_batch__one_pipeline_call_each_task_its_own_images_and_a_cancelled_one_alone(
    tiny_sd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = DiffusersImage()
    params = [gen.parse_params(small(tiny_sd, prompt=p, seed=s, num_images=2))
              for p, s in (("a red cat", 1), ("a blue dog", 2), ("a green owl", 3))]
    assert len({gen.batch_key(p) for p in params}) == 1
    assert gen.batch_key(gen.parse_params(small(tiny_sd, steps=3))) != gen.batch_key(params[0])
    for i in range(3):
        (tmp_path / str(i)).mkdir()
    ctxs = [RecordingContext(tmp_path / str(i), cancel_at_progress=2 if i == 1 else None)  # 1: cancelled mid-batch
            for i in range(3)]
    model = gen.load(gen.model_key(params[0]), "cpu")
    calls = []
    original = type(model.pipe).__call__
    monkeypatch.setattr(type(model.pipe), "__call__",
                        lambda self, **kw: calls.append(kw) or original(self, **kw))  # count the calls
    results = gen.generate_batch(model, params, ctxs)
    assert len(calls) == 1 and calls[0]["prompt"] == ["a red cat", "a blue dog", "a green owl"]
    assert type(results[1]).__name__ == "Cancelled"
    for index in (0, 2):
        outputs = results[index]
        assert isinstance(outputs, list) and len(outputs) == 2
        seeds = [json.loads(Image.open(o.path).text["reel"])["seed"] for o in outputs]
        assert seeds == [params[index].seed, params[index].seed + 1]
        assert json.loads(Image.open(outputs[0].path).text["reel"])["prompt"] == params[index].prompt
