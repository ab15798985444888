"""``audio.bark``: speech (and laughs, music, sounds) from text with transformers' Bark."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from reel_sdk import InvalidInput, Output, Requirements, RunContext
from reel_sdk.models import check_model_allowed
from reel_sdk.torch_support import translate_oom

from reel_audio.common import (
    MAX_SEED,
    LoadedAudio,
    Stage,
    TokenProgress,
    TransformersAudio,
    pick_seed,
    seeded,
    to_numpy,
    write_wav,
)

DEFAULT_MODEL = "suno/bark-small"
DEFAULT_MODELS = (DEFAULT_MODEL, "suno/bark")

LANGUAGES = ("en", "de", "es", "fr", "hi", "it", "ja", "ko", "pl", "pt", "ru", "tr", "zh")
# The presets suno publishes with its Bark checkpoints ("v2/en_speaker_0" ... "v2/zh_speaker_9").
VoicePreset = Literal[tuple(f"v2/{lang}_speaker_{n}" for lang in LANGUAGES for n in range(10))]  # type: ignore[valid-type]


class BarkParams(BaseModel):
    """What a Bark request may ask for."""

    model_config = ConfigDict(extra="forbid", title="Speech (Bark)")

    text: str = Field(
        min_length=1,
        max_length=1000,
        title="Text",
        description=("What to say. Bark speaks about 13 seconds per request; cues such as [laughs] or ♪ work too."),
    )
    voice_preset: VoicePreset | None = Field(  # type: ignore[valid-type]
        default=None,
        title="Voice",
        description="A speaker preset such as v2/en_speaker_6; empty lets Bark pick a random voice.",
    )
    model: str = Field(
        default=DEFAULT_MODEL,
        min_length=1,
        max_length=500,
        title="Model",
        description="A Bark checkpoint: Hugging Face id or local directory, bounded by REEL_ALLOWED_MODELS.",
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SEED,
        title="Seed",
        description="Random seed for a reproducible take; empty picks one at random.",
    )

    @field_validator("model")
    @classmethod
    def _model_is_allowed(cls, value: str) -> str:
        return check_model_allowed(value, DEFAULT_MODELS)


class LoadedBark(LoadedAudio):
    """Bark with its processor; knows its sample rate and voice presets."""

    @property
    def sample_rate(self) -> int:
        return int(self.model.generation_config.sample_rate)

    @property
    def voice_presets(self) -> list[str]:
        return list(getattr(self.processor, "available_voice_presets", None) or [])


class Bark(TransformersAudio):
    """Text to speech with Bark (suno/bark-small by default)."""

    name = "audio.bark"
    kind = "audio"
    Params = BarkParams
    # bark-small needs about 2 GB of GPU memory in fp16, full Bark about 4-5 GB (published figures).
    requirements = Requirements(gpu=False, min_vram_gb=2)
    title = "Speech (Bark)"
    description = "Speaks text in one of Bark's voices (or a random one); WAV at 24 kHz."
    default_models: ClassVar[tuple[str, ...]] = DEFAULT_MODELS
    model_class = "BarkModel"
    loaded_class = LoadedBark

    def generate(self, model: LoadedBark, params: BarkParams, ctx: RunContext) -> list[Output]:
        import torch

        # 1. A voice preset must exist for this checkpoint (tiny or offline ones may have none).
        if params.voice_preset and params.voice_preset not in model.voice_presets:
            available = ", ".join(model.voice_presets[:5]) or "none"
            message = (
                f"voice_preset {params.voice_preset!r} is not available for model {params.model!r} "
                f"(available: {available}{'...' if len(model.voice_presets) > 5 else ''})"
            )
            raise InvalidInput(message, details=[{"field": "voice_preset", "message": message}])

        # 2. Tokenize (the processor pads to Bark's fixed input length) and load the preset.
        ctx.progress(0.0, "tokenizing")
        inputs = model.processor(params.text, voice_preset=params.voice_preset, return_tensors="pt")
        inputs = _to_device(inputs, model.device)

        # 3. Generate semantic, coarse and fine tokens, each forward pass counted as progress.
        progress = _bark_progress(ctx, model.model)
        seed = pick_seed(params.seed)
        # The fine model's generate calls self.forward() directly, bypassing module hooks,
        # so its once-per-pass position embedding is counted instead.
        counted = {
            "semantic": model.model.semantic,
            "coarse": model.model.coarse_acoustics,
            "fine": model.model.fine_acoustics.position_embeds_layer,
        }
        with (
            translate_oom(),
            torch.inference_mode(),
            seeded(seed, model.device),
            progress.forward_hooks(counted),
        ):
            audio = model.model.generate(**inputs)

        # 4. Write the WAV at the model's sample rate.
        ctx.progress(0.97, "writing audio")
        path = ctx.workdir / "speech.wav"
        seconds = write_wav(path, to_numpy(audio[0]), model.sample_rate)
        metadata = {
            "generator": self.name,
            "model": params.model,
            "text": params.text,
            "voice_preset": params.voice_preset,
            "seed": seed,
            "sample_rate": model.sample_rate,
            "duration_s": round(seconds, 3),
        }
        ctx.progress(1.0, "done")
        return [Output(path=path, media_type="audio/wav", metadata=metadata)]


def _to_device(inputs: Any, device: str) -> dict[str, Any]:
    moved: dict[str, Any] = {}
    for key, value in dict(inputs).items():
        if key == "history_prompt" and value is not None:
            moved[key] = {k: v.to(device) for k, v in dict(value).items()}
        elif hasattr(value, "to"):
            moved[key] = value.to(device)
        else:
            moved[key] = value
    return moved


def _bark_progress(ctx: RunContext, bark: Any) -> TokenProgress:
    """Stages weighted by their usual share of the run; later lengths follow from earlier ones."""
    gen = bark.generation_config
    semantic_max = int(gen.semantic_config.get("max_new_tokens") or 768)
    coarse = gen.coarse_acoustics_config
    ratio = coarse.get("coarse_rate_hz", 75) / gen.semantic_config.get("semantic_rate_hz", 49.9)
    n_coarse = coarse.get("n_coarse_codebooks", 2)
    n_fine = gen.fine_acoustics_config.get("n_fine_codebooks", 8)

    progress: TokenProgress

    def size_stage(stage: str) -> None:
        # When a stage starts, size it from what the previous stage actually produced.
        if stage == "coarse":
            progress.expect("coarse", progress.counts["semantic"] * ratio * n_coarse)
        elif stage == "fine":
            frames = progress.stages["coarse"].expected / n_coarse
            loops = 1 + max(0, math.ceil((frames - 1024) / 512))
            progress.expect("fine", loops * (n_fine - n_coarse))

    progress = TokenProgress(
        ctx,
        [Stage("semantic", 0.35, semantic_max), Stage("coarse", 0.5, 1), Stage("fine", 0.15, 1)],
        on_stage_start=size_stage,
    )
    return progress
