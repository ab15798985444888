from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import pytest
from reel_audio.bark import Bark
from reel_audio.musicgen import MusicGen
from reel_sdk import InvalidInput
from reel_sdk.testing import GeneratorContract, RecordingContext, run_generator


def read_wav(path: Path) -> tuple[int, int, int]:
    with wave.open(str(path)) as wav:
        return wav.getframerate(), wav.getnframes(), wav.getnchannels()


class TestBarkContract(GeneratorContract):
    @pytest.fixture(autouse=True)
    def _model(self, tiny_bark: Path) -> None:
        self.model_dir = tiny_bark

    def make_generator(self) -> Bark:
        return Bark()

    def dummy_params(self) -> dict[str, object]:
        return {"text": "hello world", "model": str(self.model_dir), "seed": 1}

    def check_outputs(self, outputs, params) -> None:  # type: ignore[no-untyped-def]
        rate, frames, channels = read_wav(outputs[0].path)
        assert (rate, channels) == (24000, 1)
        assert frames > 0


class TestMusicGenContract(GeneratorContract):
    @pytest.fixture(autouse=True)
    def _model(self, tiny_musicgen: Path) -> None:
        self.model_dir = tiny_musicgen

    def make_generator(self) -> MusicGen:
        return MusicGen()

    def dummy_params(self) -> dict[str, object]:
        return {"prompt": "a jazz tune", "duration_s": 0.5, "model": str(self.model_dir), "seed": 1}

    def check_outputs(self, outputs, params) -> None:  # type: ignore[no-untyped-def]
        rate, frames, _ = read_wav(outputs[0].path)
        assert rate == 32000
        assert frames > 0


def test_bark__writes_a_wav_at_the_model_rate_and_reports_each_stage(tiny_bark: Path, tmp_path: Path) -> None:
    ctx = RecordingContext(tmp_path / "first")
    params = {"text": "the cat sat", "model": str(tiny_bark), "seed": 3}

    outputs = run_generator(Bark(), params, context=ctx)

    rate, frames, _ = read_wav(outputs[0].path)
    assert rate == outputs[0].metadata["sample_rate"] == 24000
    assert frames > 0
    assert outputs[0].media_type == "audio/wav"
    assert outputs[0].metadata["seed"] == 3
    stages = {(e.message or "").split(" ")[0] for e in ctx.events}
    assert {"semantic", "coarse", "fine"} <= stages
    fractions = [e.fraction for e in ctx.events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    # The same seed gives the same take.
    again = run_generator(Bark(), params, workdir=tmp_path / "again")
    assert again[0].path.read_bytes() == outputs[0].path.read_bytes()


def test_bark__a_voice_preset_the_model_lacks_is_invalid_input(tiny_bark: Path) -> None:
    params = {"text": "hello", "model": str(tiny_bark), "voice_preset": "v2/en_speaker_6"}
    with pytest.raises(InvalidInput, match=r"voice_preset 'v2/en_speaker_6' is not available"):
        run_generator(Bark(), params)


def test_bark__an_unknown_voice_preset_is_refused_by_params(tiny_bark: Path) -> None:
    with pytest.raises(InvalidInput, match="params.voice_preset"):
        Bark().parse_params({"text": "hi", "model": str(tiny_bark), "voice_preset": "../../etc/passwd"})


def test_musicgen__duration_sets_the_length(tiny_musicgen: Path, tmp_path: Path) -> None:
    ctx = RecordingContext(tmp_path)
    params = {"prompt": "drums", "duration_s": 1.0, "model": str(tiny_musicgen), "seed": 2}

    outputs = run_generator(MusicGen(), params, context=ctx)

    rate, frames, _ = read_wav(outputs[0].path)
    assert rate == 32000
    assert 0.5 < frames / rate <= 1.2
    assert any((e.message or "").startswith("token 50/50") for e in ctx.events)


def test_musicgen__a_duration_beyond_the_model_is_invalid_input(tiny_musicgen: Path) -> None:
    params = {"prompt": "drums", "duration_s": 30, "model": str(tiny_musicgen)}
    with pytest.raises(InvalidInput, match=r"duration_s must be at most 10.24"):
        run_generator(MusicGen(), params)


@pytest.mark.parametrize(
    ("generator", "default"), [(Bark, "suno/bark-small"), (MusicGen, "facebook/musicgen-small")]
)
def test_params__disallowed_model_names_the_allowed_set(
    generator: type, default: str, monkeypatch: pytest.MonkeyPatch, audio_models_dir: Path
) -> None:
    field = "text" if generator is Bark else "prompt"
    with pytest.raises(InvalidInput) as info:
        generator().parse_params({field: "x", "model": "someone/else"})
    assert "'someone/else' is not allowed" in str(info.value)
    assert str(audio_models_dir) in str(info.value)

    monkeypatch.delenv("REEL_ALLOWED_MODELS")
    with pytest.raises(InvalidInput, match=default):
        generator().parse_params({field: "x", "model": str(audio_models_dir)})
    assert generator().parse_params({field: "x"}).model == default


def test_model_key__is_the_model(tiny_bark: Path, tiny_musicgen: Path) -> None:
    assert Bark().model_key(Bark().parse_params({"text": "x", "model": str(tiny_bark)})) == str(tiny_bark)
    mg = MusicGen().parse_params({"prompt": "x", "model": str(tiny_musicgen)})
    assert MusicGen().model_key(mg) == str(tiny_musicgen)


def test_plugin__imports_without_torch() -> None:
    code = (
        "import sys, reel_audio.plugin as p; gens = p.reel_generators(); "
        "[g.params_schema() for g in gens]; "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plugin__is_registered_under_the_reel_entry_point() -> None:
    from importlib.metadata import entry_points

    names = {ep.name: ep.value for ep in entry_points(group="reel.plugins")}
    assert names.get("audio") == "reel_audio.plugin"
