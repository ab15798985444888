"""``image.diffusers``: text-to-image with any diffusers text-to-image pipeline.

torch and diffusers are imported inside :meth:`DiffusersImage.load` and
:meth:`DiffusersImage.generate`, so importing this module stays light.
"""

from __future__ import annotations

import inspect
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from reel_sdk import Generator, InvalidInput, Output, Requirements, RunContext
from reel_sdk.errors import Cancelled
from reel_sdk.loading import canonical_model, is_local_model, load_errors_translated
from reel_sdk.torch_support import (
    diffusers_batch_progress,
    diffusers_progress,
    free_device_memory,
    torch_dtype,
    translate_oom,
)

from reel_image.params import DEFAULT_MODELS, DiffusersImageParams

MEDIA_TYPES = {"png": "image/png", "webp": "image/webp"}

# Params.scheduler -> (diffusers class name, extra config).
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_ancestral": ("EulerAncestralDiscreteScheduler", {}),
    "ddim": ("DDIMScheduler", {}),
    "dpm++_2m": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "dpm++_2m_karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
    ),
    "unipc": ("UniPCMultistepScheduler", {}),
}


@dataclass
class LoadedPipeline:
    """What :meth:`DiffusersImage.load` returns and the host caches."""

    model_id: str
    pipe: Any
    default_scheduler: Any
    call_params: frozenset[str] = field(default_factory=frozenset)

    @property
    def pipeline_class(self) -> str:
        return type(self.pipe).__name__

    @property
    def size_multiple(self) -> int:
        """Pixel multiple the pipeline needs: 8 for SD/SDXL, 16 for FLUX (2x2-packed latents)."""
        processor = getattr(self.pipe, "image_processor", None)
        factor = getattr(getattr(processor, "config", None), "vae_scale_factor", None)
        return max(8, int(factor or 8))

    @property
    def flow_matching(self) -> bool:
        return type(self.default_scheduler).__name__.startswith("FlowMatch")


class DiffusersImage(Generator):
    """Text to image with Stable Diffusion 1.x/2.x, SDXL or FLUX pipelines."""

    name = "image.diffusers"
    kind = "image"
    Params = DiffusersImageParams
    # SDXL base in fp16 needs about 8-10 GB (published estimates); CPU works, slowly.
    requirements = Requirements(gpu=False, min_vram_gb=10)
    title = "Text to image (diffusers)"
    description = (
        "Makes images from a text prompt with a diffusers pipeline: Stable Diffusion 1.x/2.x, "
        "SDXL (the default) or FLUX, picked by model id or local directory. PNG or WebP."
    )
    default_models: ClassVar[tuple[str, ...]] = DEFAULT_MODELS

    def model_key(self, params: DiffusersImageParams) -> str:
        return canonical_model(params.model)

    def models(self) -> list[str]:
        return list(self.default_models)

    def load(self, model_key: str, device: str) -> LoadedPipeline:
        from diffusers import AutoPipelineForText2Image, DiffusionPipeline

        local = is_local_model(model_key)
        with load_errors_translated(model_key), translate_oom():
            # 1. Read model_index.json to pick the half-precision type: FLUX is trained in bfloat16.
            index = DiffusionPipeline.load_config(model_key, local_files_only=local)
            half = "bfloat16" if "Flux" in str(index.get("_class_name", "")) else "float16"
            # 2. Load through the same from_pretrained path real weights take; never remote code.
            dtype = {_dtype_keyword(): torch_dtype(device, half=half)}
            pipe = AutoPipelineForText2Image.from_pretrained(model_key, local_files_only=local, **dtype)
            pipe.to(device)
        pipe.set_progress_bar_config(disable=True)
        call_params = frozenset(inspect.signature(pipe.__call__).parameters)
        return LoadedPipeline(model_key, pipe, pipe.scheduler, call_params)

    def batch_key(self, params: DiffusersImageParams) -> str | None:
        """Prompts of the same model, size, steps, scheduler, guidance and image count share one call."""
        return json.dumps([canonical_model(params.model), params.width, params.height, params.steps,
                           params.scheduler, params.guidance, params.num_images, params.format])

    def generate_batch(
        self, model: LoadedPipeline, params_list: list[DiffusersImageParams], ctx_list: list[RunContext]
    ) -> list[list[Output] | BaseException]:
        import torch

        first = params_list[0]
        # 1. Checks, and one scheduler for the batch (the batch key makes them all alike).
        _check_size(model, first)
        model.pipe.scheduler = _make_scheduler(model, first.scheduler)

        # 2. One seeded generator per image, in the pipeline's order (each prompt's images together).
        seeds = []
        for params in params_list:
            seed = params.seed if params.seed is not None else secrets.randbelow(2**32)
            seeds.append([(seed + i) % 2**32 for i in range(params.num_images)])
        generators = [torch.Generator(device="cpu").manual_seed(s) for task_seeds in seeds for s in task_seeds]

        # 3. Denoise all prompts in one call; a cancelled task is dropped from the report, not the batch.
        for ctx in ctx_list:
            ctx.progress(0.0, f"encoding prompt (batch of {len(ctx_list)})")
        callback, cancelled = diffusers_batch_progress(ctx_list, first.steps, end=0.95)
        negatives = [p.negative_prompt or "" for p in params_list]
        kwargs: dict[str, Any] = {
            "prompt": [p.prompt for p in params_list],
            "negative_prompt": negatives if any(negatives) else None,
            "width": first.width,
            "height": first.height,
            "num_inference_steps": first.steps,
            "num_images_per_prompt": first.num_images,
            "generator": generators,
            "output_type": "pil",
            "callback_on_step_end": callback,
        }
        if first.guidance is not None:
            kwargs["guidance_scale"] = first.guidance
        kwargs = {k: v for k, v in kwargs.items() if k in model.call_params and v is not None}
        with translate_oom(), torch.inference_mode():
            images = model.pipe(**kwargs).images

        # 4. Each task's files, with the parameters that made them.
        results: list[list[Output] | BaseException] = []
        for index, (params, ctx, task_seeds) in enumerate(zip(params_list, ctx_list, seeds, strict=True)):
            if index in cancelled:
                results.append(Cancelled("the task was cancelled"))
                continue
            mine = images[index * first.num_images:(index + 1) * first.num_images]
            outputs = []
            for n, (image, image_seed) in enumerate(zip(mine, task_seeds, strict=True)):
                metadata = _metadata(model, params, image_seed, n, {**kwargs, "prompt": params.prompt})
                path = ctx.workdir / f"image-{n}.{params.format}"
                _save(image, path, params.format, metadata)
                outputs.append(Output(path=path, media_type=MEDIA_TYPES[params.format], metadata=metadata))
            ctx.progress(1.0, f"{len(outputs)} image(s) done")
            results.append(outputs)
        return results

    def unload(self, model: LoadedPipeline) -> None:
        model.pipe = None
        model.default_scheduler = None
        free_device_memory()

    def generate(self, model: LoadedPipeline, params: DiffusersImageParams, ctx: RunContext) -> list[Output]:
        import torch

        # 1. Check what only the loaded pipeline can tell: its size multiple and scheduler family.
        _check_size(model, params)
        model.pipe.scheduler = _make_scheduler(model, params.scheduler)

        # 2. One seeded generator per image, so each image can be reproduced alone.
        seed = params.seed if params.seed is not None else secrets.randbelow(2**32)
        seeds = [(seed + i) % 2**32 for i in range(params.num_images)]
        generators = [torch.Generator(device="cpu").manual_seed(s) for s in seeds]

        # 3. Denoise, reporting each step (and stopping there once cancelled).
        ctx.progress(0.0, "encoding prompt")
        kwargs: dict[str, Any] = {
            "prompt": params.prompt,
            "negative_prompt": params.negative_prompt or None,
            "width": params.width,
            "height": params.height,
            "num_inference_steps": params.steps,
            "num_images_per_prompt": params.num_images,
            "generator": generators,
            "output_type": "pil",
            "callback_on_step_end": diffusers_progress(ctx, params.steps, end=0.95),
        }
        if params.guidance is not None:
            kwargs["guidance_scale"] = params.guidance
        kwargs = {k: v for k, v in kwargs.items() if k in model.call_params and v is not None}
        with translate_oom(), torch.inference_mode():
            images = model.pipe(**kwargs).images

        # 4. Write the files with the parameters that made them.
        ctx.progress(0.97, "saving images")
        outputs = []
        for index, (image, image_seed) in enumerate(zip(images, seeds, strict=True)):
            metadata = _metadata(model, params, image_seed, index, kwargs)
            path = ctx.workdir / f"image-{index}.{params.format}"
            _save(image, path, params.format, metadata)
            outputs.append(Output(path=path, media_type=MEDIA_TYPES[params.format], metadata=metadata))
        ctx.progress(1.0, f"{len(outputs)} image(s) done")
        return outputs


