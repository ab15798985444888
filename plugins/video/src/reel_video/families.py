"""The diffusers video families Reel knows: native sizes, frame and size rules, defaults.

Pure data and checks, no torch: the Params validators use them at submit time.
A family is recognised from a known model id, a local folder's ``model_index.json``
(its pipeline class name) or, failing both, from words in the model id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Orientation = Literal["portrait", "landscape"]


@dataclass(frozen=True)
class Family:
    """One text-to-video model family and the rules its pipeline needs.

    ``frame_step`` k means frame counts of the form ``k*n + 1``; ``size_multiple``
    is what width and height must be multiples of (VAE factor times patch size).
    """

    key: str
    title: str
    pipeline_class: str
    default_model: str
    known_models: tuple[str, ...]
    landscape: tuple[int, int]  # (width, height)
    size_multiple: int
    frame_step: int
    default_frames: int
    default_fps: int
    default_steps: int
    default_guidance: float
    half_dtype: str  # dtype on CUDA
    vram_gb: float  # published/estimated GPU memory for the default model, whole pipeline on the GPU
    id_words: tuple[str, ...] = field(default=())

    def size(self, orientation: Orientation) -> tuple[int, int]:
        """Native (width, height) for an orientation."""
        w, h = self.landscape
        return (w, h) if orientation == "landscape" else (h, w)

    def frames_rule(self) -> str:
        return f"{self.frame_step}k+1"

    def check_frames(self, num_frames: int) -> None:
        """Raise ValueError unless ``num_frames`` follows this family's ``k*n+1`` rule."""
        if (num_frames - 1) % self.frame_step:
            lower = (num_frames - 1) // self.frame_step * self.frame_step + 1
            raise ValueError(
                f"num_frames must be {self.frames_rule()} for {self.title} "
                f"(e.g. {lower} or {lower + self.frame_step}), got {num_frames}"
            )

    def check_side(self, name: str, value: int) -> None:
        """Raise ValueError unless ``value`` (width or height) is a multiple of ``size_multiple``."""
        if value % self.size_multiple:
            raise ValueError(
                f"{name} must be a multiple of {self.size_multiple} for {self.title}, got {value}"
            )


WAN = Family(
    key="wan",
    title="Wan 2.1",
    pipeline_class="WanPipeline",
    default_model="Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
    known_models=("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", "Wan-AI/Wan2.1-T2V-14B-Diffusers"),
    landscape=(832, 480),
    size_multiple=16,
    frame_step=4,
    default_frames=81,
    default_fps=16,
    default_steps=50,
    default_guidance=5.0,
    half_dtype="bfloat16",
    vram_gb=20,
    id_words=("wan2", "wan-"),
)
LTX = Family(
    key="ltx",
    title="LTX-Video",
    pipeline_class="LTXPipeline",
    default_model="Lightricks/LTX-Video",
    known_models=("Lightricks/LTX-Video",),
    landscape=(704, 480),
    size_multiple=32,
    frame_step=8,
    default_frames=121,
    default_fps=24,
    default_steps=50,
    default_guidance=3.0,
    half_dtype="bfloat16",
    vram_gb=16,
    id_words=("ltx",),
)
COGVIDEOX = Family(
    key="cogvideox",
    title="CogVideoX",
    pipeline_class="CogVideoXPipeline",
    default_model="THUDM/CogVideoX-2b",
    known_models=("THUDM/CogVideoX-2b", "THUDM/CogVideoX-5b", "zai-org/CogVideoX-2b", "zai-org/CogVideoX-5b"),
    landscape=(720, 480),
    size_multiple=16,
    frame_step=8,
    default_frames=49,
    default_fps=8,
    default_steps=50,
    default_guidance=6.0,
    half_dtype="float16",
    vram_gb=18,
    id_words=("cogvideox",),
)

FAMILIES: tuple[Family, ...] = (WAN, LTX, COGVIDEOX)
DEFAULT_MODELS: tuple[str, ...] = tuple(f.default_model for f in FAMILIES)
DEFAULT_MODEL = WAN.default_model


def family_for_pipeline(class_name: str) -> Family | None:
    """The family whose pipeline class is ``class_name`` (e.g. ``WanPipeline``)."""
    return next((f for f in FAMILIES if f.pipeline_class == class_name), None)


def local_pipeline_class(model: str) -> str | None:
    """The ``_class_name`` in a local folder's ``model_index.json``, if ``model`` is one."""
    index = Path(model).expanduser() / "model_index.json"
    try:
        return str(json.loads(index.read_text())["_class_name"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_local(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or Path(model).expanduser().is_dir()


def family_of(model: str) -> Family | None:
    """Guess the family of a model id or local folder without loading it (None if unknown)."""
    for fam in FAMILIES:
        if model in fam.known_models:
            return fam
    if is_local(model):
        cls = local_pipeline_class(model)
        return family_for_pipeline(cls) if cls else None
    lowered = model.lower().rsplit("/", 1)[-1]
    return next((f for f in FAMILIES if any(w in lowered for w in f.id_words)), None)
