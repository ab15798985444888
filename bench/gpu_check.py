"""The GPU check: everything that needs an NVIDIA GPU, in one run that writes a JSON of figures.

    .venv/bin/python bench/gpu_check.py [--out gpu_check.json] [--device cuda] [--quick]

On a machine with an NVIDIA GPU (and a CUDA build of torch) it runs, in order:

1. the real NVML probe (what ``reel worker`` advertises);
2. every shipped generator on the device in its half-precision dtype, with tiny
   random-weight models built from configs (image SD, video Wan, audio Bark), each output
   checked for size and decodability;
3. out-of-memory recovery: with a model cached, memory is allocated until the device is
   full inside the generator's OOM translation (``OutOfMemory``, a transient error), the
   worker's model cache is emptied as the host does, and the task runs again;
4. the warm-cache ratio: a cached model's task time (``ModelCache.get`` + ``generate``)
   over the bare pipeline call with the same arguments (goal <= 1.05x);
5. the batching ratio: ``bench/batching.py`` with a full-size SD 1.5 UNet (random
   weights, nothing downloaded), batched x4 vs one by one.

It finishes in a few minutes and never downloads anything. ``--device cpu`` runs the same
code paths on the CPU (to check the script itself; the figures then mean little).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def step(name: str, figures: dict[str, Any]):  # type: ignore[no-untyped-def]
    """Run one check, recording its result or its error (a failed check does not stop the rest)."""
    def wrap(fn):  # type: ignore[no-untyped-def]
        started = time.monotonic()
        try:
            figures[name] = fn()
        except Exception as exc:
            figures[name] = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-2000:]}
        figures[name + "_seconds"] = round(time.monotonic() - started, 1)
        print(f"{name}: {json.dumps(figures[name], default=str)[:600]}", flush=True)
        return fn
    return wrap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")) / "gpu_check.json")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="skip the full-size UNet batching run")
    args = parser.parse_args()
    device = args.device if args.device == "cpu" else "cuda:0"
    tmp = Path(tempfile.mkdtemp(prefix="reel-gpu-check-"))
    os.environ["REEL_ALLOWED_MODELS"] = str(tmp)
    figures: dict[str, Any] = {"device": device}

    import torch

    figures["torch"] = torch.__version__
    figures["cuda_available"] = torch.cuda.is_available()

    @step("nvml_probe", figures)
    def _probe() -> Any:
        from reel_host.worker.gpus import probe_gpus

        return [g.to_dict() for g in probe_gpus()]

    from reel_sdk.testing import RecordingContext, run_generator

    def ctx(name: str) -> RecordingContext:
        (tmp / name).mkdir(exist_ok=True)
        return RecordingContext(tmp / name, device=device)

    @step("image_sd_fp16", figures)
    def _image() -> Any:
        from PIL import Image
        from reel_image.generator import DiffusersImage

        from tests.plugins.image.tiny import build_sd

        build_sd(tmp / "sd")
        outputs = run_generator(DiffusersImage(), {"prompt": "a lighthouse", "model": str(tmp / "sd"), "width": 64,
                                                  "height": 64, "steps": 2, "seed": 1}, context=ctx("img"))
        with Image.open(outputs[0].path) as image:
            return {"size": image.size, "format": image.format}

    @step("video_wan_fp16", figures)
    def _video() -> Any:
        import av
        from reel_video.diffusers_video import DiffusersVideo

        from tests.plugins.video.tiny import build_wan

        build_wan(tmp / "wan")
        outputs = run_generator(DiffusersVideo(), {"prompt": "waves", "model": str(tmp / "wan"), "width": 48,
                                                  "height": 32, "num_frames": 9, "fps": 8, "steps": 2, "seed": 0},
                                context=ctx("vid"))
        with av.open(str(outputs[0].path)) as container:
            frames = sum(1 for _ in container.decode(container.streams.video[0]))
        return {"frames": frames, "media_types": [o.media_type for o in outputs]}

    @step("audio_bark_fp16", figures)
    def _audio() -> Any:
        import wave

        from reel_audio.bark import Bark

        from tests.plugins.audio.tiny import build_bark

        build_bark(tmp / "bark")
        outputs = run_generator(Bark(), {"text": "hello", "model": str(tmp / "bark")}, context=ctx("aud"))
        with wave.open(str(outputs[0].path)) as w:
            return {"rate": w.getframerate(), "frames": w.getnframes()}

    @step("oom_recovery", figures)
    def _oom() -> Any:
        from reel_host.worker.model_cache import ModelCache
        from reel_image.generator import DiffusersImage
        from reel_sdk import OutOfMemory
        from reel_sdk.torch_support import translate_oom

        if not device.startswith("cuda"):
            return {"skipped": "needs a GPU"}
        gen, cache = DiffusersImage(), ModelCache(2)
        params = gen.parse_params({"prompt": "x", "model": str(tmp / "sd"), "width": 64, "height": 64, "steps": 2})
        cache.get(gen, gen.model_key(params), device)
        hog, raised = [], None
        try:
            with translate_oom():
                while True:
                    hog.append(torch.empty(1024**3, dtype=torch.uint8, device=device))
        except OutOfMemory as exc:
            raised = str(exc)[:200]
        allocated_gb = len(hog)
        hog.clear()
        cache.clear()  # what the host does on OutOfMemory before the retry
        torch.cuda.empty_cache()
        model = cache.get(gen, gen.model_key(params), device)
        outputs = gen.generate(model, params, ctx("oom"))
        return {"out_of_memory_raised": raised, "gb_allocated_before_oom": allocated_gb,
                "retry_succeeded": len(outputs) == 1}

    @step("warm_cache_ratio", figures)
    def _warm() -> Any:
        from reel_host.worker.model_cache import ModelCache
        from reel_image.generator import DiffusersImage

        gen, cache = DiffusersImage(), ModelCache(2)
        params = gen.parse_params({"prompt": "x", "model": str(tmp / "sd"), "width": 64, "height": 64,
                                   "steps": 4, "seed": 3})
        model = cache.get(gen, gen.model_key(params), device)
        gen.generate(model, params, ctx("warm0"))  # warm up
        task_times, bare_times = [], []
        for i in range(5):
            started = time.perf_counter()
            gen.generate(cache.get(gen, gen.model_key(params), device), params, ctx(f"warm{i}"))
            sync(torch, device)
            task_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            with torch.inference_mode():
                model.pipe(prompt="x", width=64, height=64, num_inference_steps=4,
                           generator=torch.Generator("cpu").manual_seed(3), output_type="pil")
            sync(torch, device)
            bare_times.append(time.perf_counter() - started)
        ratio = statistics.median(task_times) / statistics.median(bare_times)
        return {"task_s": statistics.median(task_times), "bare_s": statistics.median(bare_times),
                "ratio": round(ratio, 3), "goal": "<= 1.05"}

    @step("batching_ratio", figures)
    def _batching() -> Any:
        cmd = [sys.executable, str(ROOT / "bench" / "batching.py"), "--device", "cuda" if device != "cpu" else "cpu",
               "--tasks", "16", "--batch", "4", "--rounds", "3"]
        if not args.quick and device != "cpu":
            cmd += ["--full-unet", "--size", "512", "--steps", "10"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=420)
        lines = [line for line in out.stdout.splitlines() if line.startswith(("one by one", "batched", "ratio"))]
        return {"command": " ".join(cmd[1:]), "result": lines, "exit": out.returncode,
                "stderr": out.stderr[-800:] if out.returncode else ""}

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2, default=str))
    print(f"figures written to {args.out}")


def sync(torch: Any, device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
