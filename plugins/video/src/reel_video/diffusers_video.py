"""``video.diffusers``: text-to-video with diffusers pipelines (Wan 2.1, LTX-Video, CogVideoX)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from reel_sdk import Generator, GeneratorError, InvalidInput, Output, Requirements, RunContext
from reel_sdk.models import check_model_allowed

from reel_video.families import (
    DEFAULT_MODEL,
    DEFAULT_MODELS,
    FAMILIES,
    WAN,
    Family,
    Orientation,
    family_for_pipeline,
    family_of,
    is_local,
)

ENCODE_SHARE = 0.1  # the last tenth of progress is decoding-to-file
CPU_OFFLOAD_ENV = "REEL_VIDEO_CPU_OFFLOAD"


class DiffusersVideoParams(BaseModel):
    """Parameters of ``video.diffusers``. Empty optional fields take the model family's native value."""

    model_config = ConfigDict(extra="forbid", title="Text to video (diffusers)")

    prompt: str = Field(title="Prompt", description="What the video shows.", min_length=1, max_length=2000)
    negative_prompt: str = Field(
        "", title="Negative prompt", description="What the video should avoid.", max_length=2000
    )
    model: str = Field(
        DEFAULT_MODEL,
        title="Model",
        description="A diffusers model id or local folder (Wan 2.1, LTX-Video or CogVideoX); "
        "the deployment's REEL_ALLOWED_MODELS decides which are accepted.",
        min_length=1,
        max_length=500,
    )
    orientation: Orientation = Field(
        "portrait",
        title="Orientation",
        description="portrait (taller than wide) or landscape, at the model family's native size "
        "(Wan 480x832, LTX-Video 480x704, CogVideoX 480x720).",
    )
    width: int | None = Field(
        None,
        title="Width",
        description="Override the width in pixels (Wan and CogVideoX: a multiple "
        "of 16, LTX-Video: of 32). Empty: from the orientation.",
        ge=16,
        le=2048,
    )
    height: int | None = Field(
        None,
        title="Height",
        description="Override the height in pixels (same multiples as width). Empty: from the orientation.",
        ge=16,
        le=2048,
    )
    num_frames: int | None = Field(
        None,
        title="Frames",
        description="Number of frames: Wan 4k+1 (default 81), LTX-Video 8k+1 "
        "(default 121), CogVideoX 8k+1 (default 49). Other counts are refused, not rounded.",
        ge=1,
        le=257,
    )
    fps: int | None = Field(
        None,
        title="Frames per second",
        description="Playback rate of the MP4 (Wan 16, LTX-Video 24, CogVideoX 8 by default).",
        ge=1,
        le=60,
    )
    steps: int | None = Field(
        None,
        title="Steps",
        description="Denoising steps (default 50; fewer is faster and rougher).",
        ge=1,
        le=200,
    )
    guidance: float | None = Field(
        None,
        title="Guidance",
        description="Classifier-free guidance scale (Wan 5, LTX-Video 3, "
        "CogVideoX 6 by default); 1 or less turns it off.",
        ge=0,
        le=30,
    )
    seed: int | None = Field(
        None,
        title="Seed",
        description="Random seed for a repeatable result; empty picks one "
        "(reported in the output's metadata).",
        ge=0,
        le=2**32 - 1,
    )

    @field_validator("model")
    @classmethod
    def _model_allowed(cls, value: str) -> str:
        return check_model_allowed(value, DEFAULT_MODELS)

    @field_validator("width", "height")
    @classmethod
    def _side_fits_family(cls, value: int | None, info: ValidationInfo) -> int | None:
        family = _family_in(info)
        if value is not None and family is not None:
            family.check_side(str(info.field_name), value)
        return value

    @field_validator("num_frames")
    @classmethod
    def _frames_fit_family(cls, value: int | None, info: ValidationInfo) -> int | None:
        family = _family_in(info)
        if value is not None and family is not None:
            family.check_frames(value)
        return value


def _family_in(info: ValidationInfo) -> Family | None:
    model = info.data.get("model")  # absent when the model itself was refused
    return family_of(model) if model else None


@dataclass
class LoadedPipeline:
    """What ``load`` returns and the host caches."""

    pipe: Any
    family: Family
    model: str


@dataclass(frozen=True)
class Plan:
    """Every value of one run, after family defaults are applied."""

    width: int
    height: int
    num_frames: int
    fps: int
    steps: int
    guidance: float
    seed: int


def plan_run(family: Family, params: DiffusersVideoParams) -> Plan:
    """Apply the family's defaults and rules to ``params``.

    Raises:
        InvalidInput: a size or frame count breaks the family's rules (named with its value).
    """
    width, height = family.size(params.orientation)
    width, height = params.width or width, params.height or height
    num_frames = params.num_frames or family.default_frames
    details = []
    checks = [("width", width, family.check_side), ("height", height, family.check_side)]
    for name, value, check in [*checks, ("num_frames", num_frames, lambda _, n: family.check_frames(n))]:
        try:
            check(name, value)
        except ValueError as exc:
            details.append({"field": name, "message": str(exc), "value": value})
    if details:
        raise InvalidInput(
            "; ".join(f"params.{d['field']}: {d['message']}" for d in details), details=details
        )
    return Plan(
        width=width,
        height=height,
        num_frames=num_frames,
        fps=params.fps or family.default_fps,
        steps=params.steps or family.default_steps,
        guidance=family.default_guidance if params.guidance is None else params.guidance,
        seed=secrets.randbelow(2**32) if params.seed is None else params.seed,
    )


