"""``audio.musicgen``: music from a text prompt with transformers' MusicGen."""

from __future__ import annotations

from typing import ClassVar

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

DEFAULT_MODEL = "facebook/musicgen-small"
DEFAULT_MODELS = (DEFAULT_MODEL, "facebook/musicgen-medium")
MAX_DURATION_S = 30.0


class MusicGenParams(BaseModel):
    """What a MusicGen request may ask for."""

    model_config = ConfigDict(extra="forbid", title="Music (MusicGen)")

    prompt: str = Field(
        min_length=1,
        max_length=1000,
        title="Prompt",
        description="The music to make, e.g. 'lo-fi hip hop with a mellow piano'.",
    )
    duration_s: float = Field(
        default=8.0,
        gt=0,
        le=MAX_DURATION_S,
        title="Duration (seconds)",
        description=f"Length of the clip, up to {MAX_DURATION_S:g} seconds.",
    )
    guidance: float = Field(
        default=3.0,
        ge=1.0,
        le=15.0,
        title="Guidance scale",
        description="How closely to follow the prompt (classifier-free guidance; 1 turns it off).",
    )
    model: str = Field(
        default=DEFAULT_MODEL,
        min_length=1,
        max_length=500,
        title="Model",
        description=("A MusicGen checkpoint: Hugging Face id or local directory, bounded by REEL_ALLOWED_MODELS."),
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SEED,
        title="Seed",
        description="Random seed for a reproducible clip; empty picks one at random.",
    )

    @field_validator("model")
    @classmethod
    def _model_is_allowed(cls, value: str) -> str:
        return check_model_allowed(value, DEFAULT_MODELS)


class LoadedMusicGen(LoadedAudio):
    """MusicGen with its processor; knows its rates and longest clip."""

    @property
    def sample_rate(self) -> int:
        return int(self.model.config.audio_encoder.sampling_rate)

    @property
    def frame_rate(self) -> int:
        return int(self.model.config.audio_encoder.frame_rate)

    @property
    def max_tokens(self) -> int:
        return int(self.model.config.decoder.max_position_embeddings)


class MusicGen(TransformersAudio):
    """Text to music with MusicGen (facebook/musicgen-small by default)."""

    name = "audio.musicgen"
    kind = "audio"
    Params = MusicGenParams
    # musicgen-small needs about 2-4 GB of GPU memory in fp16 (published estimates); medium about 8 GB.
    requirements = Requirements(gpu=False, min_vram_gb=4)
    title = "Music (MusicGen)"
    description = "Makes a music clip of the asked length from a text prompt; WAV at 32 kHz."
    default_models: ClassVar[tuple[str, ...]] = DEFAULT_MODELS
    model_class = "MusicgenForConditionalGeneration"
    loaded_class = LoadedMusicGen

    def generate(self, model: LoadedMusicGen, params: MusicGenParams, ctx: RunContext) -> list[Output]:
        import torch
        from transformers import LogitsProcessorList

        # 1. Duration -> audio frames (tokens), which the model's positions must fit.
        tokens = max(1, round(params.duration_s * model.frame_rate))
        if tokens > model.max_tokens:
            longest = model.max_tokens / model.frame_rate
            message = f"duration_s must be at most {longest:g} for model {params.model!r}, got {params.duration_s:g}"
            raise InvalidInput(message, details=[{"field": "duration_s", "message": message}])

        # 2. Encode the prompt.
        ctx.progress(0.0, "encoding prompt")
        inputs = model.processor(text=[params.prompt], padding=True, return_tensors="pt").to(model.device)

        # 3. Sample audio tokens, reporting each one.
        progress = TokenProgress(ctx, [Stage("token", 1.0, tokens)])
        seed = pick_seed(params.seed)
        with translate_oom(), torch.inference_mode(), seeded(seed, model.device):
            audio = model.model.generate(
                **inputs,
                do_sample=True,
                guidance_scale=params.guidance,
                max_new_tokens=tokens,
                logits_processor=LogitsProcessorList([progress.logits_processor("token")]),
            )

        # 4. Write the WAV at the audio codec's sample rate.
        ctx.progress(0.97, "writing audio")
        path = ctx.workdir / "music.wav"
        seconds = write_wav(path, to_numpy(audio[0, 0]), model.sample_rate)
        metadata = {
            "generator": self.name,
            "model": params.model,
            "prompt": params.prompt,
            "duration_s": round(seconds, 3),
            "requested_duration_s": params.duration_s,
            "guidance": params.guidance,
            "seed": seed,
            "sample_rate": model.sample_rate,
        }
        ctx.progress(1.0, "done")
        return [Output(path=path, media_type="audio/wav", metadata=metadata)]