def _dtype_keyword() -> str:
    """diffusers renamed ``torch_dtype`` to ``dtype`` (0.42 warns on the old name)."""
    import diffusers

    version = tuple(int(p) for p in diffusers.__version__.split(".")[:2] if p.isdigit())
    return "dtype" if version >= (0, 42) else "torch_dtype"


def _check_size(model: LoadedPipeline, params: DiffusersImageParams) -> None:
    multiple = model.size_multiple
    for name in ("width", "height"):
        value = getattr(params, name)
        if value % multiple:
            message = f"{name} must be a multiple of {multiple} for {model.pipeline_class}, got {value}"
            raise InvalidInput(message, details=[{"field": name, "message": message, "value": value}])


def _make_scheduler(model: LoadedPipeline, choice: str) -> Any:
    """A fresh scheduler per run (they keep state), built from the model's own config."""
    default = model.default_scheduler
    if choice == "default":
        return type(default).from_config(default.config)
    if model.flow_matching:
        message = (
            f"scheduler {choice!r} does not apply to {model.pipeline_class} (a flow-matching model); "
            "use 'default'"
        )
        raise InvalidInput(message, details=[{"field": "scheduler", "message": message, "value": choice}])
    import diffusers

    class_name, extra = SCHEDULERS[choice]
    return getattr(diffusers, class_name).from_config(default.config, **extra)


def _metadata(
    model: LoadedPipeline, params: DiffusersImageParams, seed: int, index: int, kwargs: dict[str, Any]
) -> dict[str, Any]:
    guidance = kwargs.get("guidance_scale")
    if guidance is None:
        default = inspect.signature(model.pipe.__call__).parameters.get("guidance_scale")
        guidance = default.default if default is not None else None
    return {
        "generator": DiffusersImage.name,
        "model": params.model,
        "pipeline": model.pipeline_class,
        "prompt": params.prompt,
        "negative_prompt": params.negative_prompt,
        "width": params.width,
        "height": params.height,
        "steps": params.steps,
        "guidance": guidance,
        "scheduler": type(model.pipe.scheduler).__name__,
        "scheduler_choice": params.scheduler,
        "seed": seed,
        "index": index,
        "format": params.format,
    }


def _save(image: Any, path: Path, fmt: str, metadata: dict[str, Any]) -> None:
    if fmt == "png":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text("reel", json.dumps(metadata))
        image.save(path, format="PNG", pnginfo=info)
    else:
        image.save(path, format="WEBP", quality=95)