def _dtype_kwarg() -> str:
    """``dtype`` where diffusers takes it (it deprecated ``torch_dtype``), else ``torch_dtype``."""
    from diffusers.utils import deprecation_utils

    return "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"


class DiffusersVideo(Generator):
    """Text-to-video with diffusers; MP4 (H.264) plus a PNG poster of the first frame."""

    name = "video.diffusers"
    kind = "video"
    Params = DiffusersVideoParams
    requirements = Requirements(gpu=False, min_vram_gb=WAN.vram_gb)
    title = "Text to video (diffusers)"
    description = (
        "Generates a short video from a prompt with Wan 2.1, LTX-Video or CogVideoX, portrait or "
        "landscape, encoded to MP4/H.264 with a poster image. Runs on CPU too, very slowly."
    )

    def model_key(self, params: DiffusersVideoParams) -> str:
        return params.model

    def models(self) -> list[str]:
        return list(DEFAULT_MODELS)

    def load(self, model_key: str, device: str) -> LoadedPipeline:
        import torch  # noqa: F401  (heavy imports stay inside load)
        from diffusers import DiffusionPipeline
        from reel_sdk.torch_support import torch_dtype, translate_oom

        guessed = family_of(model_key)
        local = is_local(model_key)
        dtype = torch_dtype(device, half=guessed.half_dtype if guessed else "bfloat16")
        with translate_oom():
            try:
                pipe = DiffusionPipeline.from_pretrained(
                    str(Path(model_key).expanduser()) if local else model_key,
                    **{_dtype_kwarg(): dtype},
                    local_files_only=local,
                    trust_remote_code=False,
                )
            except (OSError, ValueError) as exc:
                raise GeneratorError(
                    f"could not load model {model_key!r}: {exc}".splitlines()[0][:500]
                ) from exc
            family = family_for_pipeline(type(pipe).__name__)
            if family is None:
                supported = ", ".join(f.pipeline_class for f in FAMILIES)
                raise InvalidInput(
                    f"model {model_key!r} is a {type(pipe).__name__}; video.diffusers supports {supported}",
                    details=[{"field": "model", "message": "unsupported pipeline", "value": model_key}],
                )
            pipe.set_progress_bar_config(disable=True)
            if str(device).startswith("cuda") and os.environ.get(CPU_OFFLOAD_ENV, "").lower() in (
                "1",
                "true",
            ):
                pipe.enable_model_cpu_offload(device=device)
            else:
                pipe.to(device)
        return LoadedPipeline(pipe=pipe, family=family, model=model_key)

    def unload(self, model: LoadedPipeline) -> None:
        from reel_sdk.torch_support import free_device_memory

        model.pipe = None
        free_device_memory()

    def generate(self, model: LoadedPipeline, params: DiffusersVideoParams, ctx: RunContext) -> list[Output]:
        import torch
        from reel_sdk.torch_support import diffusers_progress, translate_oom

        from reel_video.encode import to_uint8_frames, write_mp4, write_poster

        # 1. Resolve sizes, frames and defaults for the loaded family (refuse, never snap).
        family = model.family
        plan = plan_run(family, params)
        ctx.log.info("video.diffusers %s %s", model.model, plan)
        ctx.progress(0.0, f"generating {plan.num_frames} frames at {plan.width}x{plan.height}")

        # 2. Denoise, reporting each step over the first 90% of progress.
        extra: dict[str, Any] = {}
        if family.key == "ltx":
            extra["frame_rate"] = plan.fps
        if family.key == "cogvideox":  # must equal the transformer's text length
            extra["max_sequence_length"] = model.pipe.transformer.config.max_text_seq_length
        with translate_oom():
            result = model.pipe(
                prompt=params.prompt,
                negative_prompt=params.negative_prompt or None,
                width=plan.width,
                height=plan.height,
                num_frames=plan.num_frames,
                num_inference_steps=plan.steps,
                guidance_scale=plan.guidance,
                generator=torch.Generator(device="cpu").manual_seed(plan.seed),
                output_type="np",
                callback_on_step_end=diffusers_progress(
                    ctx, plan.steps, end=1.0 - ENCODE_SHARE, message="denoising step"
                ),
                **extra,
            )
        frames = to_uint8_frames(result.frames[0])
        if frames.shape[0] != plan.num_frames:
            ctx.log.warning("pipeline returned %d frames, %d requested", frames.shape[0], plan.num_frames)

        # 3. Encode to MP4 and a poster.
        ctx.progress(1.0 - ENCODE_SHARE, "encoding MP4")
        video = write_mp4(frames, ctx.workdir / "video.mp4", plan.fps)
        poster = write_poster(frames[0], ctx.workdir / "poster.png")
        height, width = frames.shape[1:3]
        meta = {
            "frames": int(frames.shape[0]),
            "fps": plan.fps,
            "width": int(width),
            "height": int(height),
            "duration_s": round(frames.shape[0] / plan.fps, 3),
            "seed": plan.seed,
            "model": model.model,
            "family": family.key,
            "steps": plan.steps,
            "guidance": plan.guidance,
            "orientation": "portrait" if height > width else "landscape" if width > height else "square",
        }
        ctx.progress(1.0, "done")
        return [
            Output(path=video, media_type="video/mp4", name="video.mp4", metadata=meta),
            Output(
                path=poster,
                media_type="image/png",
                name="poster.png",
                metadata={"role": "poster", "width": int(width), "height": int(height), "seed": plan.seed},
            ),
        ]
