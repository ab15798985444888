"""Parameters of the image generators (pydantic; their JSON Schema drives the CMS form)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from reel_sdk.models import check_model_allowed

DEFAULT_MODEL = "stabilityai/stable-diffusion-xl-base-1.0"
# Allowed when REEL_ALLOWED_MODELS is unset: one public model per supported family.
DEFAULT_MODELS = (
    DEFAULT_MODEL,
    "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "black-forest-labs/FLUX.1-schnell",
)

SIZE_MULTIPLE = 8
MAX_SEED = 2**32 - 1

Scheduler = Literal["default", "euler", "euler_ancestral", "ddim", "dpm++_2m", "dpm++_2m_karras", "unipc"]
ImageFormat = Literal["png", "webp"]


class DiffusersImageParams(BaseModel):
    """What a text-to-image request may ask for."""

    model_config = ConfigDict(extra="forbid", title="Text to image (diffusers)")

    prompt: str = Field(
        min_length=1, max_length=2000, title="Prompt", description="What the image should show."
    )
    negative_prompt: str = Field(
        default="",
        max_length=2000,
        title="Negative prompt",
        description="What the image should not show (ignored by pipelines without one, such as FLUX).",
    )
    model: str = Field(
        default=DEFAULT_MODEL,
        min_length=1,
        max_length=500,
        title="Model",
        description=(
            "A diffusers text-to-image pipeline: a Hugging Face model id or a local directory "
            "(Stable Diffusion 1.x/2.x, SDXL or FLUX). Bounded by the deployment's REEL_ALLOWED_MODELS."
        ),
    )
    width: int = Field(
        default=1024,
        ge=64,
        le=2048,
        title="Width",
        description="Image width in pixels, a multiple of 8 (16 for FLUX). SD 1.x is trained at 512.",
        json_schema_extra={"multipleOf": SIZE_MULTIPLE},
    )
    height: int = Field(
        default=1024,
        ge=64,
        le=2048,
        title="Height",
        description="Image height in pixels, a multiple of 8 (16 for FLUX). SD 1.x is trained at 512.",
        json_schema_extra={"multipleOf": SIZE_MULTIPLE},
    )
    steps: int = Field(
        default=30,
        ge=1,
        le=150,
        title="Steps",
        description="Denoising steps: more is slower and usually finer (FLUX.1-schnell needs about 4).",
    )
    guidance: float | None = Field(
        default=None,
        ge=0,
        le=30,
        title="Guidance scale",
        description=(
            "How closely to follow the prompt. Empty uses the pipeline's default "
            "(SD 7.5, SDXL 5.0, FLUX 3.5; FLUX.1-schnell ignores it)."
        ),
    )
    seed: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SEED,
        title="Seed",
        description="Random seed for reproducible images; image i uses seed + i. Empty picks one at random.",
    )
    num_images: int = Field(default=1, ge=1, le=4, title="Number of images", description="Images to make.")
    scheduler: Scheduler = Field(
        default="default",
        title="Scheduler",
        description=(
            "The sampler for Stable Diffusion and SDXL; 'default' keeps the model's own. "
            "Flow-matching models (FLUX) accept only 'default'."
        ),
    )
    format: ImageFormat = Field(default="png", title="Format", description="File format of the images.")

    @field_validator("model")
    @classmethod
    def _model_is_allowed(cls, value: str) -> str:
        return check_model_allowed(value, DEFAULT_MODELS)

    @field_validator("width", "height")
    @classmethod
    def _size_is_a_multiple_of_8(cls, value: int, info) -> int:  # type: ignore[no-untyped-def]
        if value % SIZE_MULTIPLE:
            raise ValueError(f"{info.field_name} must be a multiple of {SIZE_MULTIPLE}, got {value}")
        return value
